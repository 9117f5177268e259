package program

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/talos-aws/talos-aws/testkit"
)

// TestPoliciesAreTheIAMGoldens ties the policies the program registers to
// iamroles' golden files, which the IAM evaluator test reads: the HA
// stack (cluster prod in ap-southeast-1, the goldens' example) registers
// exactly those documents. Policies naming ARNs the mocks make up
// (the termination handler's, the guard's) must match statement by
// statement in all but their resources.
func TestPoliciesAreTheIAMGoldens(t *testing.T) {
	for _, identity := range []bool{true, false} {
		cfg := haConfig(t)
		cpGolden := "control-plane"
		if !identity {
			cfg = noIdentity(cfg)
			cpGolden = "control-plane-noidentity"
		}
		m := &testkit.Mocks{}
		evaluate(t, m, cfg)
		want := map[string][2]string{ // RolePolicy name: golden file, policy key
			"compute-cp":      {cpGolden, "compute-cp"},
			"compute-worker":  {"worker", "compute-worker"},
			"etcd-guard-role": {"etcd-guard", "etcd-guard-role"},
			"backups-writer":  {"etcd-guard", "backups-writer"},
			"drain-nth":       {"node-termination-handler", "drain-nth"},
		}
		if identity {
			want["identity-kube-system-ebs-csi-controller-sa"] = [2]string{"ebs-csi", "identity-kube-system-ebs-csi-controller-sa"}
			want["identity-kube-system-cluster-autoscaler"] = [2]string{"cluster-autoscaler", "identity-kube-system-cluster-autoscaler"}
		} else {
			want["drain-nth"] = [2]string{"control-plane-noidentity", "drain-nth"}
		}
		for name, g := range want {
			got := decode(t, str(one(t, m, "aws:iam/rolePolicy:RolePolicy", name), "policy"))
			golden := goldenPolicy(t, g[0], g[1])
			exact := name != "drain-nth" && name != "etcd-guard-role" && name != "backups-writer"
			if !exact {
				stripResources(got)
				stripResources(golden)
			}
			if !reflect.DeepEqual(got, golden) {
				t.Errorf("identity=%t: %s differs from iamroles/testdata/%s.json %s", identity, name, g[0], g[1])
			}
		}
	}
}

// TestPoliciesFollowTheKubernetesMinor: the roles take the add-on
// releases of the stack's own minor. A stack on Kubernetes 1.30 (Talos
// 1.12) registers the 1.30 control-plane policy, whose cloud controller
// manager v1.30.10 has no target-group attribute calls, and the
// autoscaler policy of cluster-autoscaler 1.30.7, the same as 1.36's.
func TestPoliciesFollowTheKubernetesMinor(t *testing.T) {
	cfg := haConfig(t)
	cfg["talosVersion"], cfg["kubernetesVersion"] = "v1.12.11", "1.30.14"
	m := &testkit.Mocks{}
	evaluate(t, m, cfg)
	for name, g := range map[string][2]string{
		"compute-cp": {"control-plane-1.30", "compute-cp"},
		"identity-kube-system-cluster-autoscaler": {"cluster-autoscaler", "identity-kube-system-cluster-autoscaler"},
	} {
		got := decode(t, str(one(t, m, "aws:iam/rolePolicy:RolePolicy", name), "policy"))
		if want := goldenPolicy(t, g[0], g[1]); !reflect.DeepEqual(got, want) {
			t.Errorf("Kubernetes 1.30: %s differs from iamroles/testdata/%s.json %s", name, g[0], g[1])
		}
	}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func goldenPolicy(t *testing.T, file, key string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "iamroles", "testdata", file+".json")) //nolint:gosec // the repository's own golden files
	if err != nil {
		t.Fatal(err)
	}
	var role struct {
		Policies map[string]map[string]any `json:"policies"`
	}
	if err := json.Unmarshal(b, &role); err != nil {
		t.Fatal(err)
	}
	p, ok := role.Policies[key]
	if !ok {
		t.Fatalf("iamroles/testdata/%s.json has no policy %s", file, key)
	}
	return p
}

func stripResources(d map[string]any) {
	ss, _ := d["Statement"].([]any)
	for _, s := range ss {
		if m, ok := s.(map[string]any); ok {
			delete(m, "Resource")
		}
	}
}
