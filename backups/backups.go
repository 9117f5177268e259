// Package backups is the stack's side of etcd backups: the encrypted,
// versioned S3 bucket, its key, the write-only permission of the one role
// that writes (the etcd guard's) and the freshness alarm. Taking the
// snapshots is package backup's job, run by the etcd guard's Lambda in the
// VPC (see docs/etcd-guard.md#backups).
package backups

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/internal/s3bucket"
	"github.com/talos-aws/talos-aws/internal/tags"
)

// Args configure the backups stage.
type Args struct {
	Config *config.Config
	Tags   map[string]string
	// WriterRoleARN and WriterRoleName are the only role that writes
	// snapshots: the etcd guard's (docs/etcd-guard.md#backups).
	WriterRoleARN  pulumi.StringInput
	WriterRoleName pulumi.StringInput
	// AlarmTopicARN is the SNS topic the freshness alarm notifies.
	AlarmTopicARN pulumi.StringInput
}

// Backups is the backups stage's component resource.
type Backups struct {
	pulumi.ResourceState

	BucketName    pulumi.StringOutput
	KeyARN        pulumi.StringOutput
	WriterRoleARN pulumi.StringOutput
	// WriterPolicy is the writer's permission; the writer's first run
	// waits for it.
	WriterPolicy *iam.RolePolicy
}

