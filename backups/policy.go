package backups

import (
	"sort"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
)

// readActions are every way to get a snapshot's content back.
var readActions = []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:RestoreObject"}

// BucketPolicy: TLS only; nobody but the writer puts objects; the writer
// and every other role of this stack (node roles) are explicitly refused
// reads, so granting them S3 read later by mistake still reads nothing.
// Readers are the account's administrators, through their own IAM policies
// (an explicit allow-list would lock out whoever restores).
func BucketPolicy(bucketARN, writerARN string, stackRoleARNs []string) string {
	objects := bucketARN + "/*"
	denied := append([]string{writerARN}, stackRoleARNs...)
	sort.Strings(denied)
	// Keys sorted: the bytes existing stacks hold.
	return iampolicy.New(
		iampolicy.Statement{Sid: "TLSOnly", Effect: "Deny", Principal: "*", Action: []string{"s3:*"}, Resource: []string{bucketARN, objects},
			Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}}},
		iampolicy.Statement{Sid: "OnlyTheBackupRoleWrites", Effect: "Deny", Principal: "*", Action: []string{"s3:PutObject"}, Resource: []string{objects},
			Condition: map[string]map[string]any{"ArnNotEquals": {"aws:PrincipalArn": writerARN}}},
		iampolicy.Statement{Sid: "NoStackRoleReads", Effect: "Deny", Principal: "*", Action: readActions, Resource: []string{objects},
			Condition: map[string]map[string]any{"ArnEquals": {"aws:PrincipalArn": denied}}},
	).SortedJSON()
}

// WriterPolicy is the writer's (the etcd guard role's) backup permission: put snapshots under
// the cluster's prefix (SSE-KMS needs GenerateDataKey on the key), list
// that prefix to compute the freshness metric after a failed run, and
// publish the metric in its namespace. No read, no delete.
func WriterPolicy(bucketARN, keyARN, cluster string) iampolicy.Document {
	return iampolicy.Document{Version: iampolicy.Version, Statement: []iampolicy.Statement{
		{Sid: "PutSnapshots", Effect: "Allow", Action: []string{"s3:PutObject"}, Resource: bucketARN + "/" + cluster + "/*"},
		{Sid: "ListSnapshots", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: bucketARN,
			Condition: map[string]map[string]any{"StringLike": {"s3:prefix": cluster + "/*"}}},
		{Sid: "EncryptWithTheBucketKey", Effect: "Allow", Action: []string{"kms:GenerateDataKey"}, Resource: keyARN},
		{Sid: "FreshnessMetric", Effect: "Allow", Action: []string{"cloudwatch:PutMetricData"}, Resource: "*",
			Condition: map[string]map[string]any{"StringEquals": {"cloudwatch:namespace": contract.BackupNamespace}}},
	}}
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
