package program

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/drain"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
	"github.com/talos-aws/talos-aws/testkit"
)

// Names the mocks give the HA stack's groups (testkit: "<name>-asg").
var (
	haWorkerASGs = []string{"compute-arm-spot-asg", "compute-general-asg"}
	haCPASG      = "compute-cp-asg"
)

func asgARN(name string) string {
	return "arn:aws:autoscaling:ap-southeast-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/" + name
}

func TestTerminationHooksOnEveryWorkerGroupNoneOnControlPlane(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	var hooked []string
	for _, h := range m.InComponent("aws:autoscaling/lifecycleHook:LifecycleHook", "talos-aws:drain:Drain") {
		g := str(h, "autoscalingGroupName")
		if g == haCPASG {
			t.Errorf("hook %s on the control-plane group: that group belongs to the etcd guard", h.Name)
		}
		if str(h, "lifecycleTransition") == "autoscaling:EC2_INSTANCE_TERMINATING" && str(h, "name") == drain.HookName {
			hooked = append(hooked, g)
			if str(h, "defaultResult") != "CONTINUE" || num(h, "heartbeatTimeout") != drain.HookHeartbeatSeconds {
				t.Errorf("%s: default %s after %v s; want CONTINUE after %d s (a dead handler must not block terminations forever)",
					h.Name, str(h, "defaultResult"), num(h, "heartbeatTimeout"), drain.HookHeartbeatSeconds)
			}
		}
	}
	sort.Strings(hooked)
	if !slices.Equal(hooked, haWorkerASGs) {
		t.Errorf("termination hooks on %v, want every worker group %v", hooked, haWorkerASGs)
	}
}

func TestTerminationRulesScopedToWorkerGroups(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	queue := one(t, m, "aws:sqs/queue:Queue", "drain")
	if v := queue.Inputs["sqsManagedSseEnabled"]; !v.IsBool() || !v.BoolValue() {
		t.Error("termination queue not encrypted")
	}
	queueARN := "arn:aws:sqs:ap-southeast-1:123456789012:prod-nth"
	rules := m.InComponent("aws:cloudwatch/eventRule:EventRule", "talos-aws:drain:Drain")
	if len(rules) != 4 {
		t.Fatalf("%d rules, want lifecycle, spot, rebalance, state-change", len(rules))
	}
	for _, r := range rules {
		pattern := str(r, "eventPattern")
		if strings.Contains(pattern, haCPASG) {
			t.Errorf("%s matches the control-plane group: %s", r.Name, pattern)
		}
		if strings.Contains(pattern, "aws.autoscaling") {
			var p struct {
				Detail struct{ AutoScalingGroupName []string }
			}
			if err := json.Unmarshal([]byte(pattern), &p); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Detail.AutoScalingGroupName, haWorkerASGs) {
				t.Errorf("lifecycle rule matches %v, want exactly the worker groups %v", p.Detail.AutoScalingGroupName, haWorkerASGs)
			}
		}
	}
	targets := m.InComponent("aws:cloudwatch/eventTarget:EventTarget", "talos-aws:drain:Drain")
	for _, tg := range targets {
		if str(tg, "arn") != queueARN {
			t.Errorf("%s targets %s, want the termination queue", tg.Name, str(tg, "arn"))
		}
	}
	if len(targets) != len(rules) {
		t.Errorf("%d targets for %d rules", len(targets), len(rules))
	}
	qp := one(t, m, "aws:sqs/queuePolicy:QueuePolicy", "drain")
	for _, r := range rules {
		if !strings.Contains(str(qp, "policy"), "rule/"+str(r, "name")) {
			t.Errorf("queue policy does not admit rule %s", str(r, "name"))
		}
	}
}

