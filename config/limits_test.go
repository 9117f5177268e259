package config

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func poolJSON(extra string) string {
	return `[{"name":"a","instanceTypes":["m7i.large"]` + extra + `}]`
}

func manyTags(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"t%02d":"v"`, i))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// goTypeName matches what encoding/json and reflection leak: Go struct and
// field names, Go type names.
var goTypeName = regexp.MustCompile(`Go struct|Go value|of type (int|string|bool)|config\.[A-Z]|\bWorkerPool\b|\bRootVolume\b|\bControlPlane\b|json: |unmarshal`)

// Each AWS, Kubernetes and Talos limit, through Parse: the key path and the
// reason must appear, and no Go type name.
func TestLimits(t *testing.T) {
	tests := []struct {
		name string
		kv   map[string]string
		want []string
	}{
		{"service CIDR wider than /12", map[string]string{"serviceCidr": "10.96.0.0/11"}, []string{"serviceCidr: Invalid value", "at most /12"}},
		{"pod CIDR smaller than a node range", map[string]string{"podCidr": "10.244.0.0/25"}, []string{"podCidr: Invalid value", "every node a /24"}},
		{"pod CIDR too small for the nodes", map[string]string{"podCidr": "10.244.0.0/22",
			"workerPools": poolJSON(`,"maxSize":10,"desiredCapacity":2`)}, []string{"podCidr: Invalid value", "holds 4 node ranges of /24", "allows 13 nodes", "use /20 or larger"}},
		{"IPv6 pod CIDR", map[string]string{"podCidr": "fd00:10::/56"}, []string{"podCidr: Invalid value", "IPv6 is not supported"}},
		{"service host bits", map[string]string{"serviceCidr": "10.96.0.1/12"}, []string{"serviceCidr: Invalid value", "did you mean 10.96.0.0/12"}},
		{"cluster name makes internal- LB", map[string]string{"clusterName": "internal-prod"}, []string{"clusterName: Invalid value", `begins with "internal-"`}},
		{"cluster name internal", map[string]string{"clusterName": "internal"}, []string{"clusterName: Invalid value", `"internal-int"`}},
		{"too many SG rules", map[string]string{"adminCidrs": cidrList(30), "ingressCidrs": `["0.0.0.0/0"]`}, []string{"adminCidrs: Too long", "61 inbound rules", "allows 60"}},
		{"gp3 IOPS too low", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"gp3","iops":2000}}`}, []string{"controlPlane.rootVolume.iops: Invalid value: 2000", "3000-16000"}},
		{"gp3 IOPS too high", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":100,"type":"gp3","iops":20000}}`}, []string{"controlPlane.rootVolume.iops", "3000-16000"}},
		{"gp3 IOPS per GiB", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":20,"type":"gp3","iops":12000}}`}, []string{"controlPlane.rootVolume.iops", "500 IOPS per GiB", "at most 10000"}},
		{"gp3 throughput too high", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"gp3","throughput":1200}}`}, []string{"controlPlane.rootVolume.throughput", "125-1000 MiB/s"}},
		{"gp3 throughput too low", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"gp3","throughput":100}}`}, []string{"controlPlane.rootVolume.throughput", "125-1000"}},
		{"gp3 throughput per IOPS", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"gp3","throughput":1000}}`}, []string{"controlPlane.rootVolume.throughput", "0.25 MiB/s per IOPS", "iops to at least 4000"}},
		{"io1 per GiB", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"io1","iops":5000}}`}, []string{"controlPlane.rootVolume.iops", "50 IOPS per GiB"}},
		{"Mac instance", map[string]string{"controlPlane": `{"instanceType":"mac2.metal"}`}, []string{"controlPlane.instanceType: Invalid value", "macOS"}},
		{"paravirtual family", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m1.large"]}]`}, []string{"workerPools[0].instanceTypes[0]", "paravirtual"}},
		{"nano worker", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["t3.nano"]}]`}, []string{"workerPools[0].instanceTypes[0]", "below Talos' minimum"}},
		{"micro control plane", map[string]string{"controlPlane": `{"instanceType":"t3.micro"}`},
			[]string{`controlPlane.instanceType: Invalid value: "t3.micro": has 1 GiB of memory, below Talos' minimum of 2 GiB for a control-plane node`, "use t3.small or larger"}},
		{"one-vCPU control plane", map[string]string{"controlPlane": `{"instanceType":"m6g.medium","arch":"arm64"}`},
			[]string{`controlPlane.instanceType: Invalid value: "m6g.medium": has 1 vCPU, below Talos' minimum of 2 cores`, "use m6g.large or larger"}},
		{"Mac worker", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large","mac1.metal"]}]`}, []string{`workerPools[0].instanceTypes[1]: Invalid value: "mac1.metal"`, "macOS"}},
		{"paravirtual control plane", map[string]string{"controlPlane": `{"instanceType":"t1.micro"}`}, []string{`controlPlane.instanceType: Invalid value: "t1.micro"`, "paravirtual"}},
		{"nano in a later pool", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"b","instanceTypes":["m7i.large","t3a.large","t4g.nano"],"arch":"arm64"}]`},
			[]string{`workerPools[1].instanceTypes[2]: Invalid value: "t4g.nano": has 0.5 GiB of memory, below Talos' minimum of 1 GiB for a worker node`, "use t4g.micro or larger"}},
		{"restricted label node-role", map[string]string{"workerPools": poolJSON(`,"labels":{"node-role.kubernetes.io/gpu":""}`)}, []string{"workerPools[0].labels.node-role.kubernetes.io/gpu: Forbidden", "NodeRestriction"}},
		{"restricted label node-restriction", map[string]string{"workerPools": poolJSON(`,"labels":{"node-restriction.kubernetes.io/team":"a"}`)}, []string{"workerPools[0].labels.node-restriction.kubernetes.io/team: Forbidden"}},
		{"restricted label k8s.io", map[string]string{"workerPools": poolJSON(`,"labels":{"example.k8s.io/x":"a"}`)}, []string{"workerPools[0].labels.example.k8s.io/x: Forbidden"}},
		{"kubelet's own label", map[string]string{"workerPools": poolJSON(`,"labels":{"topology.kubernetes.io/zone":"a"}`)}, []string{"workerPools[0].labels.topology.kubernetes.io/zone: Forbidden"}},
		{"pool label reserved", map[string]string{"workerPools": poolJSON(`,"labels":{"node.talos-aws.io/pool":"x"}`)}, []string{"workerPools[0].labels.node.talos-aws.io/pool: Forbidden"}},
		{"duplicate taint", map[string]string{"workerPools": poolJSON(`,"taints":[{"key":"k","effect":"NoSchedule"},{"key":"k","value":"x","effect":"NoSchedule"}]`)}, []string{`workerPools[0].taints[1]: Duplicate value: "k:NoSchedule"`}},
		{"reserved pool name cp", map[string]string{"workerPools": `[{"name":"cp","instanceTypes":["m7i.large"]}]`}, []string{`workerPools[0].name: Forbidden`, "reserved"}},
		{"reserved pool name control-plane", map[string]string{"workerPools": `[{"name":"control-plane","instanceTypes":["m7i.large"]}]`}, []string{`workerPools[0].name: Forbidden`}},
		{"too many tags", map[string]string{"tags": manyTags(47)}, []string{"tags: Too long", "at most 46"}},
		{"pool tags over 50", map[string]string{"tags": manyTags(40), "workerPools": poolJSON(`,"labels":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"}`)},
			[]string{"workerPools[0].labels: Too long", "51 tags"}},
		{"autoscaler label tag key too long", map[string]string{"workerPools": poolJSON(`,"labels":{"` + longPrefix + `/` + strings.Repeat("a", 63) + `":"x"}`)},
			[]string{"workerPools[0].labels." + longPrefix + "/", "AWS allows 128"}},
		{"autoscaler taint tag key too long", map[string]string{"workerPools": poolJSON(`,"taints":[{"key":"` + longPrefix + `/` + strings.Repeat("a", 63) + `","effect":"NoSchedule"}]`)},
			[]string{"workerPools[0].taints[0].key: Too long"}},
		{"tag key characters", map[string]string{"tags": `{"cost#center":"x"}`}, []string{"tags: Invalid value", "_ . : / = + - @"}},
		{"tag value characters", map[string]string{"tags": `{"owner":"a,b"}`}, []string{"tags.owner: Invalid value"}},
		{"empty patch", map[string]string{"workerPools": poolJSON(`,"configPatches":["  "]`)}, []string{"workerPools[0].configPatches[0]: Invalid value", "empty patch"}},
		{"empty object patch", map[string]string{"workerPools": poolJSON(`,"configPatches":["{}"]`)}, []string{"workerPools[0].configPatches[0]", "empty object"}},
		{"file-name patch", map[string]string{"workerPools": poolJSON(`,"configPatches":["@patch.yaml"]`)}, []string{"workerPools[0].configPatches[0]", "looks like a file name"}},
		{"JSON6902 patch", map[string]string{"workerPools": poolJSON(`,"configPatches":["[{\"op\":\"add\",\"path\":\"/machine/sysctls\",\"value\":{}}]"]`)},
			[]string{"workerPools[0].configPatches[0]", "JSON6902", "strategic merge"}},
		{"JSON6902 as YAML", map[string]string{"workerPools": poolJSON(`,"configPatches":["- op: remove\n  path: /machine/install\n"]`)},
			[]string{"workerPools[0].configPatches[0]", "JSON6902"}},
		{"type error", map[string]string{"workerPools": poolJSON(`,"minSize":"two"`)}, []string{`workerPools[0].minSize: Invalid value: expected a number, got "two"`}},
		{"bool as string", map[string]string{"workerPools": poolJSON(`,"spot":"yes"`)}, []string{`workerPools[0].spot: Invalid value: expected true or false, got "yes"`}},
		{"list expected", map[string]string{"workerPools": `[{"name":"a","instanceTypes":"m7i.large"}]`}, []string{`workerPools[0].instanceTypes: Invalid value: expected a list, got "m7i.large"`}},
		{"nested type error", map[string]string{"controlPlane": `{"rootVolume":{"sizeGiB":"big"}}`}, []string{`controlPlane.rootVolume.sizeGiB: Invalid value: expected a number, got "big"`}},
		{"fraction", map[string]string{"controlPlane": `{"count":2.5}`}, []string{`controlPlane.count: Invalid value: expected a whole number, got 2.5`}},
		{"unknown pool key", map[string]string{"workerPools": poolJSON(`,"maxsize":3`)}, []string{`workerPools[0].maxsize: Invalid value: unknown key; did you mean "maxSize"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(src(tt.kv))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%s", w, err)
				}
			}
			if m := goTypeName.FindString(err.Error()); m != "" {
				t.Errorf("error speaks Go (%q):\n%s", m, err)
			}
		})
	}
}

// longPrefix makes a valid label key whose autoscaler tag key exceeds 128.
var longPrefix = strings.Repeat("a", 20) + ".example.com"

func cidrList(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"203.0.113.%d/32"`, i))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Limits that are exactly met are accepted: the rules are not off by one.
func TestLimitsAtTheEdge(t *testing.T) {
	for name, kv := range map[string]map[string]string{
		"service /12":           {"serviceCidr": "10.96.0.0/12"},
		"60 SG rules":           {"adminCidrs": cidrList(30), "ingressCidrs": `[]`},
		"pod /22 for 4 nodes":   {"podCidr": "10.244.0.0/22", "controlPlane": `{"count":1}`, "workerPools": poolJSON(`,"minSize":1,"maxSize":3,"desiredCapacity":1`)},
		"gp3 max":               {"controlPlane": `{"rootVolume":{"sizeGiB":32,"type":"gp3","iops":16000,"throughput":1000}}`},
		"gp3 throughput 750":    {"controlPlane": `{"rootVolume":{"sizeGiB":50,"type":"gp3","throughput":750}}`},
		"50 tags on a pool ASG": {"tags": manyTags(40), "workerPools": poolJSON(`,"labels":{"a":"1","b":"2","c":"3","d":"4","e":"5"}`)},
		"same key two effects": {"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"taints":[{"key":"k","effect":"NoSchedule"},{"key":"k","effect":"NoExecute"}]},
			{"name":"general","instanceTypes":["m7i.large"]}]`},
		"kubelet namespaces":            {"workerPools": poolJSON(`,"labels":{"node.kubernetes.io/lifecycle":"spot","team.kubelet.kubernetes.io/x":"y","example.com/role":"db"}`)},
		"t2 and t3.micro on Talos 1.12": {"talosVersion": "v1.12.11", "kubernetesVersion": "1.35.10", "workerPools": `[{"name":"a","instanceTypes":["t2.large","t3.micro"]}]`},
		"t2 with its own AMI":           {"amiIdAmd64": "ami-0123456789abcdef0", "workerPools": `[{"name":"a","instanceTypes":["t2.large"]}]`},
		"Graviton metal and Nitro": {"workerPools": `[{"name":"a","arch":"arm64","instanceTypes":["m7g.metal","c7g.large"]},{"name":"b","instanceTypes":["m5.large","i3en.large"]},
			{"name":"c","instanceTypes":["p3dn.24xlarge"],"image":{"extensions":["siderolabs/nonfree-kmod-nvidia-lts","siderolabs/nvidia-container-toolkit-lts"]}}]`},
		"t3.small control plane": {"controlPlane": `{"instanceType":"t3.small"}`},
		"one-vCPU worker":        {"workerPools": `[{"name":"a","arch":"arm64","instanceTypes":["m6g.medium","c7g.medium"]}]`},
		"pool named workers2":    {"workerPools": `[{"name":"workers2","instanceTypes":["m7i.large"]},{"name":"cpu","instanceTypes":["m7i.large"]}]`},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Parse(src(kv)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Talos' documented minimums, per role: below them an error naming the
// smallest size of the family that meets them; at or above them nothing.
func TestUndersized(t *testing.T) {
	for _, tt := range []struct {
		instanceType string
		role         Role
		want         string // "" when the type meets the role's minimum
	}{
		{"t3.nano", RoleWorker, "has 0.5 GiB of memory, below Talos' minimum of 1 GiB for a worker node"},
		{"t3a.nano", RoleWorker, "use t3a.micro or larger"},
		{"t2.nano", RoleWorker, "0.5 GiB of memory, below Talos' minimum of 1 GiB"},
		{"t3.micro", RoleWorker, ""},
		{"t2.micro", RoleWorker, ""},
		{"m6g.medium", RoleWorker, ""},
		{"c7g.medium", RoleWorker, ""},
		{"t3.nano", RoleControlPlane, "has 0.5 GiB of memory, below Talos' minimum of 2 GiB for a control-plane node"},
		{"t3.micro", RoleControlPlane, "has 1 GiB of memory, below Talos' minimum of 2 GiB for a control-plane node (Talos \"System Requirements\"); use t3.small or larger"},
		{"t4g.micro", RoleControlPlane, "use t4g.small or larger"},
		{"t2.micro", RoleControlPlane, "has 1 GiB of memory and 1 vCPU, below Talos' minimum of 2 GiB and 2 cores for a control-plane node"},
		{"t2.small", RoleControlPlane, "has 1 vCPU, below Talos' minimum of 2 cores for a control-plane node (Talos \"System Requirements\"); use t2.medium or larger"},
		{"m6g.medium", RoleControlPlane, "has 1 vCPU, below Talos' minimum of 2 cores; use m6g.large or larger"},
		{"a1.medium", RoleControlPlane, "use a1.large or larger"},
		{"c7g.medium", RoleControlPlane, "1 vCPU"},
		{"t3.small", RoleControlPlane, ""},
		{"t2.medium", RoleControlPlane, ""},
		{"t3.medium", RoleControlPlane, ""},
		{"m7i.large", RoleControlPlane, ""},
		{"trn1.2xlarge", RoleControlPlane, ""},
		{"m7i.metal-24xl", RoleControlPlane, ""},
	} {
		t.Run(tt.instanceType+" "+string(tt.role), func(t *testing.T) {
			got := undersized(tt.instanceType, tt.role)
			switch {
			case tt.want == "" && got != "":
				t.Errorf("refused: %s", got)
			case tt.want != "" && got == "":
				t.Errorf("accepted; want %q", tt.want)
			}
			for _, part := range strings.Split(tt.want, "; ") {
				if !strings.Contains(got, part) {
					t.Errorf("%q lacks %q", got, part)
				}
			}
		})
	}
}

// A type error in one key does not hide value errors in others, one bad pool
// does not hide the next, and nothing is reported for an unreadable key's
// defaults.
func TestEveryClassAtOnce(t *testing.T) {
	_, _, err := Parse(src(map[string]string{
		"azCount":      "two",
		"controlPlane": `{"count":"three"}`,
		"serviceCidr":  "10.0.0.0/8",
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"minSize":"two"},
		                 {"name":"b","instanceTypes":["m7i.large"],"maxSize":0,"desiredCapacity":0,"minSize":0},
		                 {"name":"c","instanceTypes":["m7i.large"],"labels":{"node-role.kubernetes.io/x":""}}]`,
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		`azCount: Invalid value: expected a whole number, got "two"`,
		`controlPlane.count: Invalid value: expected a number, got "three"`,
		"serviceCidr: Invalid value",
		`workerPools[0].minSize: Invalid value: expected a number, got "two"`,
		"workerPools[1].maxSize: Invalid value",
		"workerPools[2].labels.node-role.kubernetes.io/x: Forbidden",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
	for _, noise := range []string{"workerPools[0].desiredCapacity", "controlPlane.instanceType"} {
		if strings.Contains(err.Error(), noise) {
			t.Errorf("reported %s of an unreadable key:\n%s", noise, err)
		}
	}
}

func TestWarningsForRisks(t *testing.T) {
	for _, tt := range []struct {
		name string
		kv   map[string]string
		want string
	}{
		{"three nodes one zone", map[string]string{"azCount": "1"}, "controlPlane.count: 3 control-plane nodes in 1 availability zone(s) put up to 3 in one zone; losing that zone loses etcd quorum"},
		{"three nodes two zones", map[string]string{"azCount": "2"}, "up to 2 in one zone; losing that zone loses etcd quorum (2 of 3 needed)"},
		{"private admin CIDR", map[string]string{"adminCidrs": `["10.1.0.0/16"]`}, "adminCidrs[0]: 10.1.0.0/16 is a private"},
		{"newer chart", map[string]string{"addons": `{"cilium":{"version":"1.20.0"}}`}, "addons.cilium.version: 1.20.0 is newer than the pinned " + CiliumChartVersion},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, w, err := Parse(src(tt.kv))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(w, "\n"), tt.want) {
				t.Errorf("missing warning %q in %v", tt.want, w)
			}
		})
	}
	// Five nodes over three zones (2,2,1) survive losing any one zone.
	_, w, err := Parse(src(map[string]string{"controlPlane": `{"count":5}`}))
	if err != nil {
		t.Fatal(err)
	}
	if j := strings.Join(w, "\n"); !strings.Contains(j, "put up to 2 in one zone") || strings.Contains(j, "loses etcd quorum") {
		t.Errorf("5 over 3 zones: %v", w)
	}
}

