package program

import (
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/addons"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/testkit"
)

const releaseType = "kubernetes:helm.sh/v3:Release"

func releases(m *testkit.Mocks) map[string]testkit.Resource {
	out := map[string]testkit.Resource{}
	for _, r := range m.ByType(releaseType) {
		out[r.Name] = r
	}
	return out
}

func TestAddonReleasesPinnedAndOrdered(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	rs := releases(m)
	want := map[string][2]string{
		"addons-cilium":       {"cilium", config.CiliumChartVersion},
		"addons-ccm":          {"aws-cloud-controller-manager", config.CCMChartVersion},
		"addons-csr-approver": {"oci://ghcr.io/siderolabs/charts/talos-cloud-controller-manager", config.CSRApproverChartVersion},
		"addons-metrics":      {"metrics-server", config.MetricsServerChartVersion},
		"addons-argocd":       {"argo-cd", config.ArgoCDChartVersion},
		"addons-ebs-csi":      {"aws-ebs-csi-driver", config.EBSCSIChartVersion},
		"drain-nth":           {"oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler", config.NTHChartVersion},
		// Workload identity (on by default), and the HA stack's pool is autoscaled.
		"addons-pod-identity-webhook": {"amazon-eks-pod-identity-webhook", addons.PodIdentityWebhookVersion},
		"addons-cluster-autoscaler":   {"cluster-autoscaler", addons.ClusterAutoscalerVersion},
	}
	if len(rs) != len(want) {
		t.Fatalf("releases %v", keys(rs))
	}
	for name, w := range want {
		r, ok := rs[name]
		if !ok {
			t.Fatalf("missing release %s", name)
		}
		if str(r, "chart") != w[0] || str(r, "version") != w[1] {
			t.Errorf("%s: chart %s@%s, want %s@%s", name, str(r, "chart"), str(r, "version"), w[0], w[1])
		}
		if repo := r.Inputs["repositoryOpts"]; w[0][:6] != "oci://" && (!repo.IsObject() || repo.ObjectValue()["repo"].StringValue() == "") {
			t.Errorf("%s: no pinned repository", name)
		}
		if !strings.Contains(r.Provider, "pulumi:providers:kubernetes::addons-k8s") {
			t.Errorf("%s: not on the cluster's provider (%q)", name, r.Provider)
		}
	}
	dep := func(r, on string) bool { return dependsOn(rs[r], releaseType, on) }
	for _, r := range []string{"addons-ccm", "addons-csr-approver"} {
		if !dep(r, "addons-cilium") {
			t.Errorf("%s must wait for Cilium", r)
		}
	}
	for _, r := range []string{"addons-metrics", "addons-argocd", "addons-ebs-csi", "addons-pod-identity-webhook", "addons-cluster-autoscaler"} {
		for _, on := range []string{"addons-cilium", "addons-ccm", "addons-csr-approver"} {
			if !after(m, rs[r], releaseType, on) {
				t.Errorf("%s must wait (through the node gate) for %s: %v", r, on, rs[r].Dependencies)
			}
		}
	}
	for _, r := range rs {
		if r.Name != "addons-cilium" && dep("addons-cilium", r.Name) {
			t.Errorf("nothing may sit before Cilium, found %s", r.Name)
		}
	}
	k8s := m.ByType("pulumi:providers:kubernetes")
	if v := k8s[0].Inputs["kubeconfig"]; !v.IsSecret() {
		t.Error("the provider's kubeconfig must be secret")
	}
}

func TestAddonsCanBeTurnedOff(t *testing.T) {
	cfg := haConfig(t)
	cfg["addons"] = `{"argocd":{"enabled":false},"metricsServer":{"enabled":false},"awsCloudControllerManager":{"enabled":false},"nodeTerminationHandler":{"enabled":false}}`
	m := &testkit.Mocks{}
	evaluate(t, m, cfg)
	rs := releases(m)
	if _, ok := rs["addons-argocd"]; ok || len(rs) != 5 { // cilium, csr-approver, ebs-csi, webhook, autoscaler
		t.Fatalf("releases %v", keys(rs))
	}
	if !after(m, rs["addons-ebs-csi"], releaseType, "addons-csr-approver") || after(m, rs["addons-ebs-csi"], releaseType, "addons-ccm") {
		t.Errorf("ebs-csi deps %v", rs["addons-ebs-csi"].Dependencies)
	}

	cfg["addons"] = `{"argocd":{"rootApp":{"repoURL":"https://github.com/acme/gitops","path":"apps"}}}`
	m = &testkit.Mocks{}
	evaluate(t, m, cfg)
	apps, ok := releases(m)["addons-argocd-apps"]
	if !ok || !dependsOn(apps, releaseType, "addons-argocd") {
		t.Fatalf("root app must follow Argo CD: %+v", apps)
	}
}

func TestFirstPreviewShowsReleases(t *testing.T) {
	m := &testkit.Mocks{Preview: true}
	evaluate(t, m, haConfig(t))
	if got := len(releases(m)); got != 9 {
		t.Errorf("preview shows %d releases, want 9", got)
	}
	if rec := lastRecorder.Load(); len(rec.calls) != 0 {
		t.Errorf("a preview waited on the cluster: %+v", rec.calls)
	}
}

func keys(m map[string]testkit.Resource) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
