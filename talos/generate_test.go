package talos

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	yamlv3 "gopkg.in/yaml.v3"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/config/configtest"
	"github.com/talos-aws/talos-aws/internal/ports"
)

// v1alpha1 returns the v1alpha1 document of a rendered multi-document config.
func v1alpha1(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := yamlv3.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			t.Fatal("no v1alpha1 document")
		}
		if err != nil {
			t.Fatal(err)
		}
		if doc["version"] == "v1alpha1" {
			return doc
		}
	}
}

func get(t *testing.T, doc map[string]any, path string) any {
	t.Helper()
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not a map", path, k)
		}
		cur = m[k]
	}
	return cur
}

const (
	intDNS = "talos-aws-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com"
	pubDNS = "talos-aws-pub-0123456789abcdef.elb.ap-southeast-1.amazonaws.com"
)

// Each role's configuration is generated exactly as the provider does it,
// loaded and validated by Talos' own machinery for a cloud node, and must
// keep every field the cluster relies on.
func TestMachineConfigsValidateWithTalos(t *testing.T) {
	cfg := configtest.Parse(t, map[string]string{
		"workerPools": `[
			{"name":"general","instanceTypes":["m7i.large"]},
			{"name":"arm-spot","arch":"arm64","instanceTypes":["m7g.large","m6g.large"],"spot":true,
			 "labels":{"workload":"batch"},"taints":[{"key":"spot","value":"true","effect":"NoSchedule"}],
			 "configPatches":["machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n"]}]`,
	})
	secrets, err := NewSecretsBundle(cfg.TalosVersion)
	if err != nil {
		t.Fatal(err)
	}
	in := PatchInputFor(cfg, []string{intDNS, pubDNS})
	type role struct {
		name    string
		typ     machine.Type
		patches []string
		pool    *config.WorkerPool
	}
	cp, err := ControlPlanePatches(in)
	if err != nil {
		t.Fatal(err)
	}
	roles := []role{{"controlplane", machine.TypeControlPlane, cp, nil}}
	for i := range cfg.WorkerPools {
		p, err := WorkerPatches(in, cfg.WorkerPools[i], Image{})
		if err != nil {
			t.Fatal(err)
		}
		roles = append(roles, role{"pool " + cfg.WorkerPools[i].Name, machine.TypeWorker, p, &cfg.WorkerPools[i]})
	}
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS),
				KubernetesVersion: cfg.KubernetesVersion, TalosVersion: cfg.TalosVersion, Type: r.typ, Patches: r.patches, Secrets: secrets})
			if err != nil {
				t.Fatal(err)
			}
			warnings, err := ValidateMachineConfig(b)
			if err != nil {
				t.Fatalf("Talos rejects the %s config: %v", r.name, err)
			}
			t.Logf("%s: %d bytes of user data (limit %d), warnings: %v", r.name, len(b), MaxUserDataBytes, warnings)
			if len(b) > MaxUserDataBytes {
				t.Errorf("%d bytes > %d", len(b), MaxUserDataBytes)
			}
			if bytes.Contains(b, []byte("# ")) {
				t.Error("docs/examples must be off: comments found")
			}
			doc := v1alpha1(t, b)
			want := map[string]any{
				"cluster.controlPlane.endpoint":                        "https://" + intDNS + ":6443",
				"cluster.network.cni.name":                             "none",
				"cluster.proxy.disabled":                               true,
				"cluster.externalCloudProvider.enabled":                true,
				"machine.kubelet.extraArgs.rotate-server-certificates": "true",
				"machine.kubelet.registerWithFQDN":                     true,
				"machine.features.kubePrism.enabled":                   true,
				"machine.features.kubePrism.port":                      ports.KubePrism,
				"machine.features.hostDNS.enabled":                     true,
				"machine.features.hostDNS.forwardKubeDNSToHost":        false,
				"machine.time.servers":                                 []any{AmazonTimeSync},
				"machine.certSANs":                                     []any{intDNS, pubDNS},
				"cluster.network.podSubnets":                           []any{"10.244.0.0/16"},
				"cluster.network.serviceSubnets":                       []any{"10.96.0.0/12"},
			}
			if r.typ == machine.TypeControlPlane {
				want["cluster.apiServer.certSANs"] = []any{intDNS, pubDNS}
				want["machine.features.kubernetesTalosAPIAccess.enabled"] = true
				want["machine.features.kubernetesTalosAPIAccess.allowedRoles"] = []any{"os:reader"}
				want["machine.features.kubernetesTalosAPIAccess.allowedKubernetesNamespaces"] = []any{"kube-system"}
				want["machine.type"] = "controlplane"
			} else {
				want["machine.type"] = "worker"
				want["machine.nodeLabels.node.talos-aws.io/pool"] = r.pool.Name
			}
			if r.pool != nil && r.pool.Name == "arm-spot" {
				want["machine.nodeLabels.workload"] = "batch"
				// Worker taints are registered by the kubelet, never
				// applied as nodeTaints (NodeRestriction refuses those).
				want["machine.kubelet.extraConfig.registerWithTaints"] = []any{map[string]any{"key": "spot", "value": "true", "effect": "NoSchedule"}}
				if m, _ := doc["machine"].(map[string]any); m["nodeTaints"] != nil {
					t.Errorf("nodeTaints set: %v", m["nodeTaints"])
				}
				want["machine.sysctls.vm.max_map_count"] = "262144"
			}
			for path, v := range want {
				var got any
				if strings.HasPrefix(path, "machine.nodeLabels.") || strings.HasPrefix(path, "machine.nodeTaints.") || strings.HasPrefix(path, "machine.sysctls.") {
					parts := strings.SplitN(path, ".", 3)
					m, _ := get(t, doc, parts[0]+"."+parts[1]).(map[string]any)
					got = m[parts[2]]
				} else {
					got = get(t, doc, path)
				}
				if !reflect.DeepEqual(got, v) {
					t.Errorf("%s = %#v, want %#v", path, got, v)
				}
			}
		})
	}
}

