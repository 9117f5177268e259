package awsapi

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/etcdguard/lambda/guard"
)

// S3API is the part of the S3 client the snapshot store calls.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Snapshots stores etcd snapshots in the backup bucket.
type Snapshots struct {
	S3     S3API
	Bucket string
	// KMSKeyARN is the bucket's key: named on every put, so an object is
	// never encrypted with another key whatever the bucket default says.
	KMSKeyARN string
}

// PutInput is the request for one snapshot: SSE-KMS with the bucket key,
// the snapshot's metadata, and a SHA-256 checksum, which S3 verifies and
// which an Object Lock bucket requires (Content-MD5 or a checksum
// algorithm: aws-sdk-go-v2 service/s3 v1.114.10 api_op_PutObject.go,
// ChecksumAlgorithm). No retention is set: the bucket's default applies,
// so the writer needs no s3:PutObjectRetention.
func (s *Snapshots) PutInput(key string, body io.ReadSeeker, size int64, metadata map[string]string) *s3.PutObjectInput {
	return &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: body, ContentLength: aws.Int64(size),
		ContentType:          aws.String("application/octet-stream"),
		Metadata:             metadata,
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(s.KMSKeyARN), BucketKeyEnabled: aws.Bool(true),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
	}
}

// Put implements snapshot.ObjectStore.
func (s *Snapshots) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, metadata map[string]string) error {
	_, err := s.S3.PutObject(ctx, s.PutInput(key, body, size, metadata))
	return err
}

// Keys implements guard.SnapshotStore: every key under prefix.
func (s *Snapshots) Keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)}
	for {
		out, err := s.S3.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return keys, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// Freshness publishes the newest snapshot's age where the stack's
// freshness alarm reads it.
type Freshness struct {
	CloudWatch  *cloudwatch.Client
	ClusterName string
}

// FreshnessInput is the PutMetricData request for an age in seconds.
func FreshnessInput(cluster string, seconds float64, now time.Time) *cloudwatch.PutMetricDataInput {
	return &cloudwatch.PutMetricDataInput{Namespace: aws.String(contract.BackupNamespace), MetricData: []cwtypes.MetricDatum{{
		MetricName: aws.String(contract.BackupMetric),
		Dimensions: []cwtypes.Dimension{{Name: aws.String(contract.BackupDimension), Value: aws.String(cluster)}},
		Timestamp:  aws.Time(now), Value: aws.Float64(seconds), Unit: cwtypes.StandardUnitSeconds,
	}}}
}

// PublishSnapshotAge implements guard.FreshnessSink.
func (f *Freshness) PublishSnapshotAge(ctx context.Context, seconds float64) error {
	_, err := f.CloudWatch.PutMetricData(ctx, FreshnessInput(f.ClusterName, seconds, time.Now()))
	return err
}

var (
	_ guard.SnapshotStore = (*Snapshots)(nil)
	_ guard.FreshnessSink = (*Freshness)(nil)
)
