package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// src builds a Source from a map, always with a valid adminCidrs unless overridden.
func src(kv map[string]string) Source {
	m := map[string]string{"adminCidrs": `["203.0.113.10/32"]`}
	for k, v := range kv {
		if v == "<unset>" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return MapSource(m)
}

func TestDefaults(t *testing.T) {
	cfg, warnings, err := Parse(src(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("defaults should not warn: %v", warnings)
	}
	if cfg.Region != "ap-southeast-1" || cfg.VPCCIDR != "10.0.0.0/16" || cfg.AZCount != 3 || cfg.NATStrategy != NATPerAZ {
		t.Errorf("unexpected network defaults: %+v", cfg)
	}
	if cfg.TalosVersion != DefaultTalosVersion || cfg.KubernetesVersion != DefaultKubernetesVersion {
		t.Errorf("versions: %s %s", cfg.TalosVersion, cfg.KubernetesVersion)
	}
	if cfg.ControlPlane.Count != 3 || !reflect.DeepEqual(cfg.IngressCIDRs, []string{"0.0.0.0/0"}) {
		t.Errorf("control plane / ingress defaults: %+v %v", cfg.ControlPlane, cfg.IngressCIDRs)
	}
	if len(cfg.WorkerPools) != 1 || cfg.WorkerPools[0].Name != "general" {
		t.Errorf("pools: %+v", cfg.WorkerPools)
	}
}

func TestPartialObjectsKeepDefaults(t *testing.T) {
	cfg, _, err := Parse(src(map[string]string{
		"controlPlane": `{"count":1}`,
		"addons":       `{"cilium":{"hubble":true}}`,
		"workerPools":  `[{"name":"gpu","instanceTypes":["g5.xlarge"],"image":` + gpuImage + `}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ControlPlane.InstanceType != defaultControlPlaneType || cfg.ControlPlane.RootVolume.Type != "gp3" {
		t.Errorf("control-plane defaults lost: %+v", cfg.ControlPlane)
	}
	if !cfg.Addons.Cilium.Enabled || cfg.Addons.Cilium.Version != CiliumChartVersion || !cfg.Addons.Cilium.Hubble {
		t.Errorf("cilium defaults lost: %+v", cfg.Addons.Cilium)
	}
	if p := cfg.WorkerPools[0]; p.Arch != ArchAMD64 || p.RootVolume.SizeGiB != defaultWorkerVolumeSizeGiB || p.MaxSize != 3 {
		t.Errorf("pool defaults lost: %+v", p)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		kv   map[string]string
		want []string // substrings that must all appear, each naming the key path
	}{
		{"missing admin CIDRs", map[string]string{"adminCidrs": "<unset>"},
			[]string{"adminCidrs: Required value", "pulumi config set --path 'adminCidrs[0]'"}},
		{"malformed admin CIDR", map[string]string{"adminCidrs": `["1.2.3.4/33"]`}, []string{"adminCidrs[0]: Invalid value"}},
		{"admin CIDR host bits", map[string]string{"adminCidrs": `["10.1.2.3/8"]`}, []string{"adminCidrs[0]", "did you mean 10.0.0.0/8"}},
		{"duplicate admin CIDR", map[string]string{"adminCidrs": `["198.51.100.0/24","198.51.100.0/24"]`}, []string{"adminCidrs[1]: Duplicate value"}},
		{"adminCidrs not a list", map[string]string{"adminCidrs": `1.2.3.4/32`}, []string{"adminCidrs: Invalid value", "list of strings"}},
		{"malformed ingress CIDR", map[string]string{"ingressCidrs": `["everywhere"]`}, []string{"ingressCidrs[0]: Invalid value"}},
		{"malformed VPC CIDR", map[string]string{"vpcCidr": "10.0.0.0"}, []string{"vpcCidr: Invalid value"}},
		{"VPC too small", map[string]string{"vpcCidr": "10.0.0.0/24"}, []string{"vpcCidr: Invalid value", "/16 to /21"}},
		{"VPC too large", map[string]string{"vpcCidr": "10.0.0.0/12", "podCidr": "192.168.0.0/16", "serviceCidr": "172.16.0.0/16"}, []string{"vpcCidr: Invalid value"}},
		{"pod CIDR overlaps VPC", map[string]string{"podCidr": "10.0.128.0/17"}, []string{"podCidr: Invalid value", "overlaps vpcCidr"}},
		{"service CIDR overlaps pods", map[string]string{"serviceCidr": "10.244.0.0/20"}, []string{"serviceCidr: Invalid value", "overlaps podCidr"}},
		{"IPv6 VPC", map[string]string{"vpcCidr": "fd00::/56"}, []string{"vpcCidr: Invalid value"}},
		{"unknown NAT strategy", map[string]string{"natStrategy": "perZone"}, []string{`natStrategy: Unsupported value: "perZone"`, `"single", "perAz"`}},
		{"AZ count zero", map[string]string{"azCount": "0"}, []string{"azCount: Invalid value", "between 1 and 6"}},
		{"AZ count seven", map[string]string{"azCount": "7"}, []string{"azCount: Invalid value"}},
		{"AZ count not a number", map[string]string{"azCount": "three"}, []string{`azCount: Invalid value: expected a whole number, got "three"`}},
		{"AZ of other region", map[string]string{"availabilityZones": `["us-east-1a"]`}, []string{"availabilityZones[0]: Unsupported value"}},
		{"duplicate AZ", map[string]string{"availabilityZones": `["ap-southeast-1a","ap-southeast-1a"]`}, []string{"availabilityZones[1]: Duplicate value"}},
		{"bad region", map[string]string{"region": "Singapore"}, []string{"region: Invalid value"}},
		{"even control plane", map[string]string{"controlPlane": `{"count":2}`}, []string{"controlPlane.count: Unsupported value: 2", `"1", "3", "5"`}},
		{"zero control plane", map[string]string{"controlPlane": `{"count":0}`}, []string{"controlPlane.count: Unsupported value: 0"}},
		{"control plane arch mismatch", map[string]string{"controlPlane": `{"instanceType":"m7g.large"}`}, []string{"controlPlane.instanceType: Invalid value", "arm64 instance type but arch is \"amd64\""}},
		{"control plane unknown arch", map[string]string{"controlPlane": `{"arch":"x86"}`}, []string{"controlPlane.arch: Unsupported value", `"amd64", "arm64"`}},
		{"control plane unknown field", map[string]string{"controlPlane": `{"cuont":3}`}, []string{"controlPlane.cuont: Invalid value: unknown key", `did you mean "count"?`}},
		{"root volume too small", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":8,"type":"gp3"}}`}, []string{"controlPlane.rootVolume.sizeGiB: Invalid value"}},
		{"root volume type", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"st1"}}`}, []string{"controlPlane.rootVolume.type: Unsupported value"}},
		{"min > max", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"minSize":5,"maxSize":2,"desiredCapacity":3}]`},
			[]string{"workerPools[0].minSize: Invalid value: 5: must be <= maxSize (2)", "workerPools[0].desiredCapacity: Invalid value"}},
		{"desired > max", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"minSize":1,"maxSize":2,"desiredCapacity":3}]`},
			[]string{"workerPools[0].desiredCapacity: Invalid value: 3"}},
		{"duplicate pool names", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"a","instanceTypes":["m7i.large"]}]`},
			[]string{`workerPools[1].name: Duplicate value: "a"`}},
		{"invalid pool name", map[string]string{"workerPools": `[{"name":"Big_Pool","instanceTypes":["m7i.large"]}]`}, []string{"workerPools[0].name: Invalid value"}},
		{"pool name too long", map[string]string{"workerPools": `[{"name":"abcdefghijklmnopqrstuvwxyz","instanceTypes":["m7i.large"]}]`}, []string{"workerPools[0].name: Too long"}},
		{"no pools", map[string]string{"workerPools": `[]`}, []string{"workerPools: Required value"}},
		{"pool arch mismatch", map[string]string{"workerPools": `[{"name":"a","arch":"arm64","instanceTypes":["m7g.large","c7i.large"]}]`},
			[]string{"workerPools[0].instanceTypes[1]: Invalid value", "amd64 instance type but arch is \"arm64\""}},
		{"bad instance type", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["large"]}]`}, []string{"workerPools[0].instanceTypes[0]: Invalid value"}},
		{"invalid label key", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"labels":{"bad key":"x"}}]`}, []string{"workerPools[0].labels: Invalid value"}},
		{"invalid label value", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"labels":{"team":"a b"}}]`}, []string{"workerPools[0].labels.team: Invalid value"}},
		{"invalid taint effect", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"taints":[{"key":"gpu","effect":"NoRun"}]}]`},
			[]string{"workerPools[0].taints[0].effect: Unsupported value", `"NoSchedule", "PreferNoSchedule", "NoExecute"`}},
		{"invalid taint key", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"taints":[{"key":"/x","effect":"NoSchedule"}]}]`}, []string{"workerPools[0].taints[0].key: Invalid value"}},
		{"patch not YAML", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"configPatches":["machine: [unclosed"]}]`},
			[]string{"workerPools[0].configPatches[0]: Invalid value", "not a valid Talos strategic merge patch"}},
		{"malformed Talos version", map[string]string{"talosVersion": "1.12"}, []string{"talosVersion: Invalid value", "vMAJOR.MINOR.PATCH"}},
		{"unsupported Talos version", map[string]string{"talosVersion": "v1.15.0"}, []string{"talosVersion: Unsupported value", `"v1.12.x", "v1.13.x"`}},
		{"Talos 1.14", map[string]string{"talosVersion": "v1.14.7", "kubernetesVersion": "1.36.3"}, []string{"talosVersion: Unsupported value", `"v1.12.x", "v1.13.x"`, "KubeAPIServerConfig", "installer"}},
		{"Talos 1.11", map[string]string{"talosVersion": "v1.11.5", "kubernetesVersion": "1.34.0"}, []string{"talosVersion: Unsupported value", "move a 1.11 stack to v1.12.x first"}},
		{"malformed Kubernetes version", map[string]string{"kubernetesVersion": "v1.35.0"}, []string{"kubernetesVersion: Invalid value", "without a leading v"}},
		{"unsupported pair", map[string]string{"talosVersion": "v1.12.0", "kubernetesVersion": "1.29.5"}, []string{"kubernetesVersion: Unsupported value", "1.30.0-1.35.x"}},
		{"too new Kubernetes", map[string]string{"talosVersion": "v1.12.11", "kubernetesVersion": "1.36.0"}, []string{"kubernetesVersion: Unsupported value", "1.30.0-1.35.x (supported by Talos v1.12.11)"}},
		{"too old Kubernetes for 1.13", map[string]string{"talosVersion": "v1.13.13", "kubernetesVersion": "1.30.14"}, []string{"kubernetesVersion: Unsupported value", "1.31.0-1.36.x (supported by Talos v1.13.13)"}},
		{"Kubernetes 1.37", map[string]string{"kubernetesVersion": "1.37.0"}, []string{"kubernetesVersion: Unsupported value", "1.31.0-1.36.x"}},
		{"Xen worker on Talos 1.13", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large","t2.large"]}]`},
			[]string{"workerPools[0].instanceTypes[1]: Invalid value: \"t2.large\"", "boot UEFI only", "Xen-based"}},
		{"Xen pool with an image on Talos 1.12", map[string]string{"talosVersion": "v1.12.11", "kubernetesVersion": "1.35.10",
			"workerPools": `[{"name":"a","instanceTypes":["m4.large"],"image":{"extensions":["siderolabs/iscsi-tools"]}}]`},
			[]string{"workerPools[0].instanceTypes[0]: Invalid value: \"m4.large\"", "the AMI `up` builds for this role's image boots UEFI only", "Xen-based"}},
		{"bare metal control plane with the cluster's image on Talos 1.12", map[string]string{"talosVersion": "v1.12.11", "kubernetesVersion": "1.35.10",
			"controlPlane": `{"instanceType":"m5.metal"}`, "image": `{"extensions":["siderolabs/iscsi-tools"]}`},
			[]string{"controlPlane.instanceType: Invalid value", "the AMI `up` builds for this role's image boots UEFI only", "bare metal"}},
		{"bare metal control plane on Talos 1.13", map[string]string{"controlPlane": `{"instanceType":"m7i.metal-24xl"}`},
			[]string{"controlPlane.instanceType: Invalid value", "bare metal"}},
		{"cluster name too long for LB names", map[string]string{"clusterName": "a-very-long-cluster-name-xyz"}, []string{"clusterName: Too long", "AWS allows 32"}},
		{"cluster name invalid", map[string]string{"clusterName": "Prod_Cluster"}, []string{"clusterName: Invalid value"}},
		{"chart version range", map[string]string{"addons": `{"cilium":{"version":"^1.19"}}`}, []string{"addons.cilium.version: Invalid value"}},
		{"unknown add-on", map[string]string{"addons": `{"cillium":{}}`}, []string{"addons.cillium: Invalid value: unknown key", `did you mean "cilium"?`}},
		{"metrics without approver", map[string]string{"addons": `{"csrApprover":{"enabled":false}}`}, []string{"addons.metricsServer.enabled: Forbidden"}},
		{"root app without repo", map[string]string{"addons": `{"argocd":{"rootApp":{"path":"apps"}}}`}, []string{"addons.argocd.rootApp.repoURL: Required value"}},
		{"root app bad URL", map[string]string{"addons": `{"argocd":{"rootApp":{"repoURL":"github.com/x/y"}}}`}, []string{"addons.argocd.rootApp.repoURL: Invalid value"}},
		{"bad AMI id", map[string]string{"amiIdAmd64": "talos-1.12"}, []string{"amiIdAmd64: Invalid value"}},
		{"reserved tag", map[string]string{"tags": `{"aws:owner":"x"}`}, []string{"tags: Invalid value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse(src(tt.kv))
			if err == nil {
				t.Fatalf("want error, got config %+v", cfg)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %T", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%s", w, err)
				}
			}
		})
	}
}

