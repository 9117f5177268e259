package backups

import (
	"sort"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
)

// readActions are every way to get a snapshot's content back.
var readActions = []string{"s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectVersion", "s3:GetObjectVersionAttributes", "s3:RestoreObject"}

// deleteActions are every way to remove a snapshot (a version, or the
// current one behind a delete marker) before its lifecycle expiry.
var deleteActions = []string{"s3:BypassGovernanceRetention", "s3:DeleteObject", "s3:DeleteObjectVersion"}

// policyActions replace or remove this policy, and with it every deny.
var policyActions = []string{"s3:DeleteBucketPolicy", "s3:PutBucketPolicy"}

// BucketPolicy says who may, not who may not: TLS only; nobody but the
// writer (the etcd guard's role) puts objects; nobody but the break-glass
// roles (etcdGuardSecretReaders) reads or deletes them or changes this
// policy, whatever their IAM policies allow (an explicit Deny wins over any
// grant, AdministratorAccess and PowerUserAccess included). The
// break-glass roles still need their own IAM grants to read (and
// kms:Decrypt on the bucket's key); this policy only refuses everyone
// else. Sessions are matched by their role (aws:PrincipalArn). With no
// break-glass role nobody reads a snapshot: the account's root user can
// still delete this policy (S3 lets the root user manage a bucket's
// policy whatever it says).
//
// Listing stays with IAM: HeadBucket, which the provider's read of the
// bucket makes, is authorized as s3:ListBucket, so a deny would break
// `pulumi refresh` for every deployer but the break-glass roles; object
// keys and their metadata headers hold no snapshot content.
func BucketPolicy(bucketARN, writerARN string, breakGlass []string) string {
	objects := bucketARN + "/*"
	// Keys sorted: the bytes existing stacks hold.
	return iampolicy.New(
		iampolicy.Statement{Sid: "TLSOnly", Effect: "Deny", Principal: "*", Action: []string{"s3:*"}, Resource: []string{bucketARN, objects},
			Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}}},
		iampolicy.Statement{Sid: "OnlyTheBackupRoleWrites", Effect: "Deny", Principal: "*", Action: []string{"s3:PutObject"}, Resource: []string{objects},
			Condition: map[string]map[string]any{"ArnNotEquals": {"aws:PrincipalArn": writerARN}}},
		iampolicy.Statement{Sid: "OnlyBreakGlassReadsOrDeletes", Effect: "Deny", Principal: "*", Action: append(append([]string(nil), readActions...), deleteActions...),
			Resource: []string{objects}, Condition: OnlyPrincipals(breakGlass)},
		iampolicy.Statement{Sid: "OnlyBreakGlassChangesThisPolicy", Effect: "Deny", Principal: "*", Action: policyActions,
			Resource: []string{bucketARN}, Condition: OnlyPrincipals(breakGlass)},
	).SortedJSON()
}

// OnlyPrincipals is the condition of a resource policy's Deny that spares
// these IAM roles (their sessions: aws:PrincipalArn is the role's ARN) and
// no one else; with none, the Deny has no condition and spares nobody.
func OnlyPrincipals(roleARNs []string) map[string]map[string]any {
	if len(roleARNs) == 0 {
		return nil
	}
	arns := append([]string(nil), roleARNs...)
	sort.Strings(arns)
	return map[string]map[string]any{"ArnNotEquals": {"aws:PrincipalArn": arns}}
}

// WriterPolicy is the writer's (the etcd guard role's) backup permission: put snapshots under
// the cluster's prefix (SSE-KMS needs GenerateDataKey on the key), list
// that prefix to compute the freshness metric after a failed run, and
// publish the metric in its namespace. No read, no delete.
func WriterPolicy(bucketARN, keyARN, cluster string) iampolicy.Document {
	call := func(fn string) string { return "etcdguard/lambda/awsapi/s3.go " + fn }
	p := &iampolicy.Policy{}
	p.Allow(iampolicy.Scope{Sid: "PutSnapshots", Resource: bucketARN + "/" + cluster + "/*"},
		iampolicy.Grant{Action: "s3:PutObject", Caller: call("Snapshots.Put")})
	p.Allow(iampolicy.Scope{Sid: "ListSnapshots", Resource: bucketARN,
		Condition: map[string]map[string]any{"StringLike": {"s3:prefix": cluster + "/*"}}},
		iampolicy.Grant{Action: "s3:ListBucket", Caller: call("Snapshots.Keys")})
	p.Allow(iampolicy.Scope{Sid: "EncryptWithTheBucketKey", Resource: keyARN},
		iampolicy.Grant{Action: "kms:GenerateDataKey", Caller: "S3 (SSE-KMS), for " + call("Snapshots.Put")})
	p.Allow(iampolicy.Scope{Sid: "FreshnessMetric", Resource: "*",
		Condition: map[string]map[string]any{"StringEquals": {"cloudwatch:namespace": contract.BackupNamespace}}},
		iampolicy.Grant{Action: "cloudwatch:PutMetricData", Caller: call("Freshness.PublishSnapshotAge")})
	return p.Document()
}

// Alarm is the freshness alarm's shape.
type Alarm struct {
	PeriodSeconds    int
	ThresholdSeconds float64
	TreatMissingData string
}

// FreshnessAlarm fires when the newest snapshot is older than two
// intervals, or when no run has reported for a whole window of two
// intervals (a function that does not run publishes nothing: missing data
// counts as breaching). The window is two intervals long, at most a day
// (intervalMinutes <= 720).
func FreshnessAlarm(b config.Backups) Alarm {
	twoPeriods := 2 * b.IntervalMinutes * 60
	return Alarm{PeriodSeconds: twoPeriods, ThresholdSeconds: float64(twoPeriods), TreatMissingData: "breaching"}
}
