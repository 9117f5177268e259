package program

import (
	"fmt"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/testkit"
)

func pool(extra string) string {
	return `[{"name":"w","instanceTypes":["m7i.large"]` + extra + `}]`
}

// Every broken configuration goes through the real entry point: it must
// fail naming the key, register nothing, and never panic.
func TestBadInputEndToEnd(t *testing.T) {
	big := strings.Repeat("x", 17000)
	type badCase struct {
		name string
		cfg  map[string]string
		key  string
	}
	cases := []badCase{
		{"admin CIDRs missing", map[string]string{}, "adminCidrs: Required value"},
		{"admin CIDR malformed", map[string]string{"adminCidrs": `["300.1.1.1/32"]`}, "adminCidrs[0]"},
		{"admin CIDRs not a list", map[string]string{"adminCidrs": `203.0.113.1/32`}, "adminCidrs"},
		{"ingress CIDR malformed", map[string]string{"ingressCidrs": `["0.0.0.0"]`}, "ingressCidrs[0]"},
		{"VPC CIDR malformed", map[string]string{"vpcCidr": "10.0.0.0/33"}, "vpcCidr"},
		{"VPC too small", map[string]string{"vpcCidr": "10.0.0.0/24"}, "vpcCidr"},
		{"pod CIDR overlaps VPC", map[string]string{"podCidr": "10.0.0.0/16", "vpcCidr": "10.0.0.0/16"}, "podCidr"},
		{"service CIDR overlaps VPC", map[string]string{"serviceCidr": "10.0.0.0/12"}, "serviceCidr"},
		{"unknown NAT strategy", map[string]string{"natStrategy": "none"}, "natStrategy"},
		{"AZ count too high", map[string]string{"azCount": "9"}, "azCount"},
		{"more AZs than the region offers", map[string]string{"azCount": "5"}, "azCount"},
		{"AZ of another region", map[string]string{"availabilityZones": `["eu-west-1a"]`}, "availabilityZones[0]"},
		{"AZ not offered", map[string]string{"availabilityZones": `["ap-southeast-1d"]`}, "availabilityZones[0]"},
		{"duplicate AZ", map[string]string{"availabilityZones": `["ap-southeast-1a","ap-southeast-1a"]`}, "availabilityZones[1]"},
		{"region malformed", map[string]string{"region": "singapore"}, "region"},
		{"even control plane", map[string]string{"controlPlane": `{"count":4}`}, "controlPlane.count"},
		{"control plane arch mismatch", map[string]string{"controlPlane": `{"instanceType":"c7g.large"}`}, "controlPlane.instanceType"},
		{"control plane typo", map[string]string{"controlPlane": `{"instanceTyp":"m7i.large"}`}, "controlPlane"},
		{"control plane not an object", map[string]string{"controlPlane": `3`}, "controlPlane"},
		{"pool sizes inverted", map[string]string{"workerPools": pool(`,"minSize":4,"maxSize":2,"desiredCapacity":3`)}, "workerPools[0].minSize"},
		{"pool desired above max", map[string]string{"workerPools": pool(`,"minSize":1,"maxSize":2,"desiredCapacity":5`)}, "workerPools[0].desiredCapacity"},
		{"pool name invalid", map[string]string{"workerPools": `[{"name":"GPU pool","instanceTypes":["g5.xlarge"]}]`}, "workerPools[0].name"},
		{"pool names duplicate", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"a","instanceTypes":["m7i.large"]}]`}, "workerPools[1].name"},
		{"pool arch mismatch", map[string]string{"workerPools": pool(`,"arch":"arm64"`)}, "workerPools[0].instanceTypes[0]"},
		{"pool label invalid", map[string]string{"workerPools": pool(`,"labels":{"a b":"c"}`)}, "workerPools[0].labels"},
		{"pool taint effect invalid", map[string]string{"workerPools": pool(`,"taints":[{"key":"k","effect":"Never"}]`)}, "workerPools[0].taints[0].effect"},
		{"pool patch not YAML", map[string]string{"workerPools": pool(`,"configPatches":["machine: [oops"]`)}, "workerPools[0].configPatches[0]"},
		{"pool patch Talos rejects", map[string]string{"workerPools": pool(`,"configPatches":["machine:\n  kubelet:\n    nodeIP:\n      validSubnets: [\"bad\"]\n"]`)}, "workerPools[0].configPatches[0]: Invalid value: Talos rejects"},
		{"pool user data too large", map[string]string{"workerPools": pool(`,"configPatches":["machine:\n  files:\n    - op: create\n      path: /var/f\n      permissions: 0o644\n      content: ` + big + `\n"]`)}, "workerPools[0].configPatches: Too long"},
		{"no worker pools", map[string]string{"workerPools": `[]`}, "workerPools"},
		{"Talos version malformed", map[string]string{"talosVersion": "latest"}, "talosVersion"},
		{"Talos version unsupported", map[string]string{"talosVersion": "v1.9.5"}, "talosVersion"},
		{"Kubernetes too new for Talos", map[string]string{"kubernetesVersion": "1.37.0"}, "kubernetesVersion"},
		{"Kubernetes too new for Talos 1.12", map[string]string{"talosVersion": "v1.12.11", "kubernetesVersion": "1.36.3"}, "kubernetesVersion"},
		{"cluster name too long", map[string]string{"clusterName": "this-cluster-name-is-far-too-long"}, "clusterName"},
		{"chart version range", map[string]string{"addons": `{"argocd":{"version":"9.x"}}`}, "addons.argocd.version"},
		{"metrics without CSR approver", map[string]string{"addons": `{"csrApprover":{"enabled":false}}`}, "addons.metricsServer.enabled"},
		{"AMI id malformed", map[string]string{"amiIdArm64": "ami-xyz"}, "amiIdArm64"},
		{"reserved tag", map[string]string{"tags": `{"kubernetes.io/cluster/other":"owned"}`}, "tags.kubernetes.io/cluster/other"},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{"adminCidrs": admin}
			if tc.key == "adminCidrs: Required value" {
				cfg = map[string]string{}
			}
			for k, v := range tc.cfg {
				cfg[k] = v
			}
			expectRejected(t, &testkit.Mocks{}, cfg, tc.key)
		})
	}
}

// expectRejected runs the real entry point on a broken configuration: it
// must fail naming every key, speak config rather than Go, register nothing
// but providers, and never panic.
func expectRejected(t *testing.T, m *testkit.Mocks, cfg map[string]string, keys ...string) {
	t.Helper()
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
				t.Errorf("panicked: %v", r)
			}
		}()
		_, err = testkit.Run(t, m, cfg, program)
	}()
	if err == nil {
		t.Fatal("accepted")
	}
	t.Log(err)
	for _, k := range keys {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error does not name %q:\n%v", k, err)
		}
	}
	if g := goSpeak.FindString(err.Error()); g != "" {
		t.Errorf("error speaks Go (%q):\n%v", g, err)
	}
	for _, r := range m.Resources {
		if !strings.HasPrefix(r.Type, "pulumi:providers:") && r.Type != testkit.StackReference {
			t.Errorf("registered %s %s before failing", r.Type, r.Name)
		}
	}
}
