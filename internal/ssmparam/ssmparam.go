// Package ssmparam registers pulumi-aws' aws:ssm/parameter:Parameter, the
// one SSM resource the stack has (the etcd guard's suspects), without
// compiling the SDK's ssm package (750 KB of generated Go, seconds of every
// cold compile for one resource). The registration is the SDK's own, value
// made secret and marked a secret output as NewParameter does; a test
// registers one both ways under Pulumi's mocks and demands identical
// requests (as internal/helmrelease and internal/cloudfront do).
package ssmparam

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type is the Parameter's type token (pulumi-aws v6.83.4 sdk/go/aws/ssm).
const Type = "aws:ssm/parameter:Parameter"

// ProviderVersion is the pulumi-aws version the SDK stamps on every
// registration; go.mod's, which the drift test checks.
const ProviderVersion = "6.83.4"

// Args are the SDK's ParameterArgs fields this stack sets.
type Args struct {
	Name        pulumi.StringPtrInput `pulumi:"name"`
	Type        pulumi.StringInput    `pulumi:"type"`
	Value       pulumi.StringPtrInput `pulumi:"value"`
	Description pulumi.StringPtrInput `pulumi:"description"`
	Tags        pulumi.StringMapInput `pulumi:"tags"`
}

type args struct {
	Name        *string           `pulumi:"name"`
	Type        string            `pulumi:"type"`
	Value       *string           `pulumi:"value"`
	Description *string           `pulumi:"description"`
	Tags        map[string]string `pulumi:"tags"`
}

// ElementType is what the inputs marshal as.
func (Args) ElementType() reflect.Type { return reflect.TypeOf((*args)(nil)).Elem() }

// Parameter is a registered parameter and the output the stack reads.
type Parameter struct {
	pulumi.CustomResourceState

	Arn pulumi.StringOutput `pulumi:"arn"`
}

// New registers a parameter as ssm.NewParameter would with the same Args.
func New(ctx *pulumi.Context, name string, a Args, opts ...pulumi.ResourceOption) (*Parameter, error) {
	if a.Value != nil {
		a.Value = pulumi.ToSecret(a.Value).(pulumi.StringPtrInput)
	}
	opts = append(opts, pulumi.AdditionalSecretOutputs([]string{"value"}))
	var r Parameter
	if err := ctx.RegisterResource(Type, name, a, &r, append([]pulumi.ResourceOption{pulumi.Version(ProviderVersion)}, opts...)...); err != nil {
		return nil, err
	}
	return &r, nil
}