// A patch that parses but that Talos rejects fails the same machinery
// validation, before any resource exists, naming the pool.
func TestRejectedPatchNamesPool(t *testing.T) {
	cfg := configtest.Parse(t, map[string]string{
		"workerPools": `[{"name":"bad","instanceTypes":["m7i.large"],"configPatches":["machine:\n  kubelet:\n    nodeIP:\n      validSubnets: [\"not-a-cidr\"]\n"]}]`,
	})
	err := CheckUserData(cfg)
	if err == nil || !strings.Contains(err.Error(), `workerPools[0].configPatches[0]: Invalid value: Talos rejects the worker pool "bad" machine configuration`) {
		t.Fatalf("want rejection naming the patch's element, got %v", err)
	}
}

// The rejected patch is named by the index the user wrote, even when an
// earlier patch was refused at validation and left out of the render.
func TestRejectedPatchNamesItsElement(t *testing.T) {
	good := `"machine:\n  kubelet:\n    extraArgs:\n      v: \"2\"\n"`
	owned := `"machine:\n  type: controlplane\n"`
	bad := `"machine:\n  kubelet:\n    nodeIP:\n      validSubnets: [\"not-a-cidr\"]\n"`
	cfg, _, err := config.Parse(config.MapSource(map[string]string{"adminCidrs": `["203.0.113.10/32"]`,
		"workerPools": `[{"name":"p","instanceTypes":["m7i.large"],"configPatches":[` + good + `,` + owned + `,` + good + `,` + bad + `]}]`}))
	var ve *config.ValidationError
	if !errors.As(err, &ve) || !ve.Errors.Has("workerPools[0].configPatches[1]") {
		t.Fatalf("the owned field must be refused at validation: %v", err)
	}
	errs := CheckUserDataErrors(cfg.Renderable(ve.Errors))
	if msg := strings.Join(errs.Strings(), "\n"); len(errs) != 1 || !strings.Contains(msg, "workerPools[0].configPatches[3]: Invalid value: Talos rejects") {
		t.Fatalf("want the rejection at configPatches[3], got:\n%s", msg)
	}
}

func TestOversizeUserDataNamesPool(t *testing.T) {
	big := "machine:\n  files:\n    - op: create\n      path: /var/etc/big\n      permissions: 0o644\n      content: " + strings.Repeat("x", MaxUserDataBytes) + "\n"
	cfg := configtest.Parse(t, map[string]string{
		"workerPools": `[{"name":"ok","instanceTypes":["m7i.large"]},{"name":"huge","instanceTypes":["m7i.large"],"configPatches":[` + quoteJSON(big) + `]}]`,
	})
	err := CheckUserData(cfg)
	if err == nil || !strings.Contains(err.Error(), "workerPools[1].configPatches: Too long") {
		t.Fatalf("want size error naming pool huge, got %v", err)
	}
	if strings.Contains(err.Error(), "workerPools[0]") {
		t.Errorf("pool ok fits and must not be named: %v", err)
	}
}

func TestDefaultUserDataFits(t *testing.T) {
	sizes, err := EstimateUserData(configtest.Parse(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sizes {
		t.Logf("%s: %d bytes", s.Path, s.Bytes)
		if s.Bytes > MaxUserDataBytes-sizeMargin {
			t.Errorf("%s: %d bytes does not fit", s.Path, s.Bytes)
		}
	}
}

func quoteJSON(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// machine.install.image follows talosVersion from 1.13; a 1.12 stack keeps
// the provider's v1.12.0, whatever its patch (its user data must not move).
func TestInstallerImage(t *testing.T) {
	for v, want := range map[string]string{
		"v1.12.11": "ghcr.io/siderolabs/installer:v1.12.0",
		"v1.12.12": "ghcr.io/siderolabs/installer:v1.12.0",
		"v1.13.13": "ghcr.io/siderolabs/installer:v1.13.13",
		"v1.13.9":  "ghcr.io/siderolabs/installer:v1.13.9",
	} {
		kv := map[string]string{"talosVersion": v, "kubernetesVersion": "1.35.10"}
		cfg := configtest.Parse(t, kv)
		secrets, err := NewSecretsBundle(v)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS), KubernetesVersion: cfg.KubernetesVersion,
			TalosVersion: v, Type: machine.TypeWorker, Secrets: secrets})
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, v1alpha1(t, b), "machine.install.image"); got != want {
			t.Errorf("%s: machine.install.image %v, want %s", v, got, want)
		}
	}
}