// Keys this program does not read are errors, each at its own key, with
// the nearest valid key or the list of valid ones.
func TestUnknownKeys(t *testing.T) {
	errs := UnknownKeys([]string{"region", "workerPool", "adminCidr", "somethingElse", "PodCidr", "controlPlane.count", "workerPools[0].maxSize", "talosversion"})
	got := map[string]string{}
	for _, e := range errs {
		if e.Type != ErrInvalid {
			t.Errorf("%s: type %s", e.Path, e.Type)
		}
		got[e.Path] = e.Error()
	}
	for path, want := range map[string]string{
		"workerPool":             `workerPool: Invalid value: unknown key; did you mean "workerPools"? (remove it with ` + "`pulumi config rm 'workerPool'`)",
		"adminCidr":              `adminCidr: Invalid value: unknown key; did you mean "adminCidrs"?`,
		"PodCidr":                `did you mean "podCidr"?`,
		"talosversion":           `did you mean "talosVersion"?`,
		"somethingElse":          "somethingElse: Invalid value: unknown key; valid keys: clusterName, region, azCount, availabilityZones",
		"controlPlane.count":     "controlPlane.count: Invalid value: unknown key: set without --path",
		"workerPools[0].maxSize": "`pulumi config set --path 'workerPools[0].maxSize' <value>`",
	} {
		if !strings.Contains(got[path], want) {
			t.Errorf("%s: got %q, want it to contain %q", path, got[path], want)
		}
	}
	if len(errs) != 7 {
		t.Errorf("want 7 errors, got %d:\n%s", len(errs), strings.Join(errs.Strings(), "\n"))
	}
	if _, ok := got["region"]; ok {
		t.Errorf("a known key was refused: %s", got["region"])
	}
	if strings.Contains(got["somethingElse"], "did you mean") || strings.Contains(got["workerPool"], "valid keys") {
		t.Errorf("suggest or list, not both: %v", got)
	}
	if UnknownKeys([]string{"region", "clusterName"}) != nil || UnknownKeys(nil).Err() != nil {
		t.Error("known keys must pass")
	}
}

