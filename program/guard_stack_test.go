package program

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard"
	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/testkit"
)

// The program's tests run without AWS credentials and without compiling
// the Lambda (etcdguard's tests compile it): a fixture key stands in, and
// uploads are counted, by bucket.
const fixtureKey = "etcd-guard/fixture.zip"

var (
	uploadsMu sync.Mutex
	uploads   []string
	// secretWrites records the talosconfig writes, as "arn=value".
	secretWrites []string
)

func init() {
	controlPlaneWaiter = func(*pulumi.Context, *config.Config) compute.ControlPlaneWaiter { return nil }
	guardSecret = func(*config.Config) etcdguard.SecretWriter {
		return func(_ context.Context, arn, value string) error {
			uploadsMu.Lock()
			defer uploadsMu.Unlock()
			secretWrites = append(secretWrites, arn+"="+value)
			return nil
		}
	}
	guardCode = func(*pulumi.Context, *config.Config) (etcdguard.Code, error) {
		return etcdguard.Code{Key: fixtureKey, Upload: func(_ context.Context, bucket string) error {
			uploadsMu.Lock()
			defer uploadsMu.Unlock()
			uploads = append(uploads, bucket)
			return nil
		}}, nil
	}
}

func policyDoc(t *testing.T, r testkit.Resource) iampolicy.Document {
	t.Helper()
	return policyDocAt(t, r, "policy")
}

// policyDocAt reads the policy document in r's input key.
func policyDocAt(t *testing.T, r testkit.Resource, key string) iampolicy.Document {
	t.Helper()
	var d iampolicy.Document
	if err := json.Unmarshal([]byte(str(r, key)), &d); err != nil {
		t.Fatalf("%s of %s: %v", key, r.Name, err)
	}
	return d
}

