package compute

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/ports"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

func TestPortMatrix(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range PortMatrix() {
		key := string(r.To) + string(r.From) + r.Proto + r.Ports()
		if seen[key] {
			t.Errorf("duplicate rule %+v", r)
		}
		seen[key] = true
		if r.To != ControlPlane && r.To != Workers {
			t.Errorf("rule into a non-node group: %+v", r)
		}
		if r.Why == "" {
			t.Errorf("rule without a reason: %+v", r)
		}
		// etcd only between control-plane nodes.
		if r.Proto == "tcp" && r.FromPort <= ports.EtcdPeer && r.ToPort >= ports.EtcdClient && (r.To != ControlPlane || r.From != ControlPlane) {
			t.Errorf("etcd reachable from %s to %s", r.From, r.To)
		}
		// The public NLB reaches control planes on 6443/50000 and workers on the ingress NodePort only.
		if r.From == PublicLB {
			ok := (r.To == ControlPlane && (r.FromPort == ports.KubeAPI || r.FromPort == ports.TalosAPI)) ||
				(r.To == Workers && r.FromPort == ports.IngressHTTPS)
			if !ok || r.FromPort != r.ToPort {
				t.Errorf("unexpected public NLB rule %+v", r)
			}
		}
		// The internal NLB: 6443 and 50001 always; 50000 only with a
		// private API, the ingress NodePort only with private ingress.
		internalOK := (r.To == ControlPlane && (r.FromPort == ports.KubeAPI || r.FromPort == ports.Trustd) && r.When == Always) ||
			(r.To == ControlPlane && r.FromPort == ports.TalosAPI && r.When == PrivateAPI) ||
			(r.To == Workers && r.FromPort == ports.IngressHTTPS && r.When == PrivateIngress)
		if r.From == InternalLB && !internalOK {
			t.Errorf("unexpected internal NLB rule %+v", r)
		}
		if r.From == PublicLB && r.When != PublicAPI && r.When != PublicIngress {
			t.Errorf("a public NLB rule that exists with everything private: %+v", r)
		}
	}
	want := []struct {
		to, from Peer
		proto    string
		port     int
	}{
		{ControlPlane, Workers, "tcp", ports.Trustd},
		{Workers, ControlPlane, "tcp", ports.TalosAPI},
		{ControlPlane, ControlPlane, "tcp", ports.TalosAPI},
		{Workers, Workers, "udp", ports.VXLAN},
		{ControlPlane, Workers, "udp", ports.VXLAN},
		{Workers, ControlPlane, "tcp", ports.Kubelet},
		{Workers, Workers, "tcp", ports.CiliumHealth},
		{Workers, PublicLB, "tcp", ports.IngressHTTPS},
	}
	for _, w := range want {
		if !slices.ContainsFunc(PortMatrix(), func(r Rule) bool {
			return r.To == w.to && r.From == w.from && r.Proto == w.proto && r.FromPort <= w.port && r.ToPort >= w.port
		}) {
			t.Errorf("missing %s → %s %s/%d", w.from, w.to, w.proto, w.port)
		}
	}
}

func TestHubbleRulesOnlyWhenEnabled(t *testing.T) {
	has := func(rules []Rule) bool {
		return slices.ContainsFunc(rules, func(r Rule) bool { return r.FromPort == ports.Hubble })
	}
	if has(ActiveRules(Settings{})) || !has(ActiveRules(Settings{Hubble: true})) {
		t.Error("Hubble port 4244 must follow the Hubble setting")
	}
}