// Every problem is reported at once, not just the first.
func TestAllErrorsAtOnce(t *testing.T) {
	_, _, err := Parse(src(map[string]string{
		"adminCidrs":   "<unset>",
		"natStrategy":  "two",
		"controlPlane": `{"count":4}`,
		"vpcCidr":      "10.0.0.0/26",
	}))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	got := map[string]bool{}
	for _, e := range ve.Errors {
		got[e.Path] = true
	}
	for _, p := range []string{"adminCidrs", "natStrategy", "controlPlane.count", "vpcCidr"} {
		if !got[p] {
			t.Errorf("missing error for %s in %v", p, err)
		}
	}
}

func TestWarnings(t *testing.T) {
	_, warnings, err := Parse(src(map[string]string{
		"adminCidrs":   `["0.0.0.0/0"]`,
		"controlPlane": `{"count":1}`,
		"addons":       `{"awsCloudControllerManager":{"imageTag":"v1.33.0"}}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warnings, "\n")
	for _, w := range []string{"adminCidrs[0]: 0.0.0.0/0 opens", "controlPlane.count: 1 control-plane node", "controlPlane.count: 1 control-plane node: the etcd guard hands a live node over", "if the node dies etcd dies with it", "imageTag: v1.33.0 does not match"} {
		if !strings.Contains(joined, w) {
			t.Errorf("missing warning %q in:\n%s", w, joined)
		}
	}
}

func TestInstanceArch(t *testing.T) {
	for it, want := range map[string]Arch{
		"m7g.large": ArchARM64, "c7gn.xlarge": ArchARM64, "r8gd.large": ArchARM64, "t4g.small": ArchARM64,
		"x2gd.large": ArchARM64, "im4gn.large": ArchARM64, "a1.large": ArchARM64, "g5g.xlarge": ArchARM64,
		"m7i.large": ArchAMD64, "m7i-flex.large": ArchAMD64, "c7a.large": ArchAMD64, "g5.xlarge": ArchAMD64,
		"t3.medium": ArchAMD64, "m5dn.large": ArchAMD64, "inf2.xlarge": ArchAMD64,
	} {
		if got, ok := InstanceArch(it); !ok || got != want {
			t.Errorf("InstanceArch(%s) = %s, %v; want %s", it, got, ok, want)
		}
	}
}

func TestArches(t *testing.T) {
	cfg, _, err := Parse(src(map[string]string{
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"b","arch":"arm64","instanceTypes":["m7g.large","m6g.large"],"spot":true}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Arches(); !reflect.DeepEqual(got, []Arch{ArchAMD64, ArchARM64}) {
		t.Errorf("Arches() = %v", got)
	}
}

// `pulumi config set --path` turns "true" and "42" into a boolean and a number.
func TestScalarValuesFromPath(t *testing.T) {
	cfg, _, err := Parse(src(map[string]string{
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"labels":{"gpu":true,"rack":42},"taints":[{"key":"spot","value":true,"effect":"NoSchedule"}]},
			{"name":"b","instanceTypes":["m7i.large"]}]`,
		"tags": `{"cost-center":1234}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.WorkerPools[0]
	if p.Labels["gpu"] != "true" || p.Labels["rack"] != "42" || p.Taints[0].Value != "true" || cfg.Tags["cost-center"] != "1234" {
		t.Errorf("scalars not kept as text: %v %v %v", p.Labels, p.Taints, cfg.Tags)
	}
	if _, _, err := Parse(src(map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"taints":[{"key":"k","effect":"NoSchedule","efect":"x"}]}]`})); err == nil ||
		!strings.Contains(err.Error(), `workerPools[0]`) || !strings.Contains(err.Error(), "efect") {
		t.Errorf("unknown taint field must be rejected: %v", err)
	}
	if _, _, err := Parse(src(map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"labels":{"x":{"y":1}}}]`})); err == nil {
		t.Error("a nested label value must be rejected")
	}
}

// Every error and warning about one element of a list names it by index,
// nested lists too (workerPools[1].taints[2].effect): each list-valued key
// of the schema, each kind of check.
func TestListElementPaths(t *testing.T) {
	pools := func(second string) string {
		return `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"b","instanceTypes":["m7i.large"]` + second + `}]`
	}
	for _, tt := range []struct {
		name    string
		kv      map[string]string
		want    string
		warning bool
	}{
		// adminCidrs, ingressCidrs
		{"admin CIDR not a string", map[string]string{"adminCidrs": `["203.0.113.1/32",5]`}, "adminCidrs[1]: Invalid value: expected a string, got 5", false},
		{"admin CIDR malformed", map[string]string{"adminCidrs": `["203.0.113.1/32","203.0.113.2"]`}, `adminCidrs[1]: Invalid value: "203.0.113.2"`, false},
		{"admin CIDR IPv6", map[string]string{"adminCidrs": `["203.0.113.1/32","2001:db8::/64"]`}, "adminCidrs[1]: Invalid value", false},
		{"admin CIDR duplicate", map[string]string{"adminCidrs": `["203.0.113.1/32","198.51.100.0/24","203.0.113.1/32"]`},
			`adminCidrs[2]: Duplicate value: "203.0.113.1/32": same as adminCidrs[0]`, false},
		{"admin CIDR duplicate once masked", map[string]string{"adminCidrs": `["203.0.113.1/32","203.0.113.1/32"]`}, "same as adminCidrs[0]", false},
		{"ingress CIDR object", map[string]string{"ingressCidrs": `["0.0.0.0/0",{"cidr":"x"}]`}, "ingressCidrs[1]: Invalid value: expected a string, got an object", false},
		{"ingress CIDR host bits", map[string]string{"ingressCidrs": `["0.0.0.0/0","192.0.2.1/24"]`}, "ingressCidrs[1]: Invalid value", false},
		{"ingress CIDR duplicate", map[string]string{"ingressCidrs": `["192.0.2.0/24","192.0.2.0/24"]`}, "ingressCidrs[1]: Duplicate value: \"192.0.2.0/24\": same as ingressCidrs[0]", false},
		{"admin CIDR private", map[string]string{"adminCidrs": `["203.0.113.1/32","10.0.0.0/8"]`}, "adminCidrs[1]: 10.0.0.0/8 is a private", true},
		{"admin CIDR everything", map[string]string{"adminCidrs": `["203.0.113.1/32","0.0.0.0/0"]`}, "adminCidrs[1]: 0.0.0.0/0 opens", true},
		// jumpHost
		{"jump host with a public API", map[string]string{"jumpHost": "true"},
			`jumpHost: Forbidden: apiAccess is "public": the APIs are on the public load balancer, and the jump host forwards only to the internal one; set apiAccess private, or remove jumpHost`, false},
		{"jump host not a boolean", map[string]string{"jumpHost": `"yes"`}, "jumpHost: Invalid value", false},
		// availabilityZones
		{"zone not a string", map[string]string{"availabilityZones": `["ap-southeast-1a",true]`}, "availabilityZones[1]: Invalid value: expected a string, got true", false},
		{"zone of another region", map[string]string{"availabilityZones": `["ap-southeast-1a","eu-west-1a"]`}, `availabilityZones[1]: Unsupported value: "eu-west-1a"`, false},
		{"zone duplicate", map[string]string{"availabilityZones": `["ap-southeast-1a","ap-southeast-1b","ap-southeast-1a"]`},
			`availabilityZones[2]: Duplicate value: "ap-southeast-1a": same as availabilityZones[0]`, false},
		// workerPools and their lists
		{"pool not an object", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},"b"]`}, `workerPools[1]: Invalid value: expected an object, got "b"`, false},
		{"pool name", map[string]string{"workerPools": pools(`,"name":"B"`)}, `workerPools[1].name: Invalid value: "B"`, false},
		{"pool name duplicate", map[string]string{"workerPools": pools(`,"name":"a"`)}, `workerPools[1].name: Duplicate value: "a": same as workerPools[0].name`, false},
		{"pool size", map[string]string{"workerPools": pools(`,"maxSize":0,"minSize":0,"desiredCapacity":0`)}, "workerPools[1].maxSize: Invalid value", false},
		{"instance type not a string", map[string]string{"workerPools": pools(`,"instanceTypes":["m7i.large",7]`)}, "workerPools[1].instanceTypes[1]: Invalid value: expected a string, got 7", false},
		{"instance type malformed", map[string]string{"workerPools": pools(`,"instanceTypes":["m7i.large","big"]`)}, `workerPools[1].instanceTypes[1]: Invalid value: "big"`, false},
		{"instance type duplicate", map[string]string{"workerPools": pools(`,"instanceTypes":["m7i.large","c7i.large","m7i.large"]`)},
			`workerPools[1].instanceTypes[2]: Duplicate value: "m7i.large": same as workerPools[1].instanceTypes[0]`, false},
		{"instance type arch", map[string]string{"workerPools": pools(`,"instanceTypes":["m7i.large","m7g.large"]`)}, `workerPools[1].instanceTypes[1]: Invalid value: "m7g.large": is an arm64`, false},
		{"instance type size", map[string]string{"workerPools": pools(`,"instanceTypes":["m7i.large","t3.nano"]`)}, `workerPools[1].instanceTypes[1]: Invalid value: "t3.nano": has 0.5 GiB`, false},
		{"instance type family", map[string]string{"workerPools": pools(`,"instanceTypes":["m7i.large","mac1.metal"]`)}, `workerPools[1].instanceTypes[1]: Invalid value: "mac1.metal"`, false},
		{"taint not an object", map[string]string{"workerPools": pools(`,"taints":[{"key":"a","effect":"NoSchedule"},"b=c:NoSchedule"]`)},
			"workerPools[1].taints[1]: Invalid value: expected an object {key, value, effect}", false},
		{"taint field type", map[string]string{"workerPools": pools(`,"taints":[{"key":"a","effect":"NoSchedule"},{"key":1,"effect":"NoSchedule"}]`)},
			"workerPools[1].taints[1].key: Invalid value: expected a string, got 1", false},
		{"taint key", map[string]string{"workerPools": pools(`,"taints":[{"key":"a","effect":"NoSchedule"},{"key":"a b","effect":"NoSchedule"}]`)}, "workerPools[1].taints[1].key: Invalid value", false},
		{"taint value", map[string]string{"workerPools": pools(`,"taints":[{"key":"a","effect":"NoSchedule"},{"key":"b","value":"x y","effect":"NoSchedule"}]`)}, "workerPools[1].taints[1].value: Invalid value", false},
		{"taint effect", map[string]string{"workerPools": pools(`,"taints":[{"key":"a","effect":"NoSchedule"},{"key":"b","effect":"NoSchedule"},{"key":"c","effect":"Never"}]`)},
			`workerPools[1].taints[2].effect: Unsupported value: "Never"`, false},
		{"taint duplicate", map[string]string{"workerPools": pools(`,"taints":[{"key":"a","effect":"NoSchedule"},{"key":"a","value":"x","effect":"NoSchedule"}]`)},
			`workerPools[1].taints[1]: Duplicate value: "a:NoSchedule": same as workerPools[1].taints[0]`, false},
		{"taint tag key", map[string]string{"workerPools": pools(`,"taints":[{"key":"a","effect":"NoSchedule"},{"key":"` + longPrefix + `/` + strings.Repeat("a", 63) + `","effect":"NoSchedule"}]`)},
			"workerPools[1].taints[1].key: Too long", false},
		{"patch not a string", map[string]string{"workerPools": pools(`,"configPatches":["machine:\n  sysctls:\n    a: \"1\"\n",{"machine":{}}]`)},
			"workerPools[1].configPatches[1]: Invalid value: expected a string, got an object", false},
		{"patch empty", map[string]string{"workerPools": pools(`,"configPatches":["machine:\n  sysctls:\n    a: \"1\"\n",""]`)}, "workerPools[1].configPatches[1]: Invalid value", false},
		{"patch unreadable", map[string]string{"workerPools": pools(`,"configPatches":["machine:\n  sysctls:\n    a: \"1\"\n","machine: [x"]`)}, "workerPools[1].configPatches[1]: Invalid value: not a valid Talos", false},
		{"spot-only pool", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"taints":[{"key":"a","effect":"NoSchedule"}]},
			{"name":"b","instanceTypes":["m7i.large","m6i.large"],"spot":true,"minSize":1,"desiredCapacity":1}]`}, "workerPools[1]: the only pool that can run Argo CD", true},
		{"one-type spot pool", map[string]string{"workerPools": pools(`,"spot":true`)}, "workerPools[1].instanceTypes: a spot pool with one instance type", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, w, err := Parse(src(tt.kv))
			got := strings.Join(w, "\n")
			if !tt.warning {
				if err == nil {
					t.Fatalf("accepted; want %q", tt.want)
				}
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("want %q in:\n%s", tt.want, got)
			}
		})
	}
}

// SelectAZs names the zone the account does not offer by its index.
func TestSelectAZsNamesTheElement(t *testing.T) {
	cfg, _, err := Parse(src(map[string]string{"availabilityZones": `["ap-southeast-1a","ap-southeast-1c","ap-southeast-1b"]`}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = SelectAZs(cfg, []string{"ap-southeast-1a", "ap-southeast-1b"})
	if err == nil || !strings.Contains(err.Error(), `availabilityZones[1]: Unsupported value: "ap-southeast-1c": allowed values: "ap-southeast-1a", "ap-southeast-1b"`) {
		t.Errorf("got %v", err)
	}
}
