package program

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/testkit"
)

func statements(t *testing.T, doc string) []iampolicy.Statement {
	t.Helper()
	var d struct{ Statement []iampolicy.Statement }
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	return d.Statement
}

func TestBackupBucketEncryptedPrivateVersionedExpiring(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	key := one(t, m, "aws:kms/key:Key", "backups")
	if v := key.Inputs["enableKeyRotation"]; !v.IsBool() || !v.BoolValue() {
		t.Error("backup key without rotation")
	}
	keyARN := "arn:aws:kms:ap-southeast-1:123456789012:key/backups"
	sse := one(t, m, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "backups")
	rule := sse.Inputs["rules"].ArrayValue()[0].ObjectValue()
	def := rule["applyServerSideEncryptionByDefault"].ObjectValue()
	if def["sseAlgorithm"].StringValue() != "aws:kms" || def["kmsMasterKeyId"].StringValue() != keyARN || !rule["bucketKeyEnabled"].BoolValue() {
		t.Errorf("bucket encryption %v, want SSE-KMS with the stack's key", rule)
	}
	pab := one(t, m, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "backups")
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if !pab.Inputs[resource.PropertyKey(k)].BoolValue() {
			t.Errorf("public access block %s off", k)
		}
	}
	ver := one(t, m, "aws:s3/bucketVersioningV2:BucketVersioningV2", "backups")
	if ver.Inputs["versioningConfiguration"].ObjectValue()["status"].StringValue() != "Enabled" {
		t.Error("versioning off")
	}
	lc := one(t, m, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "backups")
	r := lc.Inputs["rules"].ArrayValue()[0].ObjectValue()
	if r["expiration"].ObjectValue()["days"].NumberValue() != 14 || r["noncurrentVersionExpiration"].ObjectValue()["noncurrentDays"].NumberValue() != 14 {
		t.Errorf("lifecycle %v, want expiry after retentionDays (14)", r)
	}
	for _, typ := range []string{"aws:s3/bucketV2:BucketV2", "aws:kms/key:Key"} {
		if r := one(t, m, typ, "backups"); !r.RetainOnDelete {
			t.Errorf("%s is deleted with the stack: backups must outlive the cluster", typ)
		}
	}
	if n := len(m.ByType("aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2")); n != 0 {
		t.Errorf("object lock without objectLockDays")
	}
	alarm := one(t, m, "aws:cloudwatch/metricAlarm:MetricAlarm", "backups-freshness")
	if num(alarm, "threshold") != 7200 || num(alarm, "period") != 7200 || str(alarm, "treatMissingData") != "breaching" ||
		str(alarm, "metricName") != contract.BackupMetric {
		t.Errorf("freshness alarm %v, want > 2 h (two hourly periods), missing data breaching", alarm.Inputs)
	}
}

