package compute

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/ports"
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