func TestGuardStack(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	const asgName = "compute-cp-asg"

	asg := one(t, m, "aws:autoscaling/group:Group", "compute-cp")
	count := int(num(asg, "minSize"))
	if int(num(asg, "maxSize")) != count+1 || !asg.Inputs["protectFromScaleIn"].BoolValue() {
		t.Errorf("control-plane ASG: maxSize %v for %d nodes, protectFromScaleIn %v", num(asg, "maxSize"), count, asg.Inputs["protectFromScaleIn"])
	}
	// AZRebalance runs: it launches first, and the guard lets the doubled
	// zone give one node up through the terminate hook.
	if got := testkit.Strings(asg.Inputs["suspendedProcesses"]); len(got) != 0 {
		t.Errorf("suspendedProcesses = %v, want none (AZ rebalancing goes through the guard)", got)
	}
	if str(asg, "healthCheckType") != "EC2" {
		t.Errorf("healthCheckType = %s", str(asg, "healthCheckType"))
	}
	prefs := asg.Inputs["instanceRefresh"].ObjectValue()["preferences"].ObjectValue()
	if prefs["minHealthyPercentage"].NumberValue() != 100 || int(prefs["maxHealthyPercentage"].NumberValue()) != compute.RefreshMaxHealthyPercentage(count) ||
		prefs["autoRollback"].BoolValue() || prefs["scaleInProtectedInstances"].StringValue() != "Refresh" {
		t.Errorf("instance refresh preferences = %v", prefs)
	}
	alarms := testkit.Strings(prefs["alarmSpecification"].ObjectValue()["alarms"])
	if len(alarms) != 1 || !strings.HasSuffix(alarms[0], "-etcd-degraded") {
		t.Errorf("refresh alarms = %v", alarms)
	}
	if _, ok := asg.Inputs["instanceMaintenancePolicy"]; ok {
		t.Error("an instance maintenance policy would make health-check replacement launch-first and deadlock a dead member")
	}

	hooks := map[string]testkit.Resource{}
	for _, h := range m.InComponent("aws:autoscaling/lifecycleHook:LifecycleHook", "talos-aws:compute:EtcdGuard") {
		hooks[str(h, "name")] = h
		if str(h, "autoscalingGroupName") != asgName {
			t.Errorf("hook %s on %s", h.Name, str(h, "autoscalingGroupName"))
		}
	}
	launch, term := hooks[contract.LaunchHook], hooks[contract.TerminateHook]
	// Neither default ends a node: Talos joins a launching node to etcd
	// whatever the hook says, so ABANDON would kill a voter.
	if str(launch, "lifecycleTransition") != "autoscaling:EC2_INSTANCE_LAUNCHING" || str(launch, "defaultResult") != "CONTINUE" {
		t.Errorf("launch hook = %v", launch.Inputs)
	}
	if str(term, "lifecycleTransition") != "autoscaling:EC2_INSTANCE_TERMINATING" || str(term, "defaultResult") != "CONTINUE" {
		t.Errorf("terminate hook = %v", term.Inputs)
	}
	if !dependsOn(launch, "talos:machine/bootstrap:Bootstrap", "talos-bootstrap") {
		t.Errorf("the launch hook must wait for the bootstrap (deps %v)", launch.Dependencies)
	}

	rules := map[string]testkit.Resource{}
	for _, r := range m.ByType("aws:cloudwatch/eventRule:EventRule") {
		rules[r.Name] = r
	}
	if p := str(rules["etcd-guard-lifecycle"], "eventPattern"); p != etcdguard.LifecycleEventPattern(asgName) {
		t.Errorf("lifecycle rule pattern = %s", p)
	}
	if s := str(rules["etcd-guard-audit"], "scheduleExpression"); s != etcdguard.AuditSchedule {
		t.Errorf("audit schedule = %q", s)
	}
	// Lifecycle, audit and (backups on in HA) the backup schedule.
	if n := len(m.InComponent("aws:cloudwatch/eventTarget:EventTarget", "talos-aws:compute:EtcdGuard")); n != 3 {
		t.Errorf("%d event targets, want 3", n)
	}
	for _, p := range m.ByType("aws:lambda/permission:Permission") {
		if str(p, "principal") != "events.amazonaws.com" || !strings.HasPrefix(str(p, "sourceArn"), "arn:aws:events:") {
			t.Errorf("permission %s: %v", p.Name, p.Inputs)
		}
	}

	fn := one(t, m, "aws:lambda/function:Function", "etcd-guard")
	// No run outlives a hook: a run may spend the function's whole timeout
	// on a leave before its own heartbeats.
	for _, h := range []testkit.Resource{launch, term} {
		if num(h, "heartbeatTimeout") <= num(fn, "timeout") {
			t.Errorf("hook %s: heartbeatTimeout %v within the function's timeout %v", h.Name, num(h, "heartbeatTimeout"), num(fn, "timeout"))
		}
	}
	// The guard's alarms (their actions: TestAlarmsNotify).
	held := one(t, m, "aws:cloudwatch/metricAlarm:MetricAlarm", "etcd-guard-held")
	if str(held, "metricName") != contract.MetricHeld || str(held, "namespace") != contract.Namespace || num(held, "threshold") != 1 {
		t.Errorf("held alarm = %v", held.Inputs)
	}
	errs := one(t, m, "aws:cloudwatch/metricAlarm:MetricAlarm", "etcd-guard-errors")
	if str(errs, "namespace") != "AWS/Lambda" || str(errs, "metricName") != "Errors" || errs.Inputs["dimensions"].ObjectValue()["FunctionName"].StringValue() != str(fn, "name") {
		t.Errorf("errors alarm = %v", errs.Inputs)
	}
	if str(fn, "runtime") != "provided.al2023" || str(fn, "handler") != "bootstrap" || testkit.Strings(fn.Inputs["architectures"])[0] != "arm64" ||
		num(fn, "reservedConcurrentExecutions") != 1 || str(fn, "s3Key") != fixtureKey {
		t.Errorf("function = %v", fn.Inputs)
	}
	vpc := fn.Inputs["vpcConfig"].ObjectValue()
	if len(testkit.Strings(vpc["subnetIds"])) == 0 || len(testkit.Strings(vpc["securityGroupIds"])) != 1 {
		t.Errorf("function vpcConfig = %v", vpc)
	}

	// Permissions: only this cluster's ASG, secret, key and parameter.
	pol := policyDoc(t, one(t, m, "aws:iam/rolePolicy:RolePolicy", "etcd-guard-role"))
	lc := policyDoc(t, one(t, m, "aws:iam/rolePolicy:RolePolicy", "etcd-guard-lifecycle"))
	if got := strings.Join(lc.Actions(), " "); got != "autoscaling:CompleteLifecycleAction autoscaling:RecordLifecycleActionHeartbeat autoscaling:SetInstanceProtection" || len(lc.Statement) != 1 {
		t.Errorf("lifecycle policy %+v", lc)
	}
	for _, h := range []testkit.Resource{launch, term} {
		if !dependsOn(h, "aws:iam/rolePolicy:RolePolicy", "etcd-guard-lifecycle") {
			t.Errorf("hook %s before the guard may complete it", h.Name)
		}
	}
	for _, s := range append(pol.Statement, lc.Statement...) {
		res, _ := s.Resource.(string)
		switch s.Sid {
		case "LifecycleActions":
			if !strings.HasSuffix(res, "autoScalingGroupName/"+asgName) {
				t.Errorf("lifecycle actions on %q", res)
			}
		case "Talosconfig":
			if !strings.HasPrefix(res, "arn:aws:secretsmanager:") {
				t.Errorf("secret read on %q", res)
			}
		case "TalosconfigKey":
			if !strings.HasPrefix(res, "arn:aws:kms:") {
				t.Errorf("kms on %q", res)
			}
		}
	}

	// The talosconfig: written by `up` into a secret under the guard's own
	// key, which only the guard's role may read; no resource reads it back.
	if n := len(m.ByType("aws:secretsmanager/secretVersion:SecretVersion")); n != 0 {
		t.Errorf("%d SecretVersion resources: the provider reads every version back, so the deployer would need the read the policy denies", n)
	}
	sec := one(t, m, "aws:secretsmanager/secret:Secret", "etcd-guard-admin-talosconfig")
	if !strings.HasPrefix(str(sec, "kmsKeyId"), "arn:aws:kms:") {
		t.Errorf("secret kmsKeyId = %q", str(sec, "kmsKeyId"))
	}
	const roleARN = "arn:aws:iam::123456789012:role/etcd-guard-role" // the mocks' ARN for it
	const secretARN = "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:etcd-guard-admin-talosconfig"
	sp := one(t, m, "aws:secretsmanager/secretPolicy:SecretPolicy", "etcd-guard-admin-talosconfig")
	spd := policyDocAt(t, sp, "policy")
	if len(spd.Statement) != 2 || spd.Statement[0].Effect != "Deny" || spd.Statement[0].Principal != "*" ||
		strings.Join(spd.Statement[0].Actions(), ",") != "secretsmanager:GetSecretValue" || !sp.Inputs["blockPublicPolicy"].BoolValue() {
		t.Errorf("secret policy %+v", spd)
	}
	if got := fmt.Sprint(spd.Statement[0].Condition["StringNotEquals"]["aws:PrincipalArn"]); got != "["+roleARN+"]" {
		t.Errorf("secret readable by %s, want only the guard's role %s", got, roleARN)
	}
	// No break-glass role: nobody may replace or remove the policy.
	if s := spd.Statement[1]; s.Effect != "Deny" || s.Principal != "*" || s.Condition != nil ||
		strings.Join(s.Actions(), ",") != "secretsmanager:DeleteResourcePolicy,secretsmanager:PutResourcePolicy" {
		t.Errorf("secret policy changes: %+v", s)
	}
	// Only the break-glass roles may remove it, so a destroy leaves it to
	// go with the secret.
	if !sp.RetainOnDelete {
		t.Error("the secret's policy must be retained on delete")
	}
	kd := policyDocAt(t, one(t, m, "aws:kms/key:Key", "etcd-guard-key"), "policy")
	for _, st := range kd.Statement {
		acts := fmt.Sprint(st.Action)
		if strings.Contains(acts, "kms:Decrypt") && st.Condition["StringEquals"]["kms:ViaService"] != "secretsmanager.ap-southeast-1.amazonaws.com" {
			t.Errorf("key statement %s decrypts outside Secrets Manager", st.Sid)
		}
		if st.NotAction != nil && fmt.Sprint(st.NotAction) != "[kms:Decrypt]" {
			t.Errorf("key statement %s: NotAction %v", st.Sid, st.NotAction)
		}
	}
	var wrote []string
	uploadsMu.Lock()
	for _, w := range secretWrites {
		if strings.HasPrefix(w, secretARN+"=") {
			wrote = append(wrote, w)
		}
	}
	uploadsMu.Unlock()
	if len(wrote) == 0 || !strings.Contains(wrote[len(wrote)-1], "=context: prod") || !strings.Contains(wrote[len(wrote)-1], "key: ") {
		t.Errorf("talosconfig writes %q: want the admin talosconfig written to the secret in up", wrote)
	}
	if env := fn.Inputs["environment"].ObjectValue()["variables"].ObjectValue(); env[contract.EnvSecretID].StringValue() != secretARN {
		t.Errorf("%s = %v, want the secret's ARN", contract.EnvSecretID, env[contract.EnvSecretID])
	}

	// The groups the guard's path lives in are guarded (the control-plane
	// role may not change them: compute.ControlPlanePolicy); the workers'
	// group, which the cloud controller manager opens for load balancers,
	// is not.
	for name, want := range map[string]string{"compute-control-plane": "true", "etcd-guard-sg": "true", "compute-workers": ""} {
		sg := one(t, m, "aws:ec2/securityGroup:SecurityGroup", name)
		got := ""
		if v, ok := sg.Inputs["tags"].ObjectValue()["talos-aws-guarded"]; ok {
			got = v.StringValue()
		}
		if got != want {
			t.Errorf("security group %s: talos-aws-guarded %q, want %q", name, got, want)
		}
	}

	// Network: 50000 into the control plane from the guard's group only.
	var guardSG string
	for _, r := range m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
		if r.Name == "etcd-guard-cp-from-guard" {
			guardSG = str(r, "sourceSecurityGroupId")
			if str(r, "type") != "ingress" || num(r, "fromPort") != 50000 || num(r, "toPort") != 50000 || str(r, "securityGroupId") != "compute-control-plane_id" {
				t.Errorf("guard rule = %v", r.Inputs)
			}
		}
	}
	if guardSG != "etcd-guard-sg_id" {
		t.Fatalf("no 50000 rule from the guard's group (source %q)", guardSG)
	}
	for _, r := range m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
		if str(r, "securityGroupId") == guardSG && str(r, "type") == "ingress" {
			t.Errorf("something may connect to the guard: %v", r.Inputs)
		}
		if str(r, "securityGroupId") == guardSG && str(r, "type") == "egress" && num(r, "fromPort") != 50000 && num(r, "fromPort") != 443 {
			t.Errorf("guard egress beyond 50000 and 443: %v", r.Inputs)
		}
	}
}

