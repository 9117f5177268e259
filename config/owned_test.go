package config

import (
	"slices"
	"strings"
	"testing"
)

// ownedPool is the pool the ownership table is expanded for in these tests.
var ownedPool = WorkerPool{Name: "gpu", Labels: StringMap{"team": "ml", "example.com/tier": "gold"},
	Taints: []Taint{{Key: "gpu", Effect: "NoSchedule"}}}

// What each patch sets of the fields the stack owns, as "verb path", by
// decoding the patch alone: no Talos, no mocks.
func TestOwnedFieldsSetBy(t *testing.T) {
	owned := ownedFieldsFor("workerPools[0]", ownedPool)
	for _, tt := range []struct {
		name, patch string
		want        []string // "verb path<-field" when the patch's path is above the field
	}{
		// The CNI, kube-proxy and the cluster's ranges.
		{"another CNI", "cluster:\n  network:\n    cni:\n      name: flannel\n", []string{"sets cluster.network.cni"}},
		{"the stack's own CNI value", `{"cluster":{"network":{"cni":{"name":"none"}}}}`, []string{"sets cluster.network.cni"}},
		{"CNI URLs", "cluster:\n  network:\n    cni:\n      name: custom\n      urls: [https://example.com/cni.yaml]\n", []string{"sets cluster.network.cni"}},
		{"CNI null", "cluster:\n  network:\n    cni: null\n", []string{"sets cluster.network.cni"}},
		{"pod subnets", "cluster:\n  network:\n    podSubnets: [10.32.0.0/12]\n", []string{"sets cluster.network.podSubnets"}},
		{"service subnets", "cluster:\n  network:\n    serviceSubnets: [10.112.0.0/12]\n", []string{"sets cluster.network.serviceSubnets"}},
		{"whole network", "cluster:\n  network:\n    cni: {name: none}\n    podSubnets: [10.32.0.0/12]\n    serviceSubnets: [10.112.0.0/12]\n",
			[]string{"sets cluster.network.cni", "sets cluster.network.podSubnets", "sets cluster.network.serviceSubnets"}},
		{"kube-proxy back on", "cluster:\n  proxy:\n    disabled: false\n", []string{"sets cluster.proxy.disabled"}},
		// Role, identity, endpoint.
		{"machine type", "machine:\n  type: controlplane\n", []string{"sets machine.type"}},
		{"cluster name", "cluster:\n  clusterName: other\n", []string{"sets cluster.clusterName"}},
		{"endpoint", "cluster:\n  controlPlane:\n    endpoint: https://10.0.0.10:6443\n", []string{"sets cluster.controlPlane.endpoint"}},
		// Secrets.
		{"cluster CA", "cluster:\n  ca:\n    crt: eHh4\n", []string{"sets cluster.ca"}},
		{"machine CA", "machine:\n  ca:\n    crt: eHh4\n    key: eXl5\n", []string{"sets machine.ca"}},
		{"tokens", "machine:\n  token: abcdef.0123456789abcdef\ncluster:\n  token: abcdef.0123456789abcdef\n", []string{"sets machine.token", "sets cluster.token"}},
		{"encryption secrets", "cluster:\n  secretboxEncryptionSecret: x\n  aescbcEncryptionSecret: y\n",
			[]string{"sets cluster.secretboxEncryptionSecret", "sets cluster.aescbcEncryptionSecret"}},
		{"service account and aggregator", "cluster:\n  serviceAccount:\n    key: eA==\n  aggregatorCA:\n    crt: eA==\n", []string{"sets cluster.aggregatorCA", "sets cluster.serviceAccount"}},
		{"id, secret and etcd CA", "cluster:\n  id: x\n  secret: y\n  etcd:\n    ca:\n      crt: eA==\n", []string{"sets cluster.id", "sets cluster.secret", "sets cluster.etcd.ca"}},
		// Cloud provider, kubelet, features.
		{"external cloud provider off", "cluster:\n  externalCloudProvider:\n    enabled: false\n", []string{"sets cluster.externalCloudProvider.enabled"}},
		{"kubelet hostname", "machine:\n  kubelet:\n    registerWithFQDN: false\n", []string{"sets machine.kubelet.registerWithFQDN"}},
		{"serving certificates off", "machine:\n  kubelet:\n    extraArgs:\n      rotate-server-certificates: \"false\"\n", []string{"sets machine.kubelet.extraArgs.rotate-server-certificates"}},
		{"kubelet image", "machine:\n  kubelet:\n    image: ghcr.io/siderolabs/kubelet:v1.30.0\n", []string{"sets machine.kubelet.image"}},
		{"KubePrism port", "machine:\n  features:\n    kubePrism:\n      port: 7446\n", []string{"sets machine.features.kubePrism"}},
		{"host DNS forwarding", "machine:\n  features:\n    hostDNS:\n      forwardKubeDNSToHost: true\n", []string{"sets machine.features.hostDNS.forwardKubeDNSToHost"}},
		{"install disk and image", "machine:\n  install:\n    disk: /dev/nvme0n1\n    image: ghcr.io/siderolabs/installer:v1.11.0\n",
			[]string{"sets machine.install.image", "sets machine.install.disk"}},
		// What the pool's own settings put there.
		{"pool label", "machine:\n  nodeLabels:\n    node.talos-aws.io/pool: cpu\n", []string{`sets machine.nodeLabels["node.talos-aws.io/pool"]`}},
		{"a label of the pool", "machine:\n  nodeLabels:\n    team: infra\n    example.com/tier: gold\n",
			[]string{`sets machine.nodeLabels["example.com/tier"]`, "sets machine.nodeLabels.team"}},
		{"kubelet taints", "machine:\n  kubelet:\n    extraConfig:\n      registerWithTaints:\n        - {key: a, effect: NoSchedule}\n", []string{"sets machine.kubelet.extraConfig.registerWithTaints"}},
		{"node taints", "machine:\n  nodeTaints:\n    a: b:NoSchedule\n", []string{"sets machine.nodeTaints"}},
		// $patch: delete on the field or an object holding it.
		{"delete the network", "cluster:\n  network:\n    $patch: delete\n",
			[]string{"deletes cluster.network<-cluster.network.cni", "deletes cluster.network<-cluster.network.podSubnets", "deletes cluster.network<-cluster.network.serviceSubnets"}},
		{"delete the CNI", "cluster:\n  network:\n    cni:\n      $patch: delete\n", []string{"deletes cluster.network.cni"}},
		{"delete the labels", "machine:\n  nodeLabels:\n    $patch: delete\n",
			[]string{`deletes machine.nodeLabels<-machine.nodeLabels["node.talos-aws.io/pool"]`, `deletes machine.nodeLabels<-machine.nodeLabels["example.com/tier"]`, "deletes machine.nodeLabels<-machine.nodeLabels.team"}},
		// Several documents: only the v1alpha1 one is the machine configuration.
		{"second document", "apiVersion: v1alpha1\nkind: HostnameConfig\nauto: stable\n---\ncluster:\n  network:\n    cni:\n      name: flannel\n", []string{"sets cluster.network.cni"}},
		{"kind document with a machine key", "apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: x\nmachine:\n  type: controlplane\n", nil},
		// JSON6902 (Talos 1.10 and 1.11).
		{"JSON patch below", `[{"op":"replace","path":"/cluster/network/cni/name","value":"flannel"}]`, []string{"sets cluster.network.cni"}},
		{"JSON patch on the field", "- op: add\n  path: /machine/kubelet/registerWithFQDN\n  value: false\n", []string{"sets machine.kubelet.registerWithFQDN"}},
		{"JSON patch above", `[{"op":"remove","path":"/cluster/proxy"}]`, []string{"deletes cluster.proxy<-cluster.proxy.disabled"}},
		{"JSON move away", `[{"op":"move","from":"/machine/kubelet/image","path":"/machine/kubelet/extraArgs/image"}]`, []string{"deletes machine.kubelet.image"}},
		{"JSON escaped key", `[{"op":"add","path":"/machine/nodeLabels/node.talos-aws.io~1pool","value":"x"}]`, []string{`sets machine.nodeLabels["node.talos-aws.io/pool"]`}},
		{"JSON test only", `[{"op":"test","path":"/machine/type","value":"worker"}]`, nil},
		// What stays the user's.
		{"sysctls", "machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n", nil},
		{"extra SANs and time servers (appended)", "machine:\n  certSANs: [api.example.com]\n  time:\n    servers: [time.example.com]\ncluster:\n  apiServer:\n    certSANs: [api.example.com]\n", nil},
		{"other labels", "machine:\n  nodeLabels:\n    example.com/rack: r1\n", nil},
		{"other kubelet settings", "machine:\n  kubelet:\n    extraArgs:\n      max-pods: \"200\"\n    extraConfig:\n      maxPods: 200\n    nodeIP:\n      validSubnets: [10.0.0.0/8]\n", nil},
		{"cloud provider manifests", "cluster:\n  externalCloudProvider:\n    manifests: [https://example.com/x.yaml]\n", nil},
		{"other host DNS and network fields", "machine:\n  features:\n    hostDNS:\n      resolveMemberNames: true\ncluster:\n  network:\n    dnsDomain: cluster.local\n  discovery:\n    enabled: false\n", nil},
		{"null network", "cluster:\n  network: null\n", nil},
		{"JSON patch elsewhere", `[{"op":"add","path":"/machine/sysctls","value":{"a":"1"}}]`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sets, err := ownedFieldsSetBy(tt.patch, owned)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range sets {
				g := s.verb + " " + showPath(s.at)
				if len(s.at) < len(s.field.path) {
					g += "<-" + showPath(s.field.path)
				}
				got = append(got, g)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// The table's owners: the config key when one holds the value, with the
// pool's index.
func TestOwnedFieldOwners(t *testing.T) {
	owned := ownedFieldsFor("workerPools[3]", ownedPool)
	for path, want := range map[string]string{
		"cluster.network.cni":                            "addons.cilium",
		"cluster.network.podSubnets":                     "podCidr",
		"cluster.network.serviceSubnets":                 "serviceCidr",
		"cluster.clusterName":                            "clusterName",
		"machine.kubelet.image":                          "kubernetesVersion",
		"machine.install.image":                          "talosVersion",
		"cluster.proxy.disabled":                         "addons.cilium",
		"cluster.externalCloudProvider.enabled":          "addons.awsCloudControllerManager",
		`machine.nodeLabels["node.talos-aws.io/pool"]`:   "workerPools[3].name",
		"machine.nodeLabels.team":                        "workerPools[3].labels.team",
		"machine.kubelet.extraConfig.registerWithTaints": "workerPools[3].taints",
		"machine.type":                                   "",
		"cluster.ca":                                     "",
		"machine.token":                                  "",
	} {
		i := slices.IndexFunc(owned, func(f ownedField) bool { return showPath(f.path) == path })
		if i < 0 {
			t.Errorf("%s: not in the table", path)
			continue
		}
		if owned[i].owner != want {
			t.Errorf("%s: owner %q, want %q", path, owned[i].owner, want)
		}
	}
	for _, f := range owned {
		if strings.Contains(f.owner, poolKey) || slices.Contains(f.path, poolLabels) {
			t.Errorf("placeholder left in %v (%s)", f.path, f.owner)
		}
	}
}

// Through Parse: a Forbidden error at the patch element, naming the field
// and its owner; every field of every patch at once; the patch left out of
// rendering; the other patches untouched.
func TestPatchesMustNotSetOwnedFields(t *testing.T) {
	cfg, _, err := Parse(src(map[string]string{"workerPools": `[
		{"name":"general","instanceTypes":["m7i.large"]},
		{"name":"gpu","instanceTypes":["g5.xlarge"],"labels":{"team":"ml"},"configPatches":[
			"machine:\n  sysctls:\n    vm.max_map_count: \"262144\"\n",
			"cluster:\n  network:\n    cni:\n      name: flannel\n    podSubnets: [10.32.0.0/12]\n",
			"machine:\n  type: controlplane\n  nodeLabels:\n    team: infra\n  kubelet:\n    extraConfig:\n      registerWithTaints: [{key: a, effect: NoSchedule}]\n"]}]`}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"workerPools[1].configPatches[1]: Forbidden: sets cluster.network.cni, which the stack owns (addons.cilium): Cilium is the CNI and Talos must install none; to run another CNI set addons.cilium.enabled to false and install it yourself; remove it from the patch",
		"workerPools[1].configPatches[1]: Forbidden: sets cluster.network.podSubnets, which the stack owns (podCidr): ",
		"; set podCidr instead and remove it from the patch",
		"workerPools[1].configPatches[2]: Forbidden: sets machine.type, which the stack owns: ",
		"workerPools[1].configPatches[2]: Forbidden: sets machine.nodeLabels.team, which the stack owns (workerPools[1].labels.team): ",
		"workerPools[1].configPatches[2]: Forbidden: sets machine.kubelet.extraConfig.registerWithTaints, which the stack owns (workerPools[1].taints): ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%s", want, err)
		}
	}
	if strings.Contains(err.Error(), "configPatches[0]") {
		t.Errorf("the sysctls patch was refused:\n%s", err)
	}
	if n := strings.Count(err.Error(), "Forbidden"); n != 5 {
		t.Errorf("want 5 errors, got %d:\n%s", n, err)
	}
	r := cfg.Renderable(err.(*ValidationError).Errors)
	if p := r.WorkerPools[1].ConfigPatches; len(p) != 1 || !strings.Contains(p[0], "sysctls") {
		t.Errorf("rendered patches: %q", p)
	}
}

// On Talos 1.11, where JSON6902 patches apply, they are checked too.
func TestJSON6902PatchesMustNotSetOwnedFields(t *testing.T) {
	_, _, err := Parse(src(map[string]string{"talosVersion": "v1.11.5", "kubernetesVersion": "1.34.0",
		"workerPools": poolJSON(`,"configPatches":["[{\"op\":\"remove\",\"path\":\"/cluster/network\"}]"]`)}))
	if err == nil {
		t.Fatal("accepted")
	}
	if want := "workerPools[0].configPatches[0]: Forbidden: deletes cluster.network and with it cluster.network.cni, which the stack owns (addons.cilium)"; !strings.Contains(err.Error(), want) {
		t.Errorf("missing %q in:\n%s", want, err)
	}
}