func TestPolicies(t *testing.T) {
	cp := ControlPlanePolicy("prod", "ap-southeast-1", "v1.35.0", true, false).Actions()
	for _, a := range []string{"ec2:DescribeInstances", "elasticloadbalancing:CreateTargetGroup", "ec2:CreateVolume", "ec2:AttachVolume"} {
		if !slices.Contains(cp, a) {
			t.Errorf("control-plane policy lacks %s", a)
		}
	}
	// What nothing on the control plane calls at the pinned versions.
	for _, a := range []string{"ec2:CreateRoute", "ec2:DeleteRoute", "iam:CreateServiceLinkedRole", "kms:DescribeKey",
		"autoscaling:DescribeAutoScalingGroups", "ec2:DescribeRegions", "ecr:GetAuthorizationToken", "ec2:CopyVolumes"} {
		if slices.Contains(cp, a) {
			t.Errorf("control-plane policy grants %s", a)
		}
	}
	if slices.Contains(ControlPlanePolicy("prod", "ap-southeast-1", "v1.35.0", false, false).Actions(), "ec2:CreateSnapshot") {
		t.Error("EBS CSI permissions without the add-on")
	}
	w := WorkerPolicy("ap-southeast-1", false)
	if len(w.Statement) != 1 || w.Statement[0].Effect != "Deny" || w.Statement[0].Action != "*" || w.Statement[0].Resource != "*" {
		t.Errorf("worker policy %+v, want one Deny of everything", w)
	}
	for _, d := range []iampolicy.Document{ControlPlanePolicy("prod", "ap-southeast-1", "v1.35.0", true, false), WorkerPolicy("ap-southeast-1", false), AssumeRoleEC2()} {
		var back map[string]any
		if err := json.Unmarshal([]byte(d.JSON()), &back); err != nil || back["Version"] != "2012-10-17" {
			t.Errorf("policy JSON: %v", err)
		}
	}
	// Volume and snapshot writes only on what carries both the driver's
	// and this cluster's tags; tags only inside the create call.
	for _, s := range EBSCSIPolicy("prod", "cn-north-1").Statement {
		for _, a := range s.Actions() {
			switch a {
			case "ec2:DeleteVolume", "ec2:DeleteSnapshot", "ec2:ModifyVolume":
				if s.Condition["StringEquals"]["aws:ResourceTag/ebs.csi.aws.com/cluster"] != "true" ||
					s.Condition["StringEquals"]["aws:ResourceTag/kubernetes.io/cluster/prod"] != "owned" {
					t.Errorf("%s in %s: %v", a, s.Sid, s.Condition)
				}
			case "ec2:CreateTags":
				if s.Condition["StringEquals"]["ec2:CreateAction"] == nil {
					t.Errorf("CreateTags outside a create call: %+v", s)
				}
			}
			if s.Resource != "*" && !strings.Contains(fmt.Sprint(s.Resource), "arn:aws-cn:ec2:") {
				t.Errorf("%s: %v not in the region's partition", s.Sid, s.Resource)
			}
		}
	}
}

// TestCallersAtPinnedVersions: every grant names its caller at the version
// that runs. Every Kubernetes minor the stack offers runs a cloud
// controller manager and a cluster autoscaler release the grants were read
// at (ccmReleases, autoscalerReleases); a new minor or a bumped image fails
// here until the grants are read at it, and a release read that no minor
// runs any more must go.
func TestCallersAtPinnedVersions(t *testing.T) {
	if want := "v1." + strings.TrimPrefix(config.EBSCSIChartVersion, "2."); EBSCSITag != want {
		t.Errorf("grants read at EBS CSI %s, chart %s deploys %s", EBSCSITag, config.EBSCSIChartVersion, want)
	}
	ccmRun, caRun := map[string]bool{}, map[string]bool{}
	for _, m := range config.OfferedMinors() {
		a := config.AddonsFor(m + ".0")
		ccmRun[a.CCMImage], caRun[a.Autoscaler()] = true, true
		if _, ok := ccmReleases[a.CCMImage]; !ok {
			t.Errorf("Kubernetes %s runs cloud controller manager %s: read its calls and add it to ccmReleases", m, a.CCMImage)
			continue
		}
		if !slices.Contains(autoscalerReleases, a.Autoscaler()) {
			t.Errorf("Kubernetes %s runs cluster-autoscaler %s: read its calls and add it to autoscalerReleases", m, a.Autoscaler())
			continue
		}
		p := &iampolicy.Policy{}
		AddCCMPermissions(p, "prod", "aws", CCMFeatures{CloudRoutes: true, Version: a.CCMImage})
		AddEBSCSIPermissions(p, "prod", "aws")
		AddAutoscalerPermissions(p, "prod", a.Autoscaler())
		at := map[string]string{
			"kubernetes/cloud-provider-aws ":      "@" + a.CCMImage,
			"kubernetes-sigs/aws-ebs-csi-driver ": "@" + EBSCSITag,
			"kubernetes/autoscaler ":              "@cluster-autoscaler-" + strings.TrimPrefix(a.Autoscaler(), "v"),
		}
		for _, g := range p.Grants() {
			ok := false
			for repo, tag := range at {
				ok = ok || (strings.HasPrefix(g.Caller, repo) && strings.HasSuffix(g.Caller, " "+tag))
			}
			if !ok {
				t.Errorf("Kubernetes %s: %s: caller %q names no version this minor runs", m, g.Action, g.Caller)
			}
		}
	}
	for v := range ccmReleases {
		if !ccmRun[v] {
			t.Errorf("ccmReleases has %s, which no offered minor runs", v)
		}
	}
	for _, v := range autoscalerReleases {
		if !caRun[v] {
			t.Errorf("autoscalerReleases has %s, which no offered minor runs", v)
		}
	}
	// An image the grants were not read at is refused, not guessed.
	defer func() {
		if recover() == nil {
			t.Error("AddCCMPermissions took a release nobody read")
		}
	}()
	AddCCMPermissions(&iampolicy.Policy{}, "prod", "aws", CCMFeatures{Version: "v1.37.0"})
}

