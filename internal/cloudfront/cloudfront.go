// Package cloudfront registers the two CloudFront resources the OIDC
// issuer needs, pulumi-aws' aws:cloudfront/originAccessControl and
// aws:cloudfront/distribution, with exactly the inputs the identity stage
// sets, without compiling the SDK's cloudfront package (1.4 MB of
// generated Go, most of it types this stack never sets, which took the
// cold compile back above 180 s). The registration is the SDK's own: same
// type tokens, provider version and input names; a test registers both
// resources both ways under Pulumi's mocks and demands identical requests,
// so the two cannot drift apart (as internal/helmrelease does for Helm).
package cloudfront

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type tokens (pulumi-aws v6.83.4 sdk/go/aws/cloudfront).
const (
	OriginAccessControlType = "aws:cloudfront/originAccessControl:OriginAccessControl"
	DistributionType        = "aws:cloudfront/distribution:Distribution"
)

// ProviderVersion is the pulumi-aws version the SDK stamps on every
// registration (internal.PkgResourceDefaultOpts); go.mod's, which the
// drift test checks.
const ProviderVersion = "6.83.4"

// OriginAccessControlArgs are the SDK's fields of the same names.
type OriginAccessControlArgs struct {
	Name                          pulumi.StringPtrInput `pulumi:"name"`
	Description                   pulumi.StringPtrInput `pulumi:"description"`
	OriginAccessControlOriginType pulumi.StringInput    `pulumi:"originAccessControlOriginType"`
	SigningBehavior               pulumi.StringInput    `pulumi:"signingBehavior"`
	SigningProtocol               pulumi.StringInput    `pulumi:"signingProtocol"`
}

type originAccessControlArgs struct {
	Name                          *string `pulumi:"name"`
	Description                   *string `pulumi:"description"`
	OriginAccessControlOriginType string  `pulumi:"originAccessControlOriginType"`
	SigningBehavior               string  `pulumi:"signingBehavior"`
	SigningProtocol               string  `pulumi:"signingProtocol"`
}

// ElementType is what the inputs marshal as.
func (OriginAccessControlArgs) ElementType() reflect.Type {
	return reflect.TypeOf((*originAccessControlArgs)(nil)).Elem()
}

// OriginAccessControl is a registered origin access control.
type OriginAccessControl struct{ pulumi.CustomResourceState }

// NewOriginAccessControl registers one as the SDK's constructor would.
func NewOriginAccessControl(ctx *pulumi.Context, name string, a OriginAccessControlArgs, opts ...pulumi.ResourceOption) (*OriginAccessControl, error) {
	var r OriginAccessControl
	if err := ctx.RegisterResource(OriginAccessControlType, name, a, &r, append([]pulumi.ResourceOption{pulumi.Version(ProviderVersion)}, opts...)...); err != nil {
		return nil, err
	}
	return &r, nil
}

// DistributionArgs are the SDK's DistributionArgs fields this stack sets;
// the nested blocks are maps with the SDK's nested field names.
type DistributionArgs struct {
	Comment              pulumi.StringPtrInput `pulumi:"comment"`
	Enabled              pulumi.BoolInput      `pulumi:"enabled"`
	Origins              pulumi.ArrayInput     `pulumi:"origins"`
	DefaultCacheBehavior pulumi.MapInput       `pulumi:"defaultCacheBehavior"`
	PriceClass           pulumi.StringPtrInput `pulumi:"priceClass"`
	Restrictions         pulumi.MapInput       `pulumi:"restrictions"`
	ViewerCertificate    pulumi.MapInput       `pulumi:"viewerCertificate"`
	Tags                 pulumi.StringMapInput `pulumi:"tags"`
	// WaitForDeployment false: the provider returns once CloudFront has the
	// distribution, not once it has deployed (nil: the provider's default,
	// wait).
	WaitForDeployment pulumi.BoolPtrInput `pulumi:"waitForDeployment"`
}

type distributionArgs struct {
	Comment              *string           `pulumi:"comment"`
	Enabled              bool              `pulumi:"enabled"`
	Origins              []any             `pulumi:"origins"`
	DefaultCacheBehavior map[string]any    `pulumi:"defaultCacheBehavior"`
	PriceClass           *string           `pulumi:"priceClass"`
	Restrictions         map[string]any    `pulumi:"restrictions"`
	ViewerCertificate    map[string]any    `pulumi:"viewerCertificate"`
	Tags                 map[string]string `pulumi:"tags"`
	WaitForDeployment    *bool             `pulumi:"waitForDeployment"`
}

// ElementType is what the inputs marshal as.
func (DistributionArgs) ElementType() reflect.Type {
	return reflect.TypeOf((*distributionArgs)(nil)).Elem()
}

// Distribution is a registered distribution and the outputs the stack
// reads.
type Distribution struct {
	pulumi.CustomResourceState

	Arn        pulumi.StringOutput `pulumi:"arn"`
	DomainName pulumi.StringOutput `pulumi:"domainName"`
}

// NewDistribution registers one as the SDK's constructor would.
func NewDistribution(ctx *pulumi.Context, name string, a DistributionArgs, opts ...pulumi.ResourceOption) (*Distribution, error) {
	var r Distribution
	if err := ctx.RegisterResource(DistributionType, name, a, &r, append([]pulumi.ResourceOption{pulumi.Version(ProviderVersion)}, opts...)...); err != nil {
		return nil, err
	}
	return &r, nil
}
