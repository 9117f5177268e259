package addons

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/config/configtest"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/internal/ports"
	"github.com/talos-aws/talos-aws/talos"
)

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
	c := configtest.Parse(t, nil)
	v := CiliumValues(c)
	for path, want := range map[string]any{
		"ipam.mode":                                  "kubernetes",
		"kubeProxyReplacement":                       true,
		"k8sServiceHost":                             "localhost",
		"k8sServicePort":                             ports.KubePrism,
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
		"ingressController.service.secureNodePort":   ports.IngressHTTPS,
		"ingressController.service.insecureNodePort": ports.IngressHTTP,
		"hubble.enabled":                             false,
	} {
		if got := at(t, v, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	// The NLB's 443 target group forwards to exactly this NodePort.
	if at(t, v, "ingressController.service.secureNodePort") != ports.IngressHTTPS {
		t.Error("ingress NodePort differs from the public NLB's target port")
	}
	caps := at(t, v, "securityContext.capabilities.ciliumAgent").([]any)
	if slices.Contains(caps, any("SYS_MODULE")) || !slices.Contains(caps, any("NET_ADMIN")) {
		t.Errorf("agent capabilities %v", caps)
	}
	if got := at(t, CiliumValues(configtest.Parse(t, map[string]string{"controlPlane": `{"count":1}`})), "operator.replicas"); got != 1 {
		t.Errorf("one control-plane node: operator replicas %v", got)
	}
	hub := CiliumValues(configtest.Parse(t, map[string]string{"addons": `{"cilium":{"hubble":true}}`}))
	if at(t, hub, "hubble.enabled") != true || at(t, hub, "hubble.relay.enabled") != true {
		t.Error("hubble option ignored")
	}
}

// Cilium's BPF masquerading and Talos' forwardKubeDNSToHost conflict; the two
// stages must agree on turning the forwarding off.
func TestMasqueradeAndHostDNSAgree(t *testing.T) {
	c := configtest.Parse(t, nil)
	patches, err := talos.ControlPlanePatches(talos.PatchInputFor(c, []string{"int", "pub"}))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(patches, "\n")
	if at(t, CiliumValues(c), "bpf.masquerade") == true && !strings.Contains(all, "forwardKubeDNSToHost: false") {
		t.Error("BPF masquerade on while Talos forwards kube-dns to the host resolver")
	}
}

func TestCCMValues(t *testing.T) {
	v := CCMValues(configtest.Parse(t, map[string]string{"clusterName": "prod"}))
	args := v["args"].([]any)
	for _, want := range []string{"--cloud-provider=aws", "--configure-cloud-routes=false", "--cluster-name=prod"} {
		if !slices.Contains(args, any(want)) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if v["hostNetworking"] != true || at(t, v, "image.tag") != config.AddonsFor(config.DefaultKubernetesVersion).CCMImage {
		t.Errorf("ccm values %v", v)
	}
	if _, ok := at(t, v, "nodeSelector").(Values)["node-role.kubernetes.io/control-plane"]; !ok {
		t.Error("ccm must run on control-plane nodes")
	}
	assertTolerates(t, v["tolerations"].([]any), "node.cloudprovider.kubernetes.io/uninitialized", "node-role.kubernetes.io/control-plane")
}

func TestCSRApproverValues(t *testing.T) {
	v := CSRApproverValues(configtest.Parse(t, nil))
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
	c := configtest.Parse(t, map[string]string{"addons": `{"argocd":{"rootApp":{"repoURL":"https://github.com/acme/gitops"}}}`})
	apps, _ := ArgoCDAppsValues(c)
	for name, v := range map[string]Values{"cilium": CiliumValues(c), "ccm": CCMValues(c), "csr": CSRApproverValues(c),
		"metrics": MetricsServerValues(c), "argocd": ArgoCDValues(), "apps": apps, "ebs": EBSCSIValues(c, nil)} {
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
	v := EBSCSIValues(configtest.Parse(t, nil), nil)
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
	if _, ok := ArgoCDAppsValues(configtest.Parse(t, nil)); ok {
		t.Error("no root app without a repository")
	}
	v, ok := ArgoCDAppsValues(configtest.Parse(t, map[string]string{"addons": `{"argocd":{"rootApp":{"repoURL":"https://github.com/acme/gitops","path":"clusters/prod"}}}`}))
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

// chartKeys are the value paths each pinned chart reads, checked against its
// values.yaml (or templates) at the pinned version; Helm silently drops any
// other key. A path covers everything below it (free-form subtrees such as
// affinity or tolerations). Sources, at each chart's tag:
//   - cilium 1.19.4 values.yaml: ipam.mode 2229, kubeProxyReplacement 2368,
//     k8sServiceHost/Port 76/81, securityContext.capabilities 363/413,
//     cgroup 4149/4159, routingMode 3070, tunnelProtocol 3057,
//     bpf.masquerade 705, operator.replicas 3130, ingressController 977-1029,
//     hubble.relay/ui.enabled 1698/1941.
//   - aws-cloud-controller-manager 0.0.10: args 3, image.tag 9, nodeSelector
//     18, tolerations 134; hostNetworking only in templates/daemonset.yaml:31.
//   - talos-cloud-controller-manager 0.5.2 (54131e77): replicaCount 6,
//     enabledControllers 36, nodeSelector 148, tolerations 153, affinity 165.
//   - metrics-server 3.13.0: replicas 78, podDisruptionBudget 90-91, args
//     101, affinity 189.
//   - argo-cd 9.6.0: dex.enabled 1120, server.service.type 2400.
//   - argocd-apps 2.0.4: applications.<name>.{namespace, project, source,
//     destination, syncPolicy, finalizers} 4-42.
//   - aws-ebs-csi-driver 2.53.0: controller.region 285, replicaCount 286,
//     k8sTagClusterId 264, nodeSelector 267, tolerations 312, storageClasses 512.
var chartKeys = map[string][]string{
	"cilium": {"ipam.mode", "kubeProxyReplacement", "k8sServiceHost", "k8sServicePort", "securityContext.capabilities.ciliumAgent",
		"securityContext.capabilities.cleanCiliumState", "cgroup.autoMount.enabled", "cgroup.hostRoot", "routingMode", "tunnelProtocol",
		"bpf.masquerade", "operator.replicas", "ingressController.enabled", "ingressController.default", "ingressController.loadbalancerMode",
		"ingressController.service.type", "ingressController.service.secureNodePort", "ingressController.service.insecureNodePort",
		"hubble.enabled", "hubble.relay.enabled", "hubble.ui.enabled"},
	"ccm":          {"args", "image.tag", "hostNetworking", "nodeSelector", "tolerations"},
	"csr-approver": {"enabledControllers", "replicaCount", "nodeSelector", "tolerations", "affinity"},
	"metrics":      {"args", "replicas", "podDisruptionBudget.enabled", "podDisruptionBudget.minAvailable", "affinity"},
	"argocd":       {"dex.enabled", "server.service.type"},
	"argocd-apps": {"applications.root.namespace", "applications.root.project", "applications.root.source", "applications.root.destination",
		"applications.root.syncPolicy", "applications.root.finalizers"},
	"ebs-csi": {"controller.region", "controller.k8sTagClusterId", "controller.replicaCount", "controller.nodeSelector", "controller.tolerations", "storageClasses",
		"controller.serviceAccount.name", "controller.serviceAccount.annotations", "controller.podAnnotations"},
	// jkroepke/helm-charts amazon-eks-pod-identity-webhook-2.6.5 values.yaml
	// (its values.schema.json refuses any other key).
	"pod-identity-webhook": {"fullnameOverride", "replicaCount", "priorityClassName", "podDisruptionBudget.enabled", "podDisruptionBudget.maxUnavailable",
		"config.defaultAwsRegion", "config.tokenAudience", "config.stsRegionalEndpoint", "config.tokenExpiration", "config.extraArgs", "mutatingWebhook.failurePolicy",
		"pki.certManager.enabled", "pki.cert", "pki.key", "pki.caBundle", "nodeSelector", "tolerations"},
	// kubernetes/autoscaler cluster-autoscaler-chart-9.59.0
	// cluster-autoscaler/charts/cluster-autoscaler/values.yaml.
	// image.tag: values.yaml:306, read by templates/deployment.yaml:63.
	"cluster-autoscaler": {"cloudProvider", "awsRegion", "fullnameOverride", "autoDiscovery.clusterName", "rbac.serviceAccount.name",
		"rbac.serviceAccount.annotations", "podAnnotations", "extraArgs", "nodeSelector", "tolerations", "image.tag"},
	// NVIDIA/k8s-device-plugin v0.13.0 deployments/helm/nvidia-device-plugin
	// values.yaml: affinity 63, runtimeClassName 79; read by
	// templates/daemonset.yml:50-51 and 213.
	"nvidia-device-plugin": {"runtimeClassName", "affinity"},
	// NVIDIA/gpu-operator v26.3.3 deployments/gpu-operator values.yaml:
	// hostPaths.driverInstallDir 35, driver.enabled 119, toolkit.enabled
	// 211; read by templates/clusterpolicy.yaml:17, 162 and 450.
	"gpu-operator": {"hostPaths.driverInstallDir", "driver.enabled", "toolkit.enabled"},
}

// leafPaths lists the dotted paths of every non-map value in v.
func leafPaths(prefix string, v Values) []string {
	var out []string
	for k, x := range v {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if m, ok := x.(Values); ok && len(m) > 0 {
			out = append(out, leafPaths(p, m)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func TestEveryValueKeyIsOneTheChartReads(t *testing.T) {
	c := configtest.Parse(t, map[string]string{"addons": `{"cilium":{"hubble":true},"argocd":{"rootApp":{"repoURL":"https://github.com/acme/gitops"}}}`})
	apps, _ := ArgoCDAppsValues(c)
	for key, v := range map[string]Values{"cilium": CiliumValues(c), "ccm": CCMValues(c), "csr-approver": CSRApproverValues(c),
		"metrics": MetricsServerValues(c), "argocd": ArgoCDValues(), "argocd-apps": apps, "ebs-csi": EBSCSIValues(c, "arn:aws:iam::123456789012:role/ebs"),
		"pod-identity-webhook": PodIdentityWebhookValues(c, "cert", "key"), "cluster-autoscaler": ClusterAutoscalerValues(c, "arn:aws:iam::123456789012:role/ca")} {
		for _, p := range leafPaths("", v) {
			if !slices.ContainsFunc(chartKeys[key], func(k string) bool { return p == k || strings.HasPrefix(p, k+".") }) {
				t.Errorf("%s: %q is not a key chart %s@%s reads (Helm would drop it silently)", key, p, Charts(c.Addons)[key].Chart, Charts(c.Addons)[key].Version)
			}
		}
	}
}

func TestMultiReplicaAddonsSpreadAcrossNodes(t *testing.T) {
	c := configtest.Parse(t, nil) // three control-plane nodes: two replicas each
	for name, v := range map[string]Values{"csr-approver": CSRApproverValues(c), "metrics": MetricsServerValues(c)} {
		terms := at(t, v, "affinity.podAntiAffinity").(Values)["preferredDuringSchedulingIgnoredDuringExecution"].([]any)
		term := terms[0].(Values)["podAffinityTerm"].(Values)
		if term["topologyKey"] != "kubernetes.io/hostname" {
			t.Errorf("%s: spread by %v, want by node", name, term["topologyKey"])
		}
	}
	if n := at(t, CSRApproverValues(c), "replicaCount"); n != 2 {
		t.Errorf("CSR approver replicaCount %v, want 2 with three control-plane nodes", n)
	}
	apps, _ := ArgoCDAppsValues(configtest.Parse(t, map[string]string{"addons": `{"argocd":{"rootApp":{"repoURL":"https://github.com/acme/gitops"}}}`}))
	if f := at(t, apps, "applications.root.finalizers").([]any); len(f) != 1 || f[0] != "resources-finalizer.argocd.argoproj.io" {
		t.Errorf("root app finalizers %v: deleting it must delete what it deployed", f)
	}
}

// The NVIDIA add-ons of each Talos minor set only keys their chart reads at
// its pinned version, and pin the device plugin to the GPU pools.
func TestNVIDIAValueKeysAreTheChartsOwn(t *testing.T) {
	for _, v := range []string{"v1.12.11", config.DefaultTalosVersion} {
		nv, err := images.NVIDIAAddonsFor(v, config.PoolLabel, []string{"gpu", "a100"})
		if err != nil {
			t.Fatal(err)
		}
		keys, ok := chartKeys[nv.Chart.Release]
		if !ok {
			t.Fatalf("Talos %s: no chart keys for %s", v, nv.Chart.Release)
		}
		for _, p := range leafPaths("", nv.Chart.Values) {
			if !slices.ContainsFunc(keys, func(k string) bool { return p == k || strings.HasPrefix(p, k+".") }) {
				t.Errorf("Talos %s: %q is not a key chart %s@%s reads", v, p, nv.Chart.Chart, nv.Chart.Version)
			}
		}
	}
}
