package awsapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/talos-aws/talos-aws/etcdguard/lambda/guard"
	"github.com/talos-aws/talos-aws/etcdguard/lambda/snapshot"
)

func TestPutInputEncryptsWithTheBucketKeyAndChecksums(t *testing.T) {
	s := &Snapshots{Bucket: "b", KMSKeyARN: "arn:aws:kms:eu-west-1:1:key/k"}
	in := s.PutInput("prod/2026/01/01/x.db.age", strings.NewReader("abc"), 3, map[string]string{snapshot.MetaSHA256: "f00"})
	if aws.ToString(in.Bucket) != "b" || aws.ToString(in.Key) != "prod/2026/01/01/x.db.age" || aws.ToInt64(in.ContentLength) != 3 {
		t.Errorf("target %v/%v (%v bytes)", aws.ToString(in.Bucket), aws.ToString(in.Key), aws.ToInt64(in.ContentLength))
	}
	if in.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(in.SSEKMSKeyId) != s.KMSKeyARN {
		t.Errorf("encryption %v with %v, want aws:kms with the bucket's key", in.ServerSideEncryption, aws.ToString(in.SSEKMSKeyId))
	}
	// Object Lock buckets refuse a put without Content-MD5 or a checksum.
	if in.ChecksumAlgorithm != s3types.ChecksumAlgorithmSha256 {
		t.Errorf("checksum %q", in.ChecksumAlgorithm)
	}
	if in.Metadata[snapshot.MetaSHA256] != "f00" || in.ObjectLockMode != "" || in.ObjectLockRetainUntilDate != nil {
		t.Errorf("metadata %v, lock %q: the bucket's default retention must apply, not a per-object one", in.Metadata, in.ObjectLockMode)
	}
}

type pagedS3 struct{ pages [][]string }

func (p *pagedS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return &s3.PutObjectOutput{}, nil
}

func (p *pagedS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	i := 0
	if in.ContinuationToken != nil {
		i = int(aws.ToString(in.ContinuationToken)[0] - '0')
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(i+1 < len(p.pages))}
	for _, k := range p.pages[i] {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(aws.ToString(in.Prefix) + k)})
	}
	if i+1 < len(p.pages) {
		out.NextContinuationToken = aws.String(string(rune('0' + i + 1)))
	}
	return out, nil
}

func TestKeysFollowsPages(t *testing.T) {
	s := &Snapshots{S3: &pagedS3{pages: [][]string{{"a", "b"}, {"c"}, {"d"}}}, Bucket: "b"}
	keys, err := s.Keys(context.Background(), "prod/2026/01/01/")
	if err != nil || strings.Join(keys, ",") != "prod/2026/01/01/a,prod/2026/01/01/b,prod/2026/01/01/c,prod/2026/01/01/d" {
		t.Errorf("keys %v, %v", keys, err)
	}
}

// The freshness alarm (package backups) reads this namespace, metric and
// dimension; a rename on either side must fail here or in backups_test.
func TestFreshnessInput(t *testing.T) {
	in := FreshnessInput("prod", 42, now)
	d := in.MetricData[0]
	if aws.ToString(in.Namespace) != "TalosAWS/EtcdBackup" || aws.ToString(d.MetricName) != "NewestSnapshotAgeSeconds" ||
		len(d.Dimensions) != 1 || aws.ToString(d.Dimensions[0].Name) != "ClusterName" || aws.ToString(d.Dimensions[0].Value) != "prod" ||
		aws.ToFloat64(d.Value) != 42 || d.Unit != "Seconds" {
		t.Errorf("datum %+v in %s", d, aws.ToString(in.Namespace))
	}
}

// The guard runs before its group exists, so it finds the group by tags.
func TestASGFoundByTags(t *testing.T) {
	a := &ASG{Tags: map[string]string{"kubernetes.io/cluster/prod": "owned", "Name": "prod-control-plane"}}
	in := a.DescribeInput()
	if len(in.AutoScalingGroupNames) != 0 || len(in.Filters) != 2 || aws.ToString(in.Filters[0].Name) != "tag:Name" ||
		in.Filters[0].Values[0] != "prod-control-plane" || aws.ToString(in.Filters[1].Name) != "tag:kubernetes.io/cluster/prod" {
		t.Errorf("describe input %+v", in)
	}
	if _, err := a.name(); err == nil {
		t.Error("a lifecycle action before the group was read")
	}
	if _, err := a.pick(nil); !errors.Is(err, guard.ErrNoGroup) {
		t.Errorf("no group: %v, want ErrNoGroup", err)
	}
	two := []astypes.AutoScalingGroup{{AutoScalingGroupName: aws.String("x")}, {AutoScalingGroupName: aws.String("y")}}
	if _, err := a.pick(two); err == nil || errors.Is(err, guard.ErrNoGroup) || !strings.Contains(err.Error(), "x, y") {
		t.Errorf("two groups: %v", err)
	}
	named := &ASG{Name: "compute-cp-1", Tags: a.Tags}
	if in := named.DescribeInput(); len(in.Filters) != 0 || in.AutoScalingGroupNames[0] != "compute-cp-1" {
		t.Errorf("a named group is asked by name: %+v", in)
	}
}
