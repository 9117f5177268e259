// Package s3bucket holds what every S3 bucket of the stack shares: its
// settings registered one after another, and the two that make it private
// (no public access in any form, objects owned by the bucket owner).
package s3bucket

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Chain orders a bucket's settings one at a time: S3 answers concurrent
// changes to a bucket's configuration with "OperationAborted: A
// conflicting conditional operation is currently in progress".
type Chain struct {
	parent pulumi.ResourceOption
	prev   pulumi.Resource
}

// NewChain starts a chain after the bucket, its settings under parent.
func NewChain(parent pulumi.ResourceOption, b pulumi.Resource) *Chain {
	return &Chain{parent: parent, prev: b}
}

// Next are the options of the next setting: the parent, after the last one.
func (c *Chain) Next() []pulumi.ResourceOption {
	return []pulumi.ResourceOption{c.parent, pulumi.DependsOn([]pulumi.Resource{c.prev})}
}

// Then records r as the last setting.
func (c *Chain) Then(r pulumi.Resource) { c.prev = r }

// Private blocks every form of public access and enforces bucket-owner
// ownership (no ACLs), in that order on the chain, named name.
func Private(ctx *pulumi.Context, name string, id pulumi.IDOutput, c *Chain) error {
	pab, err := s3.NewBucketPublicAccessBlock(ctx, name, &s3.BucketPublicAccessBlockArgs{
		Bucket: id, BlockPublicAcls: pulumi.Bool(true), BlockPublicPolicy: pulumi.Bool(true),
		IgnorePublicAcls: pulumi.Bool(true), RestrictPublicBuckets: pulumi.Bool(true),
	}, c.Next()...)
	if err != nil {
		return err
	}
	c.Then(pab)
	ownership, err := s3.NewBucketOwnershipControls(ctx, name, &s3.BucketOwnershipControlsArgs{
		Bucket: id,
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, c.Next()...)
	if err != nil {
		return err
	}
	c.Then(ownership)
	return nil
}