// TestControlPlaneWaitOrdering: in `up`, worker ASGs are registered only
// after the control-plane wait returned; a preview never waits; the program
// never invokes the guard itself.
func TestControlPlaneWaitOrdering(t *testing.T) {
	defer func(old func(*pulumi.Context, *config.Config) compute.ControlPlaneWaiter) { controlPlaneWaiter = old }(controlPlaneWaiter)
	for _, preview := range []bool{false, true} {
		m := &testkit.Mocks{Preview: preview}
		calls, workersBefore := 0, -1
		controlPlaneWaiter = func(*pulumi.Context, *config.Config) compute.ControlPlaneWaiter {
			return func(_ context.Context, asg string) error {
				calls++
				if asg != "compute-cp-asg" {
					t.Errorf("waited on %q", asg)
				}
				workersBefore = 0
				for _, r := range m.Resources {
					if r.Type == "aws:autoscaling/group:Group" && r.Name != "compute-cp" {
						workersBefore++
					}
				}
				return nil
			}
		}
		evaluate(t, m, haConfig(t))
		workers := len(m.ByType("aws:autoscaling/group:Group")) - 1
		switch {
		case preview && calls != 0:
			t.Errorf("preview waited %d times", calls)
		case !preview && (calls != 1 || workersBefore != 0 || workers == 0):
			t.Errorf("up: %d waits, %d worker ASGs registered before the wait returned, %d after", calls, workersBefore, workers)
		}
		for _, c := range m.Calls {
			if strings.HasPrefix(c.Token, "aws:lambda/") {
				t.Errorf("the program invoked %s", c.Token)
			}
		}
		// The pre-change snapshot is registered in preview and up alike;
		// the program never calls Lambda itself, and a preview's plan of
		// an Invocation runs nothing (the provider invokes on create).
		if n := len(m.ByType("aws:lambda/invocation:Invocation")); n != 1 {
			t.Errorf("preview=%v: %d pre-change invocations registered, want 1", preview, n)
		}
	}
}

