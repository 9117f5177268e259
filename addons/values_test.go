package addons

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/network"
	"github.com/talos-aws/talos-aws/talos"
)

func cfg(t *testing.T, kv map[string]string) *config.Config {
	t.Helper()
	m := map[string]string{"adminCidrs": `["203.0.113.10/32"]`}
	for k, v := range kv {
		m[k] = v
	}
	c, _, err := config.Parse(config.MapSource(m))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// at walks a values tree by dotted path.
func at(t *testing.T, v Values, path string) any {
	t.Helper()
	var cur any = v
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(Values)
		if !ok {
			t.Fatalf("%s: not a map at %s", path, k)
		}
		cur = m[k]
	}
	return cur
}

func TestCiliumValuesForTalos(t *testing.T) {
	c := cfg(t, nil)
	v := CiliumValues(c)
	for path, want := range map[string]any{
		"ipam.mode":                                  "kubernetes",
		"kubeProxyReplacement":                       true,
		"k8sServiceHost":                             "localhost",
		"k8sServicePort":                             talos.KubePrismPort,
		"cgroup.autoMount.enabled":                   false,
		"cgroup.hostRoot":                            "/sys/fs/cgroup",
		"routingMode":                                "tunnel",
		"tunnelProtocol":                             "vxlan",
		"bpf.masquerade":                             true,
		"operator.replicas":                          2,
		"ingressController.enabled":                  true,
		"ingressController.default":                  true,
		"ingressController.loadbalancerMode":         "shared",
		"ingressController.service.type":             "NodePort",
		"ingressController.service.secureNodePort":   network.IngressHTTPSNodePort,
		"ingressController.service.insecureNodePort": IngressHTTPNodePort,
		"hubble.enabled":                             false,
	} {
		if got := at(t, v, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	// The NLB's 443 target group forwards to exactly this NodePort.
	if at(t, v, "ingressController.service.secureNodePort") != network.IngressHTTPSNodePort {
		t.Error("ingress NodePort differs from the public NLB's target port")
	}
	caps := at(t, v, "securityContext.capabilities.ciliumAgent").([]any)
	if slices.Contains(caps, any("SYS_MODULE")) || !slices.Contains(caps, any("NET_ADMIN")) {
		t.Errorf("agent capabilities %v", caps)
	}
	if got := at(t, CiliumValues(cfg(t, map[string]string{"controlPlane": `{"count":1}`})), "operator.replicas"); got != 1 {
		t.Errorf("one control-plane node: operator replicas %v", got)
	}
	hub := CiliumValues(cfg(t, map[string]string{"addons": `{"cilium":{"hubble":true}}`}))
	if at(t, hub, "hubble.enabled") != true || at(t, hub, "hubble.relay.enabled") != true {
		t.Error("hubble option ignored")
	}
}

// Cilium's BPF masquerading and Talos' forwardKubeDNSToHost conflict; the two
// stages must agree on turning the forwarding off.
func TestMasqueradeAndHostDNSAgree(t *testing.T) {
	c := cfg(t, nil)
	patches, err := talos.ControlPlanePatches(talos.PatchInputFor(c, "int", "pub"))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(patches, "\n")
	if at(t, CiliumValues(c), "bpf.masquerade") == true && !strings.Contains(all, "forwardKubeDNSToHost: false") {
		t.Error("BPF masquerade on while Talos forwards kube-dns to the host resolver")
	}
}

func TestCCMValues(t *testing.T) {
	v := CCMValues(cfg(t, map[string]string{"clusterName": "prod"}))
	args := v["args"].([]any)
	for _, want := range []string{"--cloud-provider=aws", "--configure-cloud-routes=false", "--cluster-name=prod"} {
		if !slices.Contains(args, any(want)) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if v["hostNetworking"] != true || at(t, v, "image.tag") != config.CCMImageTag {
		t.Errorf("ccm values %v", v)
	}
	if _, ok := at(t, v, "nodeSelector").(Values)["node-role.kubernetes.io/control-plane"]; !ok {
		t.Error("ccm must run on control-plane nodes")
	}
	assertTolerates(t, v["tolerations"].([]any), "node.cloudprovider.kubernetes.io/uninitialized", "node-role.kubernetes.io/control-plane")
}

func TestCSRApproverValues(t *testing.T) {
	v := CSRApproverValues(cfg(t, nil))
	if c := v["enabledControllers"].([]any); len(c) != 1 || c[0] != "node-csr-approval" {
		t.Errorf("only the CSR approval controller must run: %v", c)
	}
	assertTolerates(t, v["tolerations"].([]any), "node.cloudprovider.kubernetes.io/uninitialized", "node-role.kubernetes.io/control-plane")
}

func assertTolerates(t *testing.T, tolerations []any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if !slices.ContainsFunc(tolerations, func(x any) bool { return x.(Values)["key"] == k }) {
			t.Errorf("no toleration for %s", k)
		}
	}
}

func TestNoInsecureKubeletTLSAnywhere(t *testing.T) {
	c := cfg(t, map[string]string{"addons": `{"argocd":{"rootApp":{"repoURL":"https://github.com/acme/gitops"}}}`})
	apps, _ := ArgoCDAppsValues(c)
	for name, v := range map[string]Values{"cilium": CiliumValues(c), "ccm": CCMValues(c), "csr": CSRApproverValues(c),
		"metrics": MetricsServerValues(c), "argocd": ArgoCDValues(), "apps": apps, "ebs": EBSCSIValues(c)} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s values do not serialise: %v", name, err)
		}
		if strings.Contains(string(b), "insecure-tls") {
			t.Errorf("%s values disable kubelet TLS verification", name)
		}
	}
}

func TestEBSCSIValues(t *testing.T) {
	v := EBSCSIValues(cfg(t, nil))
	sc := v["storageClasses"].([]any)[0].(Values)
	if sc["name"] != DefaultStorageClass || sc["annotations"].(Values)["storageclass.kubernetes.io/is-default-class"] != "true" {
		t.Errorf("default class %v", sc)
	}
	if p := sc["parameters"].(Values); p["type"] != "gp3" || p["encrypted"] != "true" {
		t.Errorf("class parameters %v", p)
	}
	if at(t, v, "controller.region") != "ap-southeast-1" {
		t.Error("controller region")
	}
}

func TestArgoCDRootApp(t *testing.T) {
	if _, ok := ArgoCDAppsValues(cfg(t, nil)); ok {
		t.Error("no root app without a repository")
	}
	v, ok := ArgoCDAppsValues(cfg(t, map[string]string{"addons": `{"argocd":{"rootApp":{"repoURL":"https://github.com/acme/gitops","path":"clusters/prod"}}}`}))
	if !ok {
		t.Fatal("root app missing")
	}
	src := at(t, v, "applications.root.source").(Values)
	if src["repoURL"] != "https://github.com/acme/gitops" || src["path"] != "clusters/prod" || src["targetRevision"] != "HEAD" {
		t.Errorf("root app source %v", src)
	}
}

func TestChartsPinned(t *testing.T) {
	for key, ch := range Charts(config.DefaultAddons()) {
		if ch.Version == "" || strings.ContainsAny(ch.Version, "^~*x><") {
			t.Errorf("%s: unpinned version %q", key, ch.Version)
		}
		if ch.Repo == "" && !strings.HasPrefix(ch.Chart, "oci://") {
			t.Errorf("%s: no repository", key)
		}
	}
}
