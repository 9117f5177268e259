package talos

import (
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/config"
)

func TestPickBootstrapNode(t *testing.T) {
	in := ZipInstances([]string{"i-0c", "i-0a", "i-0b"}, []string{"10.0.0.3", "10.0.0.1", "10.0.0.2"})
	if got := PickBootstrapNode(in); got != "10.0.0.1" {
		t.Errorf("picked %s, want the lowest instance id's 10.0.0.1", got)
	}
	// Same set in another order: same node.
	again := ZipInstances([]string{"i-0b", "i-0c", "i-0a"}, []string{"10.0.0.2", "10.0.0.3", "10.0.0.1"})
	if PickBootstrapNode(again) != "10.0.0.1" || !slices.Equal(NodeIPs(again), []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
		t.Error("pick must not depend on lookup order")
	}
	if got := PickBootstrapNode(ZipInstances(nil, nil)); got != "" {
		t.Errorf("empty lookup picked %q", got)
	}
	if got := ZipInstances([]string{"i-1", "i-2"}, []string{"10.0.0.1"}); len(got) != 1 {
		t.Errorf("mismatched lists must not index past the shorter: %v", got)
	}
}

func TestRewriteKubeconfigServer(t *testing.T) {
	raw := "apiVersion: v1\nclusters:\n- cluster:\n    server: https://internal:6443\n    certificate-authority-data: Y2E=\n  name: c\nkind: Config\n"
	out, err := RewriteKubeconfigServer(raw, "https://public:6443")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "server: https://public:6443") || strings.Contains(out, "internal") || !strings.Contains(out, "certificate-authority-data: Y2E=") {
		t.Errorf("rewritten:\n%s", out)
	}
	for _, bad := range []string{"clusters: []", ": : not yaml", "clusters:\n- name: c\n"} {
		if _, err := RewriteKubeconfigServer(bad, "https://x:6443"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestClusterPatchesOmitTalosAPIAccessOnWorkers(t *testing.T) {
	in := PatchInput{CertSANs: []string{"a", "b"}, PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", TalosAPIAccess: true}
	cp, _ := ControlPlanePatches(in)
	if !strings.Contains(strings.Join(cp, "\n"), "kubernetesTalosAPIAccess") {
		t.Error("control plane needs Talos API access for the CSR approver")
	}
	w, _ := WorkerPatches(in, testPool(), Image{})
	if strings.Contains(strings.Join(w, "\n"), "kubernetesTalosAPIAccess") {
		t.Error("Talos rejects kubernetesTalosAPIAccess on workers")
	}
}

func testPool() config.WorkerPool {
	return config.WorkerPool{Name: "p", InstanceTypes: []string{"m7i.large"}, ConfigPatches: []string{"machine:\n  sysctls:\n    a: \"1\"\n"}}
}