// Unknown fields inside objects are errors too, at their full path with
// every list index, with the nearest field or the valid ones.
func TestUnknownNestedKeys(t *testing.T) {
	for _, tt := range []struct {
		name string
		kv   map[string]string
		want string
	}{
		{"pool field in the third pool", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"b","instanceTypes":["m7i.large"]},{"name":"c","instanceTyps":["m7i.large"]}]`},
			`workerPools[2].instanceTyps: Invalid value: unknown key; did you mean "instanceTypes"?`},
		{"taint field", map[string]string{"workerPools": poolJSON(`,"taints":[{"key":"a","effect":"NoSchedule"},{"key":"b","efect":"NoSchedule"}]`)},
			`workerPools[0].taints[1].efect: Invalid value: unknown key; did you mean "effect"?`},
		{"root volume field", map[string]string{"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},{"name":"b","instanceTypes":["m7i.large"],"rootVolume":{"sizeGb":50}}]`},
			`workerPools[1].rootVolume.sizeGb: Invalid value: unknown key; did you mean "sizeGiB"?`},
		{"control-plane volume", map[string]string{"controlPlane": `{"rootVolume":{"iop":3000}}`}, `controlPlane.rootVolume.iop: Invalid value: unknown key; did you mean "iops"?`},
		{"nothing near", map[string]string{"controlPlane": `{"flavour":"big"}`}, `controlPlane.flavour: Invalid value: unknown key; valid keys: arch, count, instanceType, rootVolume`},
		{"add-on field", map[string]string{"addons": `{"argocd":{"rootApp":{"repoUrl":"https://x"}}}`}, `addons.argocd.rootApp.repoUrl: Invalid value: unknown key; did you mean "repoURL"?`},
		{"backups field", map[string]string{"backups": `{"intervalMinute":60}`}, `backups.intervalMinute: Invalid value: unknown key; did you mean "intervalMinutes"?`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(src(tt.kv))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %q in:\n%v", tt.want, err)
			}
		})
	}
}