// TestGrantsFollowTheRelease: what the releases read call differently.
// The target-group attribute calls are in the releases of 1.32 on
// (aws_loadbalancer.go ensureTargetGroupAttributes, v1.32.8), not in
// v1.30.10 or v1.31.9; v1.36.1's removal of a Classic Load
// Balancer's replaced groups uses calls already granted, so a 1.36 stack
// gets the 1.35 policy byte for byte; cluster-autoscaler calls the same
// APIs in every release read, and none calls autoscaling:DescribeTags.
func TestGrantsFollowTheRelease(t *testing.T) {
	tgAttrs := []string{"elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:ModifyTargetGroupAttributes"}
	for _, m := range config.OfferedMinors() {
		a := config.AddonsFor(m + ".0")
		acts := ControlPlanePolicy("prod", "ap-southeast-1", a.CCMImage, false, false).Actions()
		var n int
		_, _ = fmt.Sscanf(m, "1.%d", &n)
		for _, act := range tgAttrs {
			if slices.Contains(acts, act) != (n >= 32) {
				t.Errorf("Kubernetes %s (CCM %s): %s granted %t", m, a.CCMImage, act, n < 32)
			}
		}
		if got, want := AutoscalerPolicy("prod", a.Autoscaler()).JSON(), AutoscalerPolicy("prod", "v1.35.0").JSON(); got != want {
			t.Errorf("Kubernetes %s: the autoscaler's policy differs from 1.35's:\n%s", m, got)
		}
		if slices.Contains(AutoscalerPolicy("prod", a.Autoscaler()).Actions(), "autoscaling:DescribeTags") {
			t.Errorf("Kubernetes %s: autoscaling:DescribeTags granted", m)
		}
	}
	for _, ebs := range []bool{false, true} {
		if a, b := ControlPlanePolicy("prod", "ap-southeast-1", "v1.36.1", ebs, false).JSON(), ControlPlanePolicy("prod", "ap-southeast-1", "v1.35.0", ebs, false).JSON(); a != b {
			t.Errorf("ebsCSI=%t: CCM v1.36.1's policy differs from v1.35.0's", ebs)
		}
	}
}

// TestCCMRoutesFollowTheFeature: the route controller's writes exist only
// with cloud routes on, scoped to this cluster's route tables and nodes.
func TestCCMRoutesFollowTheFeature(t *testing.T) {
	for _, on := range []bool{false, true} {
		p := &iampolicy.Policy{}
		AddCCMPermissions(p, "prod", "aws", CCMFeatures{CloudRoutes: on, Version: "v1.35.0"})
		acts := p.Document().Actions()
		for _, a := range []string{"ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ModifyInstanceAttribute"} {
			if slices.Contains(acts, a) != on {
				t.Errorf("cloudRoutes=%t: %s granted %t", on, a, !on)
			}
		}
	}
}

func TestAMIName(t *testing.T) {
	if got := AMIName("v1.12.11", "ap-southeast-1", config.ArchARM64); got != "talos-v1.12.11-ap-southeast-1-arm64" {
		t.Errorf("AMIName = %s", got)
	}
}

func TestAutoscalerTags(t *testing.T) {
	tags := AutoscalerTags("prod", config.WorkerPool{Name: "gpu", Labels: map[string]string{"accel": "a10"},
		Taints: []config.Taint{{Key: "nvidia.com/gpu", Value: "true", Effect: "NoSchedule"}}})
	for k, v := range map[string]string{
		"k8s.io/cluster-autoscaler/enabled":                                    "true",
		"k8s.io/cluster-autoscaler/prod":                                       "owned",
		"k8s.io/cluster-autoscaler/node-template/label/accel":                  "a10",
		"k8s.io/cluster-autoscaler/node-template/label/node.talos-aws.io/pool": "gpu",
		"k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu":         "true:NoSchedule",
	} {
		if tags[k] != v {
			t.Errorf("%s = %q, want %q", k, tags[k], v)
		}
	}
}