// TestBackupBucketPolicy: the bucket says who may, not who may not. The
// guard's role alone writes; the break-glass roles alone read, delete and
// change the policy; with none listed, nobody does (iamroles'
// TestEvaluator runs the same policy through an IAM evaluator).
func TestBackupBucketPolicy(t *testing.T) {
	writer := "arn:aws:iam::123456789012:role/etcd-guard-role"
	for _, readers := range [][]string{nil, {"arn:aws:iam::123456789012:role/break-glass", "arn:aws:iam::123456789012:role/ops/oncall"}} {
		m := &testkit.Mocks{}
		cfg := haConfig(t)
		if readers != nil {
			b, err := json.Marshal(readers)
			if err != nil {
				t.Fatal(err)
			}
			cfg["etcdGuardSecretReaders"] = string(b)
		}
		evaluate(t, m, cfg)
		// The etcd guard's role is the only writer (no separate writer role).
		if n := len(m.ByType("aws:iam/role:Role")) - len(irsaRoles(t, m)); n != 3 {
			t.Errorf("%d roles besides the service accounts', want the two node roles and the guard's", n)
		}
		bp := one(t, m, "aws:s3/bucketPolicy:BucketPolicy", "backups")
		if !bp.RetainOnDelete {
			t.Error("the bucket policy must stay with the kept bucket")
		}
		bySid := map[string]iampolicy.Statement{}
		for _, s := range statements(t, str(bp, "policy")) {
			bySid[s.Sid] = s
			if s.Effect != "Deny" || s.Principal != "*" {
				t.Errorf("%s: the bucket policy only denies, everyone; grants come from IAM", s.Sid)
			}
		}
		if s := bySid["TLSOnly"]; s.Condition["Bool"]["aws:SecureTransport"] != "false" || !slices.Contains(s.Actions(), "s3:*") {
			t.Errorf("no TLS-only deny: %+v", s)
		}
		if s := bySid["OnlyTheBackupRoleWrites"]; s.Condition["ArnNotEquals"]["aws:PrincipalArn"] != writer || !slices.Contains(s.Actions(), "s3:PutObject") {
			t.Errorf("writes not limited to the backup role: %+v", s)
		}
		for _, sid := range []string{"OnlyBreakGlassReadsOrDeletes", "OnlyBreakGlassChangesThisPolicy"} {
			s := bySid[sid]
			var spared []string
			if c, ok := s.Condition["ArnNotEquals"]["aws:PrincipalArn"].([]any); ok {
				for _, p := range c {
					spared = append(spared, p.(string))
				}
			}
			if readers == nil && s.Condition != nil || readers != nil && !slices.Equal(spared, readers) {
				t.Errorf("readers %v: %s spares %v (%v)", readers, sid, spared, s.Condition)
			}
		}
		for _, a := range []string{"s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} {
			if !slices.Contains(bySid["OnlyBreakGlassReadsOrDeletes"].Actions(), a) {
				t.Errorf("%s is not limited to the break-glass roles", a)
			}
		}
		if got := bySid["OnlyBreakGlassChangesThisPolicy"].Actions(); !slices.Equal(got, []string{"s3:DeleteBucketPolicy", "s3:PutBucketPolicy"}) {
			t.Errorf("policy changes denied: %v", got)
		}
	}
}