// etcdGuardPaused reaches the function, so pausing survives `pulumi up`
// and `refresh` (a hand-set variable would be reverted by both).
func TestGuardPauseFromConfig(t *testing.T) {
	for _, paused := range []string{"false", "true"} {
		cfg := haConfig(t)
		cfg["etcdGuardPaused"] = paused
		m := &testkit.Mocks{}
		evaluate(t, m, cfg)
		fn := one(t, m, "aws:lambda/function:Function", "etcd-guard")
		vars := fn.Inputs["environment"].ObjectValue()["variables"].ObjectValue()
		if got := vars["GUARD_PAUSED"].StringValue(); got != paused {
			t.Errorf("etcdGuardPaused %s: GUARD_PAUSED %q", paused, got)
		}
	}
}

// The break-glass roles the user names read the talosconfig too, and
// alone may change who does; nobody else.
func TestGuardSecretReaders(t *testing.T) {
	cfg := haConfig(t)
	cfg["etcdGuardSecretReaders"] = `["arn:aws:iam::123456789012:role/break-glass"]`
	m := &testkit.Mocks{}
	evaluate(t, m, cfg)
	d := policyDocAt(t, one(t, m, "aws:secretsmanager/secretPolicy:SecretPolicy", "etcd-guard-admin-talosconfig"), "policy")
	got := fmt.Sprint(d.Statement[0].Condition["StringNotEquals"]["aws:PrincipalArn"])
	if got != "[arn:aws:iam::123456789012:role/etcd-guard-role arn:aws:iam::123456789012:role/break-glass]" {
		t.Errorf("readers %s", got)
	}
	if got := fmt.Sprint(d.Statement[1].Condition["StringNotEquals"]["aws:PrincipalArn"]); got != "[arn:aws:iam::123456789012:role/break-glass]" {
		t.Errorf("the policy may be changed by %s, want the break-glass role alone", got)
	}
}

// The talosconfig is written in `up` only, once per run; previews (a
// first one, or of an existing stack) write nothing.
func TestGuardSecretWrittenInUpOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     *testkit.Mocks
		wants int
	}{{"up", &testkit.Mocks{}, 1}, {"preview of an existing stack", &testkit.Mocks{DryRun: true}, 0}, {"first preview", &testkit.Mocks{Preview: true}, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			uploadsMu.Lock()
			secretWrites = nil
			uploadsMu.Unlock()
			evaluate(t, tc.m, haConfig(t))
			uploadsMu.Lock()
			got := len(secretWrites)
			uploadsMu.Unlock()
			if got != tc.wants {
				t.Errorf("%d talosconfig writes, want %d", got, tc.wants)
			}
		})
	}
}