func TestForbiddenNodeLabel(t *testing.T) {
	for key, forbidden := range map[string]bool{
		"node-role.kubernetes.io/worker":      true,
		"node-restriction.kubernetes.io/a":    true,
		"a.node-restriction.kubernetes.io/b":  true,
		"kubernetes.io/role":                  true,
		"k8s.io/x":                            true,
		"sub.k8s.io/x":                        true,
		"kubernetes.io/hostname":              true, // the kubelet's own
		"node.kubernetes.io/exclude":          false,
		"a.node.kubernetes.io/b":              false,
		"kubelet.kubernetes.io/x":             false,
		"example.com/kubernetes.io":           false,
		"gpu":                                 false,
		"notkubernetes.io/x":                  false,
		"node-restriction.kubernetes.io.com/": false,
	} {
		if got := forbiddenNodeLabel(key) != ""; got != forbidden {
			t.Errorf("forbiddenNodeLabel(%q) = %v, want %v", key, got, forbidden)
		}
	}
}

func TestNearest(t *testing.T) {
	valid := ProjectKeys()
	for in, want := range map[string]string{"workerpools": "workerPools", "podCIDR": "podCidr", "talosversion": "talosVersion", "zzzzzzzz": ""} {
		if got := Nearest(in, valid); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// Renderable keeps what Talos can render and drops what config rejected.
func TestRenderable(t *testing.T) {
	cfg, _, err := Parse(src(map[string]string{
		"kubernetesVersion": "1.99.0",
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"labels":{"node-role.kubernetes.io/x":""},
		                  "configPatches":["@f","machine:\n  sysctls:\n    a: \"1\"\n"]},
		                 {"name":"b","instanceTypes":["m7i.large"],"minSize":"x"}]`,
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	ve := err.(*ValidationError)
	r := cfg.Renderable(ve.Errors)
	if r.KubernetesVersion != DefaultKubernetesVersion {
		t.Errorf("kubernetesVersion kept: %s", r.KubernetesVersion)
	}
	if p := r.WorkerPools[0]; p.Labels != nil || len(p.ConfigPatches) != 1 || !strings.Contains(p.ConfigPatches[0], "sysctls") {
		t.Errorf("pool a: %+v", p)
	}
	if !r.Unreadable("workerPools[1]") {
		t.Error("pool b must stay marked unreadable")
	}
}