// New creates the bucket, its key, the writer's permission and the alarm. Bucket
// and key outlive the stack (RetainOnDelete): backups exist for the day
// the cluster is gone, and objects in a kept bucket are unreadable without
// their key.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Backups, error) {
	cfg := args.Config
	b := &Backups{}
	if err := ctx.RegisterComponentResource("talos-aws:backups:Backups", name, b, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(b)
	keep := pulumi.RetainOnDelete(true)
	tagged := tags.For(args.Tags, cfg.ClusterName+"-etcd-backups", nil)

	key, err := kms.NewKey(ctx, name, &kms.KeyArgs{
		Description:          pulumi.String("etcd snapshots of " + cfg.ClusterName),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
		Tags:                 tagged,
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	bucket, err := s3.NewBucketV2(ctx, name, &s3.BucketV2Args{
		BucketPrefix: pulumi.String(cfg.ClusterName + "-etcd-backups-"),
		Tags:         tagged,
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	b.BucketName, b.KeyARN = bucket.Bucket, key.Arn
	// Settings one at a time (s3bucket.Chain); private first.
	chain := s3bucket.NewChain(parent, bucket)
	if err := s3bucket.Private(ctx, name, bucket.ID(), chain); err != nil {
		return nil, err
	}
	versioning, err := s3.NewBucketVersioningV2(ctx, name, &s3.BucketVersioningV2Args{
		Bucket:                  bucket.ID(),
		VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
	}, chain.Next()...)
	if err != nil {
		return nil, err
	}
	chain.Then(versioning)
	sse, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("aws:kms"), KmsMasterKeyId: key.Arn,
			},
			BucketKeyEnabled: pulumi.Bool(true),
		}},
	}, chain.Next()...)
	if err != nil {
		return nil, err
	}
	chain.Then(sse)
	// Expiry is the retention: current snapshots expire after retentionDays,
	// and a deleted (noncurrent) one stays recoverable as long.
	days := pulumi.Int(cfg.Backups.RetentionDays)
	lifecycle, err := s3.NewBucketLifecycleConfigurationV2(ctx, name, &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{&s3.BucketLifecycleConfigurationV2RuleArgs{
			Id: pulumi.String("retention"), Status: pulumi.String("Enabled"),
			Filter:                         &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String(cfg.ClusterName + "/")},
			Expiration:                     &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: days},
			NoncurrentVersionExpiration:    &s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{NoncurrentDays: days},
			AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{DaysAfterInitiation: pulumi.Int(1)},
		}},
	}, chain.Next()...)
	if err != nil {
		return nil, err
	}
	chain.Then(lifecycle)
	// Object Lock needs versioning. pulumi-aws v6.83 enables it on new and
	// existing buckets alike through this resource; once on, S3 never lets
	// it be turned off (objectLockDays back to 0 only drops the default
	// retention).
	if d := cfg.Backups.ObjectLockDays; d > 0 {
		lock, err := s3.NewBucketObjectLockConfigurationV2(ctx, name, &s3.BucketObjectLockConfigurationV2Args{
			Bucket: bucket.ID(),
			Rule: &s3.BucketObjectLockConfigurationV2RuleArgs{DefaultRetention: &s3.BucketObjectLockConfigurationV2RuleDefaultRetentionArgs{
				Mode: pulumi.String("GOVERNANCE"), Days: pulumi.Int(d),
			}},
			// Object Lock needs versioning on: say so, not only through the chain.
		}, append(chain.Next(), pulumi.DependsOn([]pulumi.Resource{versioning}))...)
		if err != nil {
			return nil, err
		}
		chain.Then(lock)
	}

	b.WriterRoleARN = args.WriterRoleARN.ToStringOutput()
	writerPolicy := pulumi.All(bucket.Arn, key.Arn).ApplyT(func(v []any) (string, error) {
		bucketARN, ok := v[0].(string)
		keyARN, ok2 := v[1].(string)
		if !ok || !ok2 {
			return "", fmt.Errorf("backups: bucket and key ARNs are %T, %T", v[0], v[1])
		}
		return WriterPolicy(bucketARN, keyARN, cfg.ClusterName).JSON(), nil
	}).(pulumi.StringOutput)
	// "backups-writer": the name the policy had on the separate writer role
	// it replaces.
	b.WriterPolicy, err = iam.NewRolePolicy(ctx, name+"-writer", &iam.RolePolicyArgs{Role: args.WriterRoleName, Policy: writerPolicy}, parent)
	if err != nil {
		return nil, err
	}
	// Readers are the break-glass roles, the same that read the guard's
	// talosconfig: an admin talosconfig can take a snapshot of etcd, so
	// reading one is no more than reading the other.
	breakGlass := cfg.EtcdGuardSecretReaders
	bucketPolicy := pulumi.All(bucket.Arn, args.WriterRoleARN).ApplyT(func(v []any) (string, error) {
		bucketARN, ok := v[0].(string)
		writerARN, ok2 := v[1].(string)
		if !ok || !ok2 {
			return "", fmt.Errorf("backups: bucket policy inputs are %T, %T", v[0], v[1])
		}
		return BucketPolicy(bucketARN, writerARN, breakGlass), nil
	}).(pulumi.StringOutput)
	// Kept with the bucket: its protection outlives the stack as the
	// snapshots do, and only the break-glass roles may delete it.
	if _, err := s3.NewBucketPolicy(ctx, name, &s3.BucketPolicyArgs{Bucket: bucket.ID(), Policy: bucketPolicy}, append(chain.Next(), keep)...); err != nil {
		return nil, err
	}

	a := FreshnessAlarm(cfg.Backups)
	if _, err := cloudwatch.NewMetricAlarm(ctx, name+"-freshness", &cloudwatch.MetricAlarmArgs{
		Name:               pulumi.String(FreshnessAlarmName(cfg.ClusterName)),
		AlarmDescription:   pulumi.Sprintf("The newest etcd snapshot of %s is older than two backup intervals (%d minutes), or no backup run has reported", cfg.ClusterName, 2*cfg.Backups.IntervalMinutes),
		Namespace:          pulumi.String(contract.BackupNamespace),
		MetricName:         pulumi.String(contract.BackupMetric),
		Dimensions:         pulumi.StringMap{contract.BackupDimension: pulumi.String(cfg.ClusterName)},
		Statistic:          pulumi.String("Maximum"),
		Period:             pulumi.Int(a.PeriodSeconds),
		EvaluationPeriods:  pulumi.Int(1),
		Threshold:          pulumi.Float64(a.ThresholdSeconds),
		ComparisonOperator: pulumi.String("GreaterThanThreshold"),
		TreatMissingData:   pulumi.String(a.TreatMissingData),
		AlarmActions:       alarmActions(args.AlarmTopicARN),
		OkActions:          alarmActions(args.AlarmTopicARN),
		Tags:               tagged,
	}, parent); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(b, pulumi.Map{"bucket": bucket.Bucket, "keyArn": key.Arn, "writerRoleArn": b.WriterRoleARN}); err != nil {
		return nil, err
	}
	return b, nil
}

// FreshnessAlarmName is the snapshot-age alarm's name in CloudWatch.
func FreshnessAlarmName(cluster string) string { return cluster + "-etcd-backup-freshness" }

// alarmActions notify the stack's alarm topic.
func alarmActions(topic pulumi.StringInput) pulumi.ArrayInput {
	if topic == nil {
		return nil
	}
	return pulumi.Array{topic}
}