func TestHandlerPermissionsOnlyOnControlPlaneRole(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	p := one(t, m, "aws:iam/rolePolicy:RolePolicy", "drain-nth")
	if str(p, "role") != "identity-kube-system-aws-node-termination-handler" {
		t.Errorf("NTH permission on role %q, want its own (workload identity)", str(p, "role"))
	}
	cfg := haConfig(t)
	cfg["workloadIdentity"] = "false"
	off := &testkit.Mocks{}
	evaluate(t, off, cfg)
	if r := str(one(t, off, "aws:iam/rolePolicy:RolePolicy", "drain-nth"), "role"); r != "compute-cp" {
		t.Errorf("workload identity off: NTH permission on role %q, want the control-plane role (NTH runs there)", r)
	}
	var doc iampolicy.Document
	if err := json.Unmarshal([]byte(str(p, "policy")), &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Statement {
		if slices.Contains(s.Actions(), "autoscaling:CompleteLifecycleAction") {
			var got []string
			for _, r := range s.Resource.([]any) {
				got = append(got, r.(string))
			}
			want := []string{asgARN(haWorkerASGs[0]), asgARN(haWorkerASGs[1])}
			if !slices.Equal(got, want) {
				t.Errorf("CompleteLifecycleAction on %v, want only the worker groups %v", got, want)
			}
		}
	}
	// Worker nodes gain nothing: their pods must not drain anything.
	w := one(t, m, "aws:iam/rolePolicy:RolePolicy", "compute-worker")
	for _, a := range []string{"sqs:", "autoscaling:CompleteLifecycleAction"} {
		if strings.Contains(str(w, "policy"), a) {
			t.Errorf("worker role holds %s", a)
		}
	}
}

// NTH drains only instances with its managed tag; control-plane instances
// must not have it, or a state-change event would drain a control-plane node.
func TestOnlyWorkerInstancesCarryTheManagedTag(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	for _, lt := range m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
		var instanceTags resource.PropertyMap
		for _, spec := range lt.Inputs["tagSpecifications"].ArrayValue() {
			if spec.ObjectValue()["resourceType"].StringValue() == "instance" {
				instanceTags = spec.ObjectValue()["tags"].ObjectValue()
			}
		}
		_, tagged := instanceTags[resource.PropertyKey(tagkeys.Pool)]
		if worker := lt.Name != "compute-cp"; tagged != worker {
			t.Errorf("launch template %s: managed tag %v, want %v", lt.Name, tagged, worker)
		}
	}
}

func TestTerminationHandlerRelease(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	r := one(t, m, releaseType, "drain-nth")
	if str(r, "chart") != "oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler" || str(r, "version") != config.NTHChartVersion {
		t.Errorf("chart %s@%s", str(r, "chart"), str(r, "version"))
	}
	if !strings.Contains(r.Provider, "pulumi:providers:kubernetes::addons-k8s") {
		t.Errorf("not on the cluster's provider: %s", r.Provider)
	}
	for _, on := range []string{"addons-cilium", "addons-ccm", "addons-csr-approver"} {
		if !after(m, r, releaseType, on) {
			t.Errorf("NTH must wait for the node gate (after %s)", on)
		}
	}
	values := r.Inputs["values"].ObjectValue()
	if got := values["queueURL"].StringValue(); got != "https://sqs.ap-southeast-1.amazonaws.com/123456789012/prod-nth" {
		t.Errorf("queueURL %q", got)
	}
}

func TestNoHooksWhenHandlerOff(t *testing.T) {
	for name, kv := range map[string]map[string]string{
		"off": {"addons": `{"nodeTerminationHandler":{"enabled":false}}`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := haConfig(t)
			for k, v := range kv {
				cfg[k] = v
			}
			m := &testkit.Mocks{}
			evaluate(t, m, cfg)
			for _, typ := range []string{"aws:autoscaling/lifecycleHook:LifecycleHook", "aws:sqs/queue:Queue", "aws:cloudwatch/eventRule:EventRule"} {
				if n := len(m.InComponent(typ, "talos-aws:drain:Drain")); n != 0 {
					t.Errorf("%d %s without a handler", n, typ)
				}
			}
			for _, h := range m.ByType("aws:autoscaling/lifecycleHook:LifecycleHook") {
				if str(h, "autoscalingGroupName") != haCPASG {
					t.Errorf("hook %s on worker group %s without a handler", h.Name, str(h, "autoscalingGroupName"))
				}
			}
		})
	}
}
