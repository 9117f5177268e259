// Package scripts holds the operators' shell scripts; its tests run them
// against stand-in pulumi, kubectl and aws commands.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stubTools puts pulumi, kubectl and aws stand-ins on PATH: each appends
// its arguments to log and answers from a case table keyed by its arguments.
func stubTools(t *testing.T, answers map[string]string) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "calls.log")
	for _, tool := range []string{"pulumi", "kubectl", "aws"} {
		var cases strings.Builder
		for pattern, out := range answers {
			if strings.HasPrefix(pattern, tool+" ") {
				cases.WriteString("  *'" + strings.TrimPrefix(pattern, tool+" ") + "'*) printf '%s' '" + out + "' ;;\n")
			}
		}
		script := "#!/usr/bin/env bash\necho \"" + tool + " $*\" >> '" + log + "'\ncase \"$*\" in\n" + cases.String() + "  *) ;;\nesac\n"
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil { //nolint:gosec // test stubs must be executable
			t.Fatal(err)
		}
	}
	return dir, log
}

func runScript(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"pre-destroy.sh"}, args...)...) //nolint:gosec // fixed script, test arguments
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pre-destroy failed: %v\n%s", err, out)
	}
	return string(out)
}

func calls(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log) //nolint:gosec // the test's own temp file
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// index returns the position of the first call containing all parts.
func index(cs []string, parts ...string) int {
	for i, c := range cs {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(c, p)
		}
		if ok {
			return i
		}
	}
	return -1
}

// Argo CD first (or it self-heals what follows), then LoadBalancer
// Services, then claims and their pods, then the wait for volumes; bootstrap
// unprotected last, and the script never destroys by itself.
func TestPreDestroyOrder(t *testing.T) {
	dir, log := stubTools(t, map[string]string{
		"pulumi config get clusterName":           "demo",
		"pulumi stack output kubeconfig":          "apiVersion: v1",
		"kubectl get applications.argoproj.io -A": "argocd/root argocd/web ",
		"kubectl get svc -A":                      "default/web-lb ",
		"kubectl get pods -A":                     "db/pg-0 db/pg-0 ",
	})
	out := runScript(t, dir)
	cs := calls(t, log)
	order := []int{
		index(cs, "kubectl", "get --raw=/readyz"),
		index(cs, "kubectl", "-n argocd patch application root", "resources-finalizer.argocd.argoproj.io"),
		index(cs, "kubectl", "-n argocd patch application web"),
		index(cs, "kubectl", "delete applications.argoproj.io -A --all --wait=true"),
		index(cs, "kubectl", "-n default delete svc web-lb --wait=true"),
		index(cs, "kubectl", "delete pvc -A --all"),
		index(cs, "kubectl", "-n db delete pod pg-0"),
		index(cs, "kubectl", "get pv -o name"),
		index(cs, "aws ec2 describe-security-groups", "k8s-elb-*", "kubernetes.io/cluster/demo"),
		index(cs, "pulumi state unprotect --all --yes"),
	}
	for i, pos := range order {
		if pos < 0 {
			t.Fatalf("step %d never ran; calls:\n%s", i, strings.Join(cs, "\n"))
		}
		if i > 0 && pos < order[i-1] {
			t.Errorf("step %d ran before step %d; calls:\n%s", i, i-1, strings.Join(cs, "\n"))
		}
	}
	if n := strings.Count(strings.Join(cs, "\n"), "delete pod pg-0"); n != 1 {
		t.Errorf("pod deleted %d times, want once", n)
	}
	if index(cs, "pulumi destroy") >= 0 {
		t.Error("the script must leave `pulumi destroy` to the operator")
	}
	if !strings.Contains(out, "now run  pulumi destroy") {
		t.Errorf("output does not say what to run next:\n%s", out)
	}
}

// With the cluster gone: no kubectl at all; releases leave the state with
// their dependents; only the cloud controller manager's load balancers go.
func TestPreDestroyClusterGone(t *testing.T) {
	dir, log := stubTools(t, map[string]string{
		"pulumi config get clusterName": "demo",
		"pulumi stack export": `{"urn": "urn:pulumi:dev::talos-aws::talos-aws:addons:Addons$kubernetes:helm.sh/v3:Release::addons-argocd"}
{"urn": "urn:pulumi:dev::talos-aws::talos-aws:addons:Addons$kubernetes:helm.sh/v3:Release::addons-cilium"}
{"urn": "urn:pulumi:dev::talos-aws::talos-aws:network:Network$aws:lb/loadBalancer:LoadBalancer::network-pub"}`,
		"aws resourcegroupstaggingapi get-resources": "arn:aws:elasticloadbalancing:ap-southeast-1:1:loadbalancer/net/k8s-web/abc arn:aws:elasticloadbalancing:ap-southeast-1:1:loadbalancer/a1b2c3",
		"aws ec2 describe-volumes":                   "vol-1",
	})
	runScript(t, dir, "--cluster-gone")
	cs := calls(t, log)
	if index(cs, "kubectl") >= 0 {
		t.Error("a gone cluster must not be dialled")
	}
	for _, want := range [][]string{
		{"pulumi state delete", "Release::addons-argocd", "--target-dependents"},
		{"pulumi state delete", "Release::addons-cilium"},
		{"aws resourcegroupstaggingapi", "Key=kubernetes.io/cluster/demo", "Key=kubernetes.io/service-name"},
		{"aws elbv2 delete-load-balancer", "loadbalancer/net/k8s-web/abc"},
		{"aws elb delete-load-balancer", "--load-balancer-name a1b2c3"},
		{"aws ec2 delete-volume --volume-id vol-1"},
		{"pulumi state unprotect --all --yes"},
	} {
		if index(cs, want...) < 0 {
			t.Errorf("missing call %v; calls:\n%s", want, strings.Join(cs, "\n"))
		}
	}
	if index(cs, "state delete", "LoadBalancer::network-pub") >= 0 {
		t.Error("the stack's own load balancer must stay in the state")
	}
}