// IAM side of "readable by nobody else in the stack": no inline policy of
// any role grants an S3 read, and the writer cannot delete.
func TestNoStackRoleCanReadSnapshots(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	for _, p := range m.ByType("aws:iam/rolePolicy:RolePolicy") {
		var d iampolicy.Document
		if err := json.Unmarshal([]byte(str(p, "policy")), &d); err != nil {
			t.Fatal(err)
		}
		for _, a := range d.Actions() {
			if strings.HasPrefix(a, "s3:Get") || a == "s3:*" || strings.HasPrefix(a, "s3:Delete") {
				t.Errorf("%s grants %s", p.Name, a)
			}
		}
		// kms:Decrypt only on a named key that is not the snapshots' key
		// (the etcd guard decrypts its own talosconfig secret).
		for _, st := range d.Statement {
			if !slices.Contains(st.Actions(), "kms:Decrypt") && !slices.Contains(st.Actions(), "kms:*") {
				continue
			}
			res := fmt.Sprint(st.Resource)
			if strings.Contains(res, "*") || strings.HasSuffix(res, ":key/backups") {
				t.Errorf("%s grants kms:Decrypt on %s, which covers the snapshots' key", p.Name, res)
			}
		}
	}
	// The writer's permission sits on the guard's role: put under the
	// cluster's prefix, list it, encrypt with the bucket key, publish the
	// freshness metric. Nothing reads or deletes.
	w := one(t, m, "aws:iam/rolePolicy:RolePolicy", "backups-writer")
	if str(w, "role") != "etcd-guard-role" {
		t.Errorf("backup permission on role %q, want the etcd guard's", str(w, "role"))
	}
	var d iampolicy.Document
	if err := json.Unmarshal([]byte(str(w, "policy")), &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Actions(); !slices.Equal(got, []string{"cloudwatch:PutMetricData", "kms:GenerateDataKey", "s3:ListBucket", "s3:PutObject"}) {
		t.Errorf("writer actions %v", got)
	}
	for _, s := range d.Statement {
		if slices.Contains(s.Actions(), "s3:PutObject") && s.Resource != "arn:aws:s3:::backups/prod/*" {
			t.Errorf("writer puts to %v, want only the cluster's prefix", s.Resource)
		}
		if slices.Contains(s.Actions(), "kms:GenerateDataKey") && s.Resource != "arn:aws:kms:ap-southeast-1:123456789012:key/backups" {
			t.Errorf("writer encrypts with %v, want only the backups key", s.Resource)
		}
		if slices.Contains(s.Actions(), "cloudwatch:PutMetricData") && s.Condition["StringEquals"]["cloudwatch:namespace"] != contract.BackupNamespace {
			t.Errorf("freshness metric not limited to %s: %v", contract.BackupNamespace, s.Condition)
		}
	}
	// Every policy on the guard's role together: no read of any object, no
	// decrypt with the backups key.
	for _, p := range m.ByType("aws:iam/rolePolicy:RolePolicy") {
		if str(p, "role") != "etcd-guard-role" {
			continue
		}
		var d iampolicy.Document
		if err := json.Unmarshal([]byte(str(p, "policy")), &d); err != nil {
			t.Fatal(err)
		}
		for _, st := range d.Statement {
			for _, a := range st.Actions() {
				if strings.HasPrefix(a, "s3:Get") || a == "s3:*" || (a == "kms:Decrypt" && strings.Contains(fmt.Sprint(st.Resource), "key/backups")) {
					t.Errorf("the guard's %s grants %s on %v", p.Name, a, st.Resource)
				}
			}
		}
	}
}

func TestBackupsOptions(t *testing.T) {
	cfg := haConfig(t)
	cfg["backups"] = `{"intervalMinutes":30,"retentionDays":7,"objectLockDays":7}`
	m := &testkit.Mocks{}
	evaluate(t, m, cfg)
	lock := one(t, m, "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2", "backups")
	ret := lock.Inputs["rule"].ObjectValue()["defaultRetention"].ObjectValue()
	if ret["mode"].StringValue() != "GOVERNANCE" || ret["days"].NumberValue() != 7 {
		t.Errorf("object lock %v", ret)
	}
	if !dependsOn(lock, "aws:s3/bucketVersioningV2:BucketVersioningV2", "backups") {
		t.Error("object lock must follow versioning")
	}
	if a := one(t, m, "aws:cloudwatch/metricAlarm:MetricAlarm", "backups-freshness"); num(a, "threshold") != 3600 {
		t.Errorf("30-minute interval: threshold %v, want 3600", num(a, "threshold"))
	}

	// A single control-plane node defaults to no backups.
	m = &testkit.Mocks{}
	evaluate(t, m, devConfig(t))
	for _, b := range m.ByType("aws:s3/bucketV2:BucketV2") {
		if b.Name != "etcd-guard-code" && b.Name != "identity-issuer" {
			t.Errorf("dev stack has backup bucket %s", b.Name)
		}
	}
}

func guardEnv(t *testing.T, m *testkit.Mocks) map[string]string {
	t.Helper()
	fn := one(t, m, "aws:lambda/function:Function", "etcd-guard")
	out := map[string]string{}
	for k, v := range fn.Inputs["environment"].ObjectValue()["variables"].ObjectValue() {
		if v.IsString() {
			out[string(k)] = v.StringValue()
		}
	}
	return out
}

// TestBackupSchedule: with backups on, an EventBridge schedule at
// intervalMinutes invokes the guard with the backup input; with backups
// off there is no schedule, no pre-change snapshot and no bucket in the
// guard's environment.
func TestBackupSchedule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      map[string]string
		schedule string
	}{
		{"ha default", haConfig(t), "rate(60 minutes)"},
		{"30 minutes", func() map[string]string {
			c := haConfig(t)
			c["backups"] = `{"intervalMinutes":30,"retentionDays":7,"ageRecipient":"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}`
			return c
		}(), "rate(30 minutes)"},
		{"dev (off)", devConfig(t), ""},
	} {
		m := &testkit.Mocks{}
		evaluate(t, m, tc.cfg)
		env := guardEnv(t, m)
		var rule *testkit.Resource
		for _, r := range m.ByType("aws:cloudwatch/eventRule:EventRule") {
			if r.Name == "etcd-guard-backup" {
				rule = &r
			}
		}
		if tc.schedule == "" {
			if rule != nil || len(m.ByType("aws:lambda/invocation:Invocation")) != 0 || env["GUARD_BACKUP_BUCKET"] != "" {
				t.Errorf("%s: backups off, yet a schedule (%v), an invocation or a bucket (%q)", tc.name, rule != nil, env["GUARD_BACKUP_BUCKET"])
			}
			continue
		}
		if rule == nil {
			t.Fatalf("%s: no backup schedule", tc.name)
		}
		if s := str(*rule, "scheduleExpression"); s != tc.schedule {
			t.Errorf("%s: schedule %q, want %q", tc.name, s, tc.schedule)
		}
		target := one(t, m, "aws:cloudwatch/eventTarget:EventTarget", "etcd-guard-backup")
		if str(target, "arn") != "arn:aws:lambda:ap-southeast-1:123456789012:function:etcd-guard" && !strings.Contains(str(target, "arn"), "etcd-guard") {
			t.Errorf("%s: backup target %q is not the guard", tc.name, str(target, "arn"))
		}
		var in map[string]string
		if err := json.Unmarshal([]byte(str(target, "input")), &in); err != nil || in["action"] != "backup" {
			t.Errorf("%s: target input %q (%v), want the backup action", tc.name, str(target, "input"), err)
		}
		if str(target, "rule") != str(*rule, "name") && str(target, "rule") != "etcd-guard-backup" {
			t.Errorf("%s: target on rule %q", tc.name, str(target, "rule"))
		}
		perm := one(t, m, "aws:lambda/permission:Permission", "etcd-guard-backup")
		if str(perm, "principal") != "events.amazonaws.com" || !strings.Contains(str(perm, "sourceArn"), "etcd-guard-backup") {
			t.Errorf("%s: permission %v", tc.name, perm.Inputs)
		}
		if env["GUARD_BACKUP_BUCKET"] != "backups" || !strings.HasSuffix(env["GUARD_BACKUP_KMS_KEY"], ":key/backups") {
			t.Errorf("%s: guard env bucket %q key %q", tc.name, env["GUARD_BACKUP_BUCKET"], env["GUARD_BACKUP_KMS_KEY"])
		}
		if want := map[bool]string{true: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", false: ""}[tc.name == "30 minutes"]; env["GUARD_BACKUP_AGE_RECIPIENT"] != want {
			t.Errorf("%s: age recipient %q", tc.name, env["GUARD_BACKUP_AGE_RECIPIENT"])
		}
	}
}

