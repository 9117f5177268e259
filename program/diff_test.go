package program

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/talos-aws/talos-aws/testkit"
)

// graph evaluates the program and returns every resource's inputs as JSON,
// minus the fields the resource itself ignores changes to (what the engine
// would diff), keyed by type and name.
func graph(t *testing.T, cfg map[string]string) map[string]string {
	t.Helper()
	return graphOf(t, &testkit.Mocks{ControlPlaneInstances: cpInstances()}, cfg)
}

func graphOf(t *testing.T, m *testkit.Mocks, cfg map[string]string) map[string]string {
	t.Helper()
	if _, err := testkit.Run(t, m, cfg, program); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range m.Resources {
		in := r.Inputs.Copy()
		for _, k := range r.IgnoreChanges {
			delete(in, resource.PropertyKey(k))
		}
		b, err := json.Marshal(in.Mappable())
		if err != nil {
			t.Fatal(err)
		}
		out[r.Type+"::"+r.Name] = string(b)
	}
	return out
}

func changed(a, b map[string]string) []string {
	var out []string
	for k := range maps.Keys(a) {
		if a[k] != b[k] {
			out = append(out, k)
		}
	}
	for k := range maps.Keys(b) {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// A re-run with no config change must be a no-op: byte-identical inputs.
func TestReRunIsNoOp(t *testing.T) {
	a, b := graph(t, haConfig(t)), graph(t, haConfig(t))
	if c := changed(a, b); len(c) > 0 {
		t.Errorf("same config, different inputs: %v", c)
	}
}

// Changing only versions, a pool's shape or the nodes' extensions touches
// launch templates, ASGs and what they carry, never the secrets, the
// bootstrap, the network or the load balancers; a Kubernetes minor also
// moves the add-ons released per minor (the cloud controller manager and
// the cluster autoscaler), and a new GPU pool the NVIDIA add-ons, and
// nothing else. The base is an existing stack on Talos 1.12 (what its last
// `up` recorded), as every stack was before Talos 1.13.
func TestUpgradesTouchOnlyNodes(t *testing.T) {
	base := haConfig(t)
	base["talosVersion"], base["kubernetesVersion"] = "v1.12.11", "1.35.10"
	variants := map[string]func(map[string]string){
		"talosVersion patch":      func(c map[string]string) { c["talosVersion"] = "v1.12.10" },
		"talosVersion 1.12->1.13": func(c map[string]string) { c["talosVersion"] = "v1.13.13" },
		"kubernetesVersion patch": func(c map[string]string) { c["kubernetesVersion"] = "1.35.9" },
		"kubernetesVersion minor on Talos 1.13": func(c map[string]string) {
			c["talosVersion"], c["kubernetesVersion"] = "v1.13.13", "1.36.3"
		},
		"pool instance type": func(c map[string]string) {
			c["workerPools"] = strings.Replace(c["workerPools"], `"m7i.large","m6i.large"`, `"m7i.xlarge","m6i.xlarge"`, 1)
		},
		"pool size": func(c map[string]string) {
			c["workerPools"] = strings.Replace(c["workerPools"], `"maxSize":9`, `"maxSize":12`, 1)
		},
		// Extensions: a new AMI and installer, rolled like a Talos upgrade.
		"pool extensions": func(c map[string]string) {
			c["workerPools"] = strings.Replace(c["workerPools"], `"name":"arm-spot",`, `"name":"arm-spot","image":{"extensions":["siderolabs/iscsi-tools"]},`, 1)
		},
		"cluster extensions": func(c map[string]string) {
			c["image"] = `{"extensions":["siderolabs/iscsi-tools"],"extraKernelArgs":["net.ifnames=0"]}`
		},
		// The GPU set changes: the pool rolls onto NVIDIA's AMI and the
		// cluster gets the Talos version's NVIDIA add-ons.
		"pool becomes a GPU pool": func(c map[string]string) {
			c["workerPools"] = strings.Replace(c["workerPools"], `"instanceTypes":["m7i.large","m6i.large"]`,
				`"instanceTypes":["g5.xlarge"],"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules-lts","siderolabs/nvidia-container-toolkit-lts"]}`, 1)
		},
	}
	// The pre-change etcd snapshot (a lambda.Invocation) re-runs when the
	// control plane changes, and only then.
	const preChange = "aws:lambda/invocation:Invocation::etcd-guard-pre-change"
	allowed := []string{"aws:ec2/launchTemplate:LaunchTemplate", "aws:autoscaling/group:Group", "aws:lambda/invocation:Invocation"}
	perMinor := []string{"kubernetes:helm.sh/v3:Release::addons-ccm", "kubernetes:helm.sh/v3:Release::addons-cluster-autoscaler"}
	// Talos 1.12's NVIDIA add-ons, which follow the GPU pools.
	nvidia := []string{"kubernetes:helm.sh/v3:Release::addons-nvidia-device-plugin", "kubernetes:node.k8s.io/v1:RuntimeClass::addons-nvidia-runtimeclass"}
	last := legacyLastUp(base)
	before := graphAfter(t, base, last)
	for name, mutate := range variants {
		t.Run(name, func(t *testing.T) {
			cfg := maps.Clone(base)
			mutate(cfg)
			if maps.Equal(cfg, base) {
				t.Fatal("variant changed nothing")
			}
			diff := changed(before, graphAfter(t, cfg, last))
			if len(diff) == 0 {
				t.Fatal("no resource changed")
			}
			minor := strings.Contains(name, "minor")
			gpu := strings.Contains(name, "GPU")
			for _, k := range diff {
				perMinorChange := minor && slices.Contains(perMinor, k)
				gpuChange := gpu && slices.Contains(nvidia, k)
				if !slices.Contains(allowed, k[:strings.Index(k, "::")]) && !perMinorChange && !gpuChange {
					t.Errorf("%s changed", k)
				}
			}
			for _, k := range nvidia {
				if gpu && !slices.Contains(diff, k) {
					t.Errorf("%s did not follow the new GPU pool", k)
				}
			}
			for _, k := range perMinor {
				if minor && !slices.Contains(diff, k) {
					t.Errorf("%s kept its release across a Kubernetes minor", k)
				}
			}
			if cpChange := !strings.HasPrefix(name, "pool"); slices.Contains(diff, preChange) != cpChange {
				t.Errorf("control plane changes: %v, pre-change snapshot re-runs: %v", cpChange, !cpChange)
			}
			t.Logf("changed: %v", diff)
		})
	}
}

// legacyLastUp is what a stack deployed by the release before this one
// shows the program as its last outputs: no recorded versions or issuers.
func legacyLastUp(cfg map[string]string) map[string]any {
	name := cfg["clusterName"]
	if name == "" {
		name = "talos-aws"
	}
	out := map[string]any{"clusterEndpoint": "https://" + name + "-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com:6443"}
	if cfg["workloadIdentity"] != "false" {
		out["oidcIssuerUrl"] = "https://" + testkit.IssuerHost
	}
	return out
}

// graphAfter is graph for a stack whose last `up` recorded last.
func graphAfter(t *testing.T, cfg map[string]string, last map[string]any) map[string]string {
	t.Helper()
	return graphOf(t, &testkit.Mocks{ControlPlaneInstances: cpInstances(), LastUp: last}, cfg)
}

// A version change says what rolls and restarts, in preview and up; an
// unchanged stack says nothing.
func TestPreviewSaysWhatRolls(t *testing.T) {
	base := haConfig(t)
	base["talosVersion"], base["kubernetesVersion"] = "v1.13.13", "1.36.3"
	last := map[string]any{"clusterEndpoint": "https://prod-int:6443", "talosVersion": "v1.12.11", "kubernetesVersion": "1.35.10"}
	m := &testkit.Mocks{ControlPlaneInstances: cpInstances(), LastUp: last, DryRun: true}
	evaluate(t, m, base)
	logs := strings.Join(m.Logs, "\n")
	for _, want := range []string{
		"talosVersion v1.12.11 -> v1.13.13: every node boots the new AMI and its machine configuration names the installer ghcr.io/siderolabs/installer:v1.13.13",
		"kubernetesVersion 1.35.10 -> 1.36.3", "the cloud controller manager (v1.35.0 -> v1.36.1) and the cluster autoscaler",
		"talosctl upgrade-k8s --to 1.36.3",
		"Rolls: the control plane first, 3 node(s) one at a time", "then the worker pools (general, arm-spot)",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the preview does not say %q:\n%s", want, logs)
		}
	}
	last["talosVersion"], last["kubernetesVersion"] = "v1.13.13", "1.36.3"
	m = &testkit.Mocks{ControlPlaneInstances: cpInstances(), LastUp: last, DryRun: true}
	evaluate(t, m, base)
	for _, l := range m.Logs {
		if strings.Contains(l, "Rolls:") || strings.Contains(l, " -> ") {
			t.Errorf("an unchanged stack says %q", l)
		}
	}
}