// TestGuardPathDenied: a pod with the control-plane role must not revoke
// the etcd guard's rule (and blind it) or open the load balancers' groups;
// a Deny on the guarded groups, their tags and the control-plane
// instances' attributes holds that, for both policy variants, and denies
// nothing else.
func TestGuardPathDenied(t *testing.T) {
	for _, ebs := range []bool{false, true} {
		d := ControlPlanePolicy("prod", "ap-southeast-1", "v1.35.0", ebs, false)
		denied := map[string]string{}
		for _, s := range d.Statement {
			if s.Effect != "Deny" {
				continue
			}
			for k, v := range s.Condition["StringEquals"] {
				for _, a := range s.Actions() {
					denied[a] = k + "=" + fmt.Sprint(v)
				}
			}
		}
		for _, a := range GuardPathActions {
			if denied[a] != "ec2:ResourceTag/"+tagkeys.Guarded+"=true" {
				t.Errorf("ebsCSI=%t: %s on guarded groups: deny %q", ebs, a, denied[a])
			}
		}
		if denied["ec2:ModifyInstanceAttribute"] != "ec2:ResourceTag/"+tagkeys.Role+"=control-plane" {
			t.Errorf("ebsCSI=%t: ModifyInstanceAttribute on control-plane nodes: deny %q", ebs, denied["ec2:ModifyInstanceAttribute"])
		}
		if len(denied) != len(GuardPathActions)+1 {
			t.Errorf("ebsCSI=%t: denies %v", ebs, denied)
		}
		// The allows it narrows are still there for the CCM's own groups.
		if !slices.Contains(d.Actions(), "ec2:RevokeSecurityGroupIngress") {
			t.Error("the CCM lost its security-group rights")
		}
	}
}

// Each access mode admits exactly its load balancer: with a private API no
// node admits the public NLB on 6443 or 50000, with private ingress no
// worker admits it on the NodePort.
func TestPortMatrixFollowsAccess(t *testing.T) {
	from := func(s Settings, peer Peer, port int) bool {
		return slices.ContainsFunc(ActiveRules(s), func(r Rule) bool { return r.From == peer && r.FromPort == port })
	}
	for _, tc := range []struct {
		s                                       Settings
		pubAPI, intTalos, pubIngress, intIngres bool
	}{
		{Settings{}, true, false, true, false},
		{Settings{PrivateAPI: true}, false, true, true, false},
		{Settings{PrivateIngress: true}, true, false, false, true},
		{Settings{PrivateAPI: true, PrivateIngress: true}, false, true, false, true},
	} {
		got := []bool{from(tc.s, PublicLB, ports.KubeAPI) && from(tc.s, PublicLB, ports.TalosAPI), from(tc.s, InternalLB, ports.TalosAPI),
			from(tc.s, PublicLB, ports.IngressHTTPS), from(tc.s, InternalLB, ports.IngressHTTPS)}
		if want := []bool{tc.pubAPI, tc.intTalos, tc.pubIngress, tc.intIngres}; !slices.Equal(got, want) {
			t.Errorf("%+v: public API, internal Talos, public ingress, internal ingress = %v, want %v", tc.s, got, want)
		}
	}
}

// The node roles pull from ECR only when their nodes run the ECR
// credential provider extension; a worker role that does still may call
// nothing else.
func TestECRPullsFollowTheExtension(t *testing.T) {
	ecr := []string{"ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
	for _, on := range []bool{false, true} {
		cp := ControlPlanePolicy("prod", "cn-north-1", "v1.35.0", false, on)
		for _, a := range ecr {
			if slices.Contains(cp.Actions(), a) != on {
				t.Errorf("ecr=%t: control plane grants %s: %t", on, a, !on)
			}
		}
		for _, s := range cp.Statement {
			if s.Sid == "ECRPulls" && s.Resource != "arn:aws-cn:ecr:*:*:repository/*" {
				t.Errorf("ECR pulls on %v, want the partition's repositories", s.Resource)
			}
		}
	}
	w := WorkerPolicy("ap-southeast-1", true)
	var allowed []string
	for _, s := range w.Statement {
		if s.Effect == "Allow" {
			allowed = append(allowed, s.Actions()...)
		}
	}
	slices.Sort(allowed)
	want := slices.Sorted(slices.Values(ecr))
	if !slices.Equal(allowed, want) {
		t.Errorf("worker with ECR allows %v, want %v", allowed, want)
	}
	last := w.Statement[len(w.Statement)-1]
	if last.Effect != "Deny" || last.Resource != "*" || last.Action != nil {
		t.Fatalf("worker with ECR: last statement %+v, want a Deny of everything else", last)
	}
	if got, ok := last.NotAction.([]string); !ok || !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Errorf("the Deny spares %v, want exactly the pulls %v", last.NotAction, want)
	}
	cfg := config.Config{WorkerPools: []config.WorkerPool{{Name: "a"}, {Name: "b", Image: &images.Spec{Extensions: []string{images.ECRCredentialProvider}}}}}
	if ControlPlanePullsFromECR(&cfg) || !WorkersPullFromECR(&cfg) {
		t.Error("one pool with the extension: the worker role pulls, the control plane does not")
	}
}
