package talos

import (
	"slices"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	machinerykubelet "github.com/siderolabs/talos/pkg/machinery/kubelet"

	"github.com/talos-aws/talos-aws/config/configtest"
)

// Worker taints are rendered into the kubelet's registerWithTaints and
// nowhere else; both effects of one key are kept, in order; labels stay in
// nodeLabels with the pool label. Talos copies extraConfig into the
// KubeletConfiguration unless a field is protected (kubelet_spec.go,
// prepareExtraConfig, v1.12.0); registerWithTaints is not.
func TestWorkerTaintsRegisterWithKubelet(t *testing.T) {
	cfg := configtest.Parse(t, map[string]string{"workerPools": `[{"name":"gpu","instanceTypes":["g5.xlarge"],"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules-lts","siderolabs/nvidia-container-toolkit-lts"]},
		"labels":{"example.com/team":"ml"},
		"taints":[{"key":"dedicated","value":"ml","effect":"NoSchedule"},{"key":"dedicated","value":"ml","effect":"NoExecute"},{"key":"a","effect":"PreferNoSchedule"}]},
		{"name":"general","instanceTypes":["m7i.large"]}]`})
	secrets, err := NewSecretsBundle(cfg.TalosVersion)
	if err != nil {
		t.Fatal(err)
	}
	img := PoolImage(cfg, cfg.WorkerPools[0])
	patches, err := WorkerPatches(PatchInputFor(cfg, []string{intDNS, pubDNS}), cfg.WorkerPools[0], img)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS), KubernetesVersion: cfg.KubernetesVersion,
		TalosVersion: cfg.TalosVersion, Type: machine.TypeWorker, Patches: patches, Secrets: secrets, InstallImage: img.Installer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ValidateMachineConfig(b); err != nil {
		t.Fatal(err)
	}
	p, err := configloader.NewFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Machine().NodeTaints(); len(n) != 0 {
		t.Errorf("nodeTaints = %v; NodeRestriction refuses a kubelet's taint changes", n)
	}
	extra := p.Machine().Kubelet().ExtraConfig()
	for field := range extra {
		if slices.Contains(machinerykubelet.ProtectedConfigurationFields, field) {
			t.Errorf("extraConfig.%s is protected: Talos would refuse it", field)
		}
	}
	got, _ := extra["registerWithTaints"].([]any)
	want := [][3]string{{"dedicated", "ml", "NoSchedule"}, {"dedicated", "ml", "NoExecute"}, {"a", "", "PreferNoSchedule"}}
	if len(got) != len(want) {
		t.Fatalf("registerWithTaints = %v", got)
	}
	for i, w := range want {
		m, _ := got[i].(map[string]any)
		v, _ := m["value"].(string)
		if m["key"] != w[0] || v != w[1] || m["effect"] != w[2] {
			t.Errorf("registerWithTaints[%d] = %v, want %v", i, m, w)
		}
	}
	labels := p.Machine().NodeLabels()
	if labels["example.com/team"] != "ml" || labels["node.talos-aws.io/pool"] != "gpu" {
		t.Errorf("nodeLabels = %v", labels)
	}
}

// Why config rejects every JSON6902 patch: the 1.12 and 1.13 contracts
// render a multi-document configuration, which the pinned machinery
// refuses to JSON-patch.
func TestJSON6902OnlyOnSingleDocumentConfigs(t *testing.T) {
	for _, tc := range []struct {
		version string
		multi   bool
	}{{"v1.12.11", true}, {"v1.13.13", true}} {
		t.Run(tc.version, func(t *testing.T) {
			cfg := configtest.Parse(t, map[string]string{"talosVersion": tc.version, "kubernetesVersion": "1.32.0"})
			secrets, err := NewSecretsBundle(tc.version)
			if err != nil {
				t.Fatal(err)
			}
			in := RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS), KubernetesVersion: cfg.KubernetesVersion,
				TalosVersion: tc.version, Type: machine.TypeWorker, Secrets: secrets}
			b, err := Render(in)
			if err != nil {
				t.Fatal(err)
			}
			docs := strings.Count("\n"+string(b), "\n---\n") + 1
			if (docs > 1) != tc.multi {
				t.Errorf("%d document(s)", docs)
			}
			in.Patches = []string{`[{"op":"add","path":"/machine/sysctls","value":{"a":"1"}}]`}
			_, err = Render(in)
			refused := err != nil && strings.Contains(err.Error(), "JSON6902 patches are not supported for multi-document machine configuration")
			if refused != tc.multi || (!tc.multi && err != nil) {
				t.Errorf("multi-document %v, JSON6902 result: %v", tc.multi, err)
			}
		})
	}
}
