package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/talos-aws/talos-aws/backups"
	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/internal/testkit"
)

type policyStatement struct {
	Sid       string
	Effect    string
	Principal any
	Action    []string
	Resource  any
	Condition map[string]map[string]any
}

func statements(t *testing.T, doc string) []policyStatement {
	t.Helper()
	var d struct{ Statement []policyStatement }
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
		str(alarm, "metricName") != backups.MetricName {
		t.Errorf("freshness alarm %v, want > 2 h (two hourly periods), missing data breaching", alarm.Inputs)
	}
}

func TestBackupBucketPolicy(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	writer := "arn:aws:iam::123456789012:role/backups-writer"
	nodeRoles := []string{"arn:aws:iam::123456789012:role/compute-cp", "arn:aws:iam::123456789012:role/compute-worker"}
	ss := statements(t, str(one(t, m, "aws:s3/bucketPolicy:BucketPolicy", "backups"), "policy"))
	bySid := map[string]policyStatement{}
	for _, s := range ss {
		bySid[s.Sid] = s
		if s.Effect != "Deny" {
			t.Errorf("%s: the bucket policy only denies; grants come from IAM", s.Sid)
		}
	}
	if s := bySid["TLSOnly"]; s.Condition["Bool"]["aws:SecureTransport"] != "false" || !slices.Contains(s.Action, "s3:*") {
		t.Errorf("no TLS-only deny: %+v", s)
	}
	if s := bySid["OnlyTheBackupRoleWrites"]; s.Condition["ArnNotEquals"]["aws:PrincipalArn"] != writer || !slices.Contains(s.Action, "s3:PutObject") {
		t.Errorf("writes not limited to the backup role: %+v", s)
	}
	s := bySid["NoStackRoleReads"]
	var denied []string
	for _, p := range s.Condition["ArnEquals"]["aws:PrincipalArn"].([]any) {
		denied = append(denied, p.(string))
	}
	for _, r := range append([]string{writer}, nodeRoles...) {
		if !slices.Contains(denied, r) {
			t.Errorf("%s may read snapshots (explicit deny list %v)", r, denied)
		}
	}
	if !slices.Contains(s.Action, "s3:GetObject") || !slices.Contains(s.Action, "s3:GetObjectVersion") {
		t.Errorf("read deny misses object reads: %v", s.Action)
	}
}

// IAM side of "readable by nobody else in the stack": no inline policy of
// any role grants an S3 read, and the writer cannot delete.
func TestNoStackRoleCanReadSnapshots(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	for _, p := range m.ByType("aws:iam/rolePolicy:RolePolicy") {
		var d compute.PolicyDocument
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
			if !slices.Contains(st.Action, "kms:Decrypt") && !slices.Contains(st.Action, "kms:*") {
				continue
			}
			res := fmt.Sprint(st.Resource)
			if strings.Contains(res, "*") || strings.HasSuffix(res, ":key/backups") {
				t.Errorf("%s grants kms:Decrypt on %s, which covers the snapshots' key", p.Name, res)
			}
		}
	}
	w := one(t, m, "aws:iam/rolePolicy:RolePolicy", "backups-writer")
	var d compute.PolicyDocument
	if err := json.Unmarshal([]byte(str(w, "policy")), &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Actions(); !slices.Equal(got, []string{"cloudwatch:PutMetricData", "kms:GenerateDataKey", "s3:ListBucket", "s3:PutObject"}) {
		t.Errorf("writer actions %v", got)
	}
	for _, s := range d.Statement {
		if slices.Contains(s.Action, "s3:PutObject") && s.Resource != "arn:aws:s3:::backups/prod/*" {
			t.Errorf("writer puts to %v, want only the cluster's prefix", s.Resource)
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
	if n := len(m.ByType("aws:s3/bucketV2:BucketV2")); n != 0 {
		t.Errorf("dev stack has %d backup buckets", n)
	}
}