// TestPreChangeSnapshotOrdering: `up` snapshots etcd before every
// control-plane change. The invocation is registered with the pre-change
// input and triggers that follow the launch template and the versions; the
// control-plane ASG depends on it; the function and everything the
// invocation needs do not depend on the ASG (that would be a cycle).
func TestPreChangeSnapshotOrdering(t *testing.T) {
	// A new stack has no etcd to snapshot: its control plane does not wait.
	fresh := &testkit.Mocks{}
	evaluate(t, fresh, haConfig(t))
	if dependsOn(one(t, fresh, "aws:autoscaling/group:Group", "compute-cp"), "aws:lambda/invocation:Invocation", "etcd-guard-pre-change") {
		t.Error("a new stack's control plane waits for a snapshot of nothing")
	}
	// A running cluster's does.
	m := &testkit.Mocks{LastUp: legacyLastUp(haConfig(t))}
	evaluate(t, m, haConfig(t))
	inv := one(t, m, "aws:lambda/invocation:Invocation", "etcd-guard-pre-change")
	var in map[string]string
	if err := json.Unmarshal([]byte(str(inv, "input")), &in); err != nil || in["action"] != "backup" || in["reason"] != "pre-change" {
		t.Errorf("input %q", str(inv, "input"))
	}
	if str(inv, "functionName") != "prod-etcd-guard" {
		t.Errorf("invokes %q", str(inv, "functionName"))
	}
	trig := inv.Inputs["triggers"].ObjectValue()
	for _, k := range []string{"launchTemplateVersion", "talosVersion", "kubernetesVersion", "controlPlaneCount"} {
		if !trig[resource.PropertyKey(k)].IsString() || trig[resource.PropertyKey(k)].StringValue() == "" {
			t.Errorf("trigger %s missing: %v", k, trig)
		}
	}
	for _, dep := range [][2]string{
		{"aws:lambda/function:Function", "etcd-guard"},
		{"aws:iam/rolePolicy:RolePolicy", "backups-writer"},
		{"aws:secretsmanager/secretPolicy:SecretPolicy", "etcd-guard-admin-talosconfig"}, // and, through it, the written talosconfig
		{"aws:ec2/securityGroupRule:SecurityGroupRule", "etcd-guard-cp-from-guard"},
	} {
		if !dependsOn(inv, dep[0], dep[1]) {
			t.Errorf("the pre-change snapshot does not wait for %s %s", dep[0], dep[1])
		}
	}
	if len(privateRouteTables(m)) == 0 {
		t.Fatal("no private route tables")
	}
	for _, rt := range privateRouteTables(m) {
		if !dependsOn(inv, "aws:ec2/routeTable:RouteTable", rt) {
			t.Errorf("the pre-change snapshot does not wait for the private route table %s", rt)
		}
	}
	asg := one(t, m, "aws:autoscaling/group:Group", "compute-cp")
	if !dependsOn(asg, "aws:lambda/invocation:Invocation", "etcd-guard-pre-change") {
		t.Errorf("the control-plane ASG does not wait for the pre-change snapshot (deps %v)", asg.Dependencies)
	}
	// Registration order is creation order under mocks: the function and
	// its invocation come before the group, the hooks after the bootstrap.
	order := map[string]int{}
	for i, r := range m.Resources {
		order[r.Type+"::"+r.Name] = i
	}
	if order["aws:lambda/invocation:Invocation::etcd-guard-pre-change"] > order["aws:autoscaling/group:Group::compute-cp"] {
		t.Error("the invocation is registered after the control-plane group")
	}
	env := guardEnv(t, m)
	if _, ok := env["GUARD_ASG_NAME"]; ok || env["GUARD_ASG_TAGS"] != `{"Name":"prod-control-plane","kubernetes.io/cluster/prod":"owned"}` {
		t.Errorf("guard env %v: the group must be found by tags, not by its (later) name", env)
	}
	// Those tags are the group's.
	tags := map[string]string{}
	for _, tg := range asg.Inputs["tags"].ArrayValue() {
		o := tg.ObjectValue()
		tags[o["key"].StringValue()] = o["value"].StringValue()
	}
	if tags["Name"] != "prod-control-plane" || tags["kubernetes.io/cluster/prod"] != "owned" {
		t.Errorf("control-plane ASG tags %v do not match GUARD_ASG_TAGS", tags)
	}
	// A re-run with the same config registers the same triggers (no
	// snapshot), a Talos upgrade other ones (a snapshot).
	m2 := &testkit.Mocks{LastUp: legacyLastUp(haConfig(t))}
	evaluate(t, m2, haConfig(t))
	if a, b := one(t, m2, "aws:lambda/invocation:Invocation", "etcd-guard-pre-change").Inputs["triggers"], inv.Inputs["triggers"]; !a.DeepEquals(b) {
		t.Errorf("triggers differ between identical runs: %v vs %v", a, b)
	}
}

func privateRouteTables(m *testkit.Mocks) []string {
	var out []string
	for _, r := range m.ByType("aws:ec2/routeTable:RouteTable") {
		if strings.Contains(r.Name, "private") {
			out = append(out, r.Name)
		}
	}
	return out
}

// S3 refuses concurrent changes to one bucket's configuration
// (OperationAborted): every setting waits for the one before.
func TestBucketSettingsOneAtATime(t *testing.T) {
	cfg := haConfig(t)
	cfg["backups"] = `{"objectLockDays":7}`
	m := &testkit.Mocks{}
	evaluate(t, m, cfg)
	chain := []string{
		"aws:s3/bucketV2:BucketV2", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
		"aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketVersioningV2:BucketVersioningV2",
		"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
		"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
		"aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2", "aws:s3/bucketPolicy:BucketPolicy",
	}
	for i := 1; i < len(chain); i++ {
		r := one(t, m, chain[i], "backups")
		if !dependsOn(r, chain[i-1], "backups") {
			t.Errorf("%s does not wait for %s: %v", chain[i], chain[i-1], r.Dependencies)
		}
	}
}
