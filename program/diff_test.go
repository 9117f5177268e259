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
	m := &testkit.Mocks{ControlPlaneInstances: cpInstances()}
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

// Changing only versions or a pool's shape touches launch templates, ASGs
// and what they carry, never the secrets, the bootstrap, the network or the
// load balancers.
func TestUpgradesTouchOnlyNodes(t *testing.T) {
	base := haConfig(t)
	variants := map[string]func(map[string]string){
		"talosVersion":      func(c map[string]string) { c["talosVersion"] = "v1.12.10" },
		"kubernetesVersion": func(c map[string]string) { c["kubernetesVersion"] = "1.35.9" },
		"pool instance type": func(c map[string]string) {
			c["workerPools"] = strings.Replace(c["workerPools"], `"m7i.large","m6i.large"`, `"m7i.xlarge","m6i.xlarge"`, 1)
		},
		"pool size": func(c map[string]string) {
			c["workerPools"] = strings.Replace(c["workerPools"], `"maxSize":9`, `"maxSize":12`, 1)
		},
	}
	// The pre-change etcd snapshot (a lambda.Invocation) re-runs when the
	// control plane changes, and only then.
	const preChange = "aws:lambda/invocation:Invocation::etcd-guard-pre-change"
	allowed := []string{"aws:ec2/launchTemplate:LaunchTemplate", "aws:autoscaling/group:Group", "aws:lambda/invocation:Invocation"}
	before := graph(t, base)
	for name, mutate := range variants {
		t.Run(name, func(t *testing.T) {
			cfg := maps.Clone(base)
			mutate(cfg)
			if maps.Equal(cfg, base) {
				t.Fatal("variant changed nothing")
			}
			diff := changed(before, graph(t, cfg))
			if len(diff) == 0 {
				t.Fatal("no resource changed")
			}
			for _, k := range diff {
				if !slices.Contains(allowed, k[:strings.Index(k, "::")]) {
					t.Errorf("%s changed", k)
				}
			}
			if cpChange := !strings.HasPrefix(name, "pool"); slices.Contains(diff, preChange) != cpChange {
				t.Errorf("control plane changes: %v, pre-change snapshot re-runs: %v", cpChange, !cpChange)
			}
			t.Logf("changed: %v", diff)
		})
	}
}
