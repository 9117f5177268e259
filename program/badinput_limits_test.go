package program

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/testkit"
)

// goSpeak matches Go leaking into a user-facing message: encoding/json's
// "Go struct field", type names, package-qualified identifiers.
var goSpeak = regexp.MustCompile(`Go struct|Go value|of type (int|string|bool)|config\.[A-Z]|v1alpha1\.[A-Z]|\bWorkerPool\b|\bRootVolume\b|\bControlPlane\b|json: `)

type limitCase struct {
	name string
	cfg  map[string]string
	// keys must all appear in the error: the key paths and the allowed values.
	keys []string
	// noAMI makes the AMI lookup find nothing for these architectures.
	noAMI []string
}

func cidrs(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"198.51.100.%d/32"`, i))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func tagsN(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"team-%02d":"x"`, i))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// limitCases are configurations AWS, Kubernetes or Talos would reject at
// apply (or that would silently misbehave), each with the keys its error
// must name.
func limitCases() []limitCase {
	long := strings.Repeat("a", 20) + ".example.com/" + strings.Repeat("b", 63)
	return []limitCase{
		// Kubernetes
		{name: "service CIDR /11", cfg: map[string]string{"serviceCidr": "10.96.0.0/11"}, keys: []string{"serviceCidr", "/12"}},
		{name: "service CIDR /8", cfg: map[string]string{"serviceCidr": "100.0.0.0/8"}, keys: []string{"serviceCidr", "/12"}},
		{name: "pod CIDR /25", cfg: map[string]string{"podCidr": "10.244.0.0/25"}, keys: []string{"podCidr", "/24"}},
		{name: "pod CIDR too few node ranges", cfg: map[string]string{"podCidr": "10.244.0.0/23"}, keys: []string{"podCidr", "allows 9 nodes", "use /20"}},
		{name: "pod CIDR vs big pools", cfg: map[string]string{"podCidr": "10.244.0.0/18",
			"workerPools": pool(`,"maxSize":300,"desiredCapacity":2`)}, keys: []string{"podCidr", "allows 303 nodes", "use /15"}},
		{name: "pod overlaps service", cfg: map[string]string{"podCidr": "10.96.0.0/16"}, keys: []string{"serviceCidr", "overlaps podCidr"}},
		{name: "service overlaps VPC", cfg: map[string]string{"vpcCidr": "10.96.0.0/16"}, keys: []string{"serviceCidr", "overlaps vpcCidr"}},
		{name: "pod host bits", cfg: map[string]string{"podCidr": "10.244.1.0/16"}, keys: []string{"podCidr", "did you mean 10.244.0.0/16"}},
		{name: "VPC IPv6", cfg: map[string]string{"vpcCidr": "2001:db8::/56"}, keys: []string{"vpcCidr", "IPv6 is not supported"}},
		{name: "service IPv6", cfg: map[string]string{"serviceCidr": "fd00:96::/108"}, keys: []string{"serviceCidr", "IPv6"}},
		{name: "admin IPv6", cfg: map[string]string{"adminCidrs": `["2001:db8::1/128"]`}, keys: []string{"adminCidrs[0]", "IPv6"}},
		{name: "ingress host bits", cfg: map[string]string{"ingressCidrs": `["192.0.2.1/24"]`}, keys: []string{"ingressCidrs[0]", "192.0.2.0/24"}},
		{name: "restricted label node-role", cfg: map[string]string{"workerPools": pool(`,"labels":{"node-role.kubernetes.io/worker":""}`)},
			keys: []string{"workerPools[0].labels.node-role.kubernetes.io/worker", "NodeRestriction"}},
		{name: "restricted label node-restriction", cfg: map[string]string{"workerPools": pool(`,"labels":{"node-restriction.kubernetes.io/pci":"true"}`)},
			keys: []string{"workerPools[0].labels.node-restriction.kubernetes.io/pci", "NodeRestriction"}},
		{name: "restricted label kubernetes.io", cfg: map[string]string{"workerPools": pool(`,"labels":{"kubernetes.io/role":"db"}`)},
			keys: []string{"workerPools[0].labels.kubernetes.io/role", "own prefix"}},
		{name: "restricted label k8s.io", cfg: map[string]string{"workerPools": pool(`,"labels":{"cluster.k8s.io/x":"y"}`)},
			keys: []string{"workerPools[0].labels.cluster.k8s.io/x"}},
		{name: "kubelet's own label", cfg: map[string]string{"workerPools": pool(`,"labels":{"kubernetes.io/arch":"arm64"}`)},
			keys: []string{"workerPools[0].labels.kubernetes.io/arch", "kubelet"}},
		{name: "second pool's restricted label", cfg: map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"b","instanceTypes":["m7i.large"],"labels":{"node-role.kubernetes.io/b":""}}]`},
			keys: []string{"workerPools[1].labels.node-role.kubernetes.io/b"}},
		{name: "duplicate taint key and effect", cfg: map[string]string{"workerPools": pool(`,"taints":[{"key":"gpu","effect":"NoSchedule"},{"key":"gpu","value":"a100","effect":"NoSchedule"}]`)},
			keys: []string{"workerPools[0].taints[1]", "gpu:NoSchedule"}},
		// AWS
		{name: "51 tags on launch templates", cfg: map[string]string{"tags": tagsN(47)}, keys: []string{"tags", "at most 46"}},
		{name: "51 tags on a pool ASG", cfg: map[string]string{"tags": tagsN(38), "workerPools": pool(`,"labels":{"a":"1","b":"2","c":"3","d":"4","e":"5"},"taints":[{"key":"x","effect":"NoSchedule"},{"key":"y","effect":"NoSchedule"},{"key":"z","effect":"NoSchedule"}]`)},
			keys: []string{"workerPools[0].labels", "51 tags", "AWS allows 50"}},
		{name: "tag key too long", cfg: map[string]string{"tags": `{"` + strings.Repeat("k", 129) + `":"v"}`}, keys: []string{"tags", "1-128"}},
		{name: "tag value too long", cfg: map[string]string{"tags": `{"owner":"` + strings.Repeat("v", 257) + `"}`}, keys: []string{"tags.owner", "256"}},
		{name: "tag key character", cfg: map[string]string{"tags": `{"cost center!":"x"}`}, keys: []string{"tags", "_ . : / = + - @"}},
		{name: "tag value character", cfg: map[string]string{"tags": `{"owner":"ops;dev"}`}, keys: []string{"tags.owner", "_ . : / = + - @"}},
		{name: "autoscaler label tag key over 128", cfg: map[string]string{"workerPools": pool(`,"labels":{"` + long + `":"x"}`)},
			keys: []string{"workerPools[0].labels." + long, "128"}},
		{name: "autoscaler taint tag key over 128", cfg: map[string]string{"workerPools": pool(`,"taints":[{"key":"` + long + `","effect":"NoExecute"}]`)},
			keys: []string{"workerPools[0].taints[0].key", "128"}},
		{name: "load balancer name internal-", cfg: map[string]string{"clusterName": "internal-apps"}, keys: []string{"clusterName", "internal-"}},
		{name: "load balancer name internal", cfg: map[string]string{"clusterName": "internal"}, keys: []string{"clusterName", "internal-int"}},
		{name: "security group rules", cfg: map[string]string{"adminCidrs": cidrs(30), "ingressCidrs": `["0.0.0.0/0"]`}, keys: []string{"adminCidrs", "61 inbound rules", "60"}},
		{name: "security group rules from ingress", cfg: map[string]string{"adminCidrs": cidrs(20), "ingressCidrs": cidrs(21)}, keys: []string{"adminCidrs", "61 inbound rules"}},
		{name: "gp3 IOPS below 3000", cfg: map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"gp3","iops":1000}}`}, keys: []string{"controlPlane.rootVolume.iops", "3000-16000"}},
		{name: "gp3 IOPS above 16000", cfg: map[string]string{"workerPools": pool(`,"rootVolume":{"sizeGiB":200,"type":"gp3","iops":17000}`)}, keys: []string{"workerPools[0].rootVolume.iops", "3000-16000"}},
		{name: "gp3 IOPS per GiB", cfg: map[string]string{"workerPools": pool(`,"rootVolume":{"sizeGiB":20,"type":"gp3","iops":16000}`)}, keys: []string{"workerPools[0].rootVolume.iops", "500 IOPS per GiB"}},
		{name: "gp3 throughput above 1000", cfg: map[string]string{"workerPools": pool(`,"rootVolume":{"sizeGiB":100,"type":"gp3","iops":8000,"throughput":1001}`)}, keys: []string{"workerPools[0].rootVolume.throughput", "125-1000"}},
		{name: "gp3 throughput below 125", cfg: map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"gp3","throughput":64}}`}, keys: []string{"controlPlane.rootVolume.throughput", "125-1000"}},
		{name: "gp3 throughput per IOPS", cfg: map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"gp3","iops":3000,"throughput":800}}`}, keys: []string{"controlPlane.rootVolume.throughput", "0.25 MiB/s per IOPS", "3200"}},
		{name: "io2 IOPS per GiB", cfg: map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":20,"type":"io2","iops":20000}}`}, keys: []string{"controlPlane.rootVolume.iops", "500 IOPS per GiB"}},
		{name: "arm64 pool with Intel type", cfg: map[string]string{"workerPools": pool(`,"arch":"arm64"`)}, keys: []string{"workerPools[0].instanceTypes[0]", `arch is "arm64"`}},
		{name: "amd64 control plane with Graviton", cfg: map[string]string{"controlPlane": `{"instanceType":"r8g.large"}`}, keys: []string{"controlPlane.instanceType", `arch is "amd64"`}},
		{name: "Mac control plane", cfg: map[string]string{"controlPlane": `{"instanceType":"mac2-m2.metal","arch":"arm64"}`}, keys: []string{"controlPlane.instanceType", "macOS"}},
		{name: "paravirtual worker family", cfg: map[string]string{"workerPools": `[{"name":"w","instanceTypes":["m7i.large","c1.xlarge"]}]`}, keys: []string{"workerPools[0].instanceTypes[1]", "paravirtual"}},
		{name: "nano worker", cfg: map[string]string{"workerPools": `[{"name":"w","instanceTypes":["t3a.nano"]}]`}, keys: []string{"workerPools[0].instanceTypes[0]", "1 GiB"}},
		// Talos
		{name: "JSON6902 patch", cfg: map[string]string{"workerPools": pool(`,"configPatches":["[{\"op\":\"replace\",\"path\":\"/machine/kubelet/image\",\"value\":\"x\"}]"]`)},
			keys: []string{"workerPools[0].configPatches[0]", "JSON6902", "strategic merge"}},
		{name: "JSON6902 patch in YAML", cfg: map[string]string{"workerPools": pool(`,"configPatches":["- op: add\n  path: /machine/sysctls\n  value: {}\n"]`)},
			keys: []string{"workerPools[0].configPatches[0]", "JSON6902"}},
		{name: "empty patch", cfg: map[string]string{"workerPools": pool(`,"configPatches":[""]`)}, keys: []string{"workerPools[0].configPatches[0]", "empty patch"}},
		{name: "empty object patch", cfg: map[string]string{"workerPools": pool(`,"configPatches":["{}"]`)}, keys: []string{"workerPools[0].configPatches[0]", "empty object"}},
		{name: "patch as file name", cfg: map[string]string{"workerPools": pool(`,"configPatches":["patch.yaml"]`)}, keys: []string{"workerPools[0].configPatches[0]", "file name"}},
		{name: "missing Talos AMI", noAMI: []string{"amd64"}, keys: []string{"talosVersion", "v1.13.13", "amd64", "ap-southeast-1", "amiIdAmd64"}},
		{name: "missing arm64 Talos AMI", noAMI: []string{"arm64"},
			cfg:  map[string]string{"workerPools": `[{"name":"g","arch":"arm64","instanceTypes":["m7g.large"]}]`},
			keys: []string{"talosVersion", "arm64", "amiIdArm64"}},
		// Pools that look like the control plane
		{name: "pool named cp", cfg: map[string]string{"workerPools": `[{"name":"cp","instanceTypes":["m7i.large"]}]`}, keys: []string{"workerPools[0].name", "reserved"}},
		{name: "pool named control-plane", cfg: map[string]string{"workerPools": `[{"name":"control-plane","instanceTypes":["m7i.large"]}]`}, keys: []string{"workerPools[0].name", "reserved"}},
		// Reporting
		{name: "type error does not hide value error", cfg: map[string]string{"azCount": "two", "serviceCidr": "10.0.0.0/10"},
			keys: []string{`azCount: Invalid value: expected a whole number, got "two"`, "serviceCidr"}},
		{name: "config error does not hide Talos patch error", cfg: map[string]string{"natStrategy": "none",
			"workerPools": pool(`,"configPatches":["machine:\n  kubelet:\n    nodeIP:\n      validSubnets: [\"bad\"]\n"]`)},
			keys: []string{"natStrategy", "workerPools[0].configPatches[0]: Invalid value: Talos rejects"}},
		{name: "one bad pool does not hide the next", cfg: map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"minSize":"two"},{"name":"b","instanceTypes":["m7i.large"],"configPatches":["machine:\n  kubelet:\n    nodeIP:\n      validSubnets: [\"bad\"]\n"]},{"name":"c","instanceTypes":["m7i.large"],"maxSize":0}]`},
			keys: []string{`workerPools[0].minSize: Invalid value: expected a number, got "two"`, "workerPools[1].configPatches[0]: Invalid value: Talos rejects", "workerPools[2].maxSize"}},
		{name: "AZ check joins the rest", cfg: map[string]string{"availabilityZones": `["ap-southeast-1d"]`, "natStrategy": "none"},
			keys: []string{"availabilityZones[0]", "natStrategy"}},
		{name: "missing AMI joins the rest", noAMI: []string{"amd64"}, cfg: map[string]string{"natStrategy": "none"},
			keys: []string{"talosVersion", "amiIdAmd64", "natStrategy"}},
	}
}

// Every limit through the real entry point: the program fails naming every
// key, registers nothing but the AWS provider, never panics, speaks config.
func TestLimitsEndToEnd(t *testing.T) {
	cases := limitCases()
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{"adminCidrs": admin}
			for k, v := range tc.cfg {
				cfg[k] = v
			}
			expectRejected(t, &testkit.Mocks{Preview: true, NoAMI: tc.noAMI}, cfg, tc.keys...)
		})
	}
}

// Warnings do not fail a preview, and they reach its log, through the real
// entry point. (An undersized control plane and an unknown key were
// warnings once; they are errors now: TestIssue20Classes.)
func TestWarningsReachThePreviewLog(t *testing.T) {
	m := &testkit.Mocks{Preview: true}
	cfg := map[string]string{
		"adminCidrs":        `["10.1.2.3/32"]`,
		"controlPlane":      `{"count":3}`,
		"availabilityZones": `["ap-southeast-1a"]`,
		"addons":            `{"cilium":{"version":"1.99.0"}}`,
	}
	if _, err := testkit.Run(t, m, cfg, program); err != nil {
		t.Fatalf("warnings must not fail a preview: %v", err)
	}
	logs := strings.Join(m.Logs, "\n")
	for _, want := range []string{
		"warning: controlPlane.count",                      // three nodes forced into one zone
		"warning: adminCidrs[0]: 10.1.2.3/32 is a private", // admits nobody through the public NLB
		"warning: addons.cilium.version: 1.99.0 is newer than the pinned",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("preview log lacks %q:\n%s", want, logs)
		}
	}
}

// Each class of input that apply or the cluster would reject, with several
// members each, through the real program: every error at once, with its
// key path, before any resource but the provider is registered.
func TestIssue20Classes(t *testing.T) {
	for _, tc := range []limitCase{
		{name: "undersized control plane and worker", cfg: map[string]string{
			"controlPlane": `{"count":3,"instanceType":"t3.micro"}`,
			"workerPools":  pool(`,"instanceTypes":["m7i.large","t3.nano"]`)},
			keys: []string{"controlPlane.instanceType", "2 GiB", "workerPools[0].instanceTypes[1]", "1 GiB"}},
		{name: "one-vCPU control plane and Mac worker", cfg: map[string]string{
			"controlPlane": `{"count":3,"instanceType":"m6g.medium","arch":"arm64"}`,
			"workerPools":  pool(`,"instanceTypes":["mac2.metal"],"arch":"arm64"`)},
			keys: []string{"controlPlane.instanceType", "workerPools[0].instanceTypes[0]"}},
		{name: "patches that change what the stack owns", cfg: map[string]string{
			"workerPools": pool(`,"configPatches":["machine:\n  kubelet:\n    extraArgs:\n      v: \"2\"\n","cluster:\n  network:\n    cni:\n      name: flannel\n","machine:\n  type: controlplane\n","cluster:\n  controlPlane:\n    endpoint: https://example.com:6443\n","cluster:\n  network:\n    podSubnets: [10.0.0.0/8]\n"]`)},
			keys: []string{"workerPools[0].configPatches[1]", "cluster.network.cni", "workerPools[0].configPatches[2]", "machine.type",
				"workerPools[0].configPatches[3]", "cluster.controlPlane.endpoint", "workerPools[0].configPatches[4]", "podSubnets"}},
		{name: "misspelled top-level keys", cfg: map[string]string{"workerPool": pool(""), "regoin": "eu-west-1", "zzzz": "1"},
			keys: []string{`workerPool: Invalid value: unknown key; did you mean "workerPools"?`, `did you mean "region"?`, "zzzz"}},
		{name: "misspelled nested field in the third pool", cfg: map[string]string{"workerPools": `[` +
			`{"name":"a","instanceTypes":["m7i.large"],"minSize":1,"maxSize":2,"desiredCapacity":1},` +
			`{"name":"b","instanceTypes":["m7i.large"],"minSize":1,"maxSize":2,"desiredCapacity":1},` +
			`{"name":"c","instanceTyps":["m7i.large"],"minSize":1,"maxSize":2,"desiredCapacity":1}]`},
			keys: []string{"workerPools[2].instanceTyps", `did you mean "instanceTypes"?`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{"adminCidrs": admin}
			for k, v := range tc.cfg {
				cfg[k] = v
			}
			expectRejected(t, &testkit.Mocks{Preview: true}, cfg, tc.keys...)
		})
	}
}
