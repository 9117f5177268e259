package compute

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/config"
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
		if r.From == InternalLB && (r.To != ControlPlane || (r.FromPort != ports.KubeAPI && r.FromPort != ports.Trustd)) {
			t.Errorf("unexpected internal NLB rule %+v", r)
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
	if has(ActiveRules(false)) || !has(ActiveRules(true)) {
		t.Error("Hubble port 4244 must follow the Hubble setting")
	}
}

func TestPolicies(t *testing.T) {
	cp := ControlPlanePolicy(true).Actions()
	for _, a := range []string{"ec2:DescribeInstances", "elasticloadbalancing:CreateTargetGroup", "autoscaling:DescribeAutoScalingGroups", "ec2:CreateVolume", "kms:DescribeKey"} {
		if !slices.Contains(cp, a) {
			t.Errorf("control-plane policy lacks %s", a)
		}
	}
	if slices.Contains(ControlPlanePolicy(false).Actions(), "ec2:CreateSnapshot") {
		t.Error("EBS CSI permissions without the add-on")
	}
	w := WorkerPolicy().Actions()
	for _, a := range w {
		if !strings.HasPrefix(a, "ecr:") && a != "ec2:DescribeInstances" && a != "ec2:DescribeRegions" {
			t.Errorf("worker policy grants %s", a)
		}
	}
	for _, d := range []iampolicy.Document{ControlPlanePolicy(true), WorkerPolicy(), AssumeRoleEC2()} {
		var back map[string]any
		if err := json.Unmarshal([]byte(d.JSON()), &back); err != nil || back["Version"] != "2012-10-17" {
			t.Errorf("policy JSON: %v", err)
		}
	}
	for _, s := range ControlPlanePolicy(true).Statement {
		if strings.HasPrefix(s.Sid, "EBSCSI") && (slices.Contains(s.Actions(), "ec2:DeleteVolume") || slices.Contains(s.Actions(), "ec2:DeleteSnapshot")) && s.Condition == nil {
			t.Error("volume deletion must be limited to the driver's volumes")
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

// TestGuardPathDenied: the cloud controller manager's rights on "*" would
// let any control-plane pod with the node role revoke the etcd guard's
// rule (and blind it); a Deny on the guarded groups, their tags and the
// control-plane instances' attributes takes that away, for both policy
// variants, and nothing else.
func TestGuardPathDenied(t *testing.T) {
	for _, ebs := range []bool{false, true} {
		d := ControlPlanePolicy(ebs)
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
		if !slices.Contains(ccmControlPlaneActions, "ec2:RevokeSecurityGroupIngress") {
			t.Error("the CCM lost its security-group rights")
		}
	}
}
