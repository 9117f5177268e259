package cloudfront

import (
	"encoding/json"
	"reflect"
	"testing"

	sdk "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudfront"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/internal/registertest"
)

// cloudFrontOutputs are what the mocked provider adds to a resource's inputs.
var cloudFrontOutputs = resource.PropertyMap{"domainName": resource.NewStringProperty("d111111abcdef8.cloudfront.net")}

// The issuer's origin access control and distribution, registered through
// the SDK and through this package with the inputs the identity stage
// sets, are the same requests: type, inputs, version, parent,
// dependencies, options. Existing stacks see no diff from the change of
// registration, and the SDK's input names are checked by the engine's own
// marshalling, not by hand.
func TestSameRequestsAsTheSDK(t *testing.T) {
	parentOf := func(ctx *pulumi.Context) (pulumi.ResourceOption, error) {
		p := &struct{ pulumi.ResourceState }{}
		return pulumi.Parent(p), ctx.RegisterComponentResource("test:index:Parent", "parent", p)
	}
	domain := func() pulumi.StringOutput { return pulumi.String("b.s3.ap-southeast-1.amazonaws.com").ToStringOutput() }
	tags := pulumi.StringMap{"Name": pulumi.String("prod-oidc"), "kubernetes.io/cluster/prod": pulumi.String("owned")}
	theirs := registertest.Requests(t, func(ctx *pulumi.Context) error {
		parent, err := parentOf(ctx)
		if err != nil {
			return err
		}
		oac, err := sdk.NewOriginAccessControl(ctx, "oac", &sdk.OriginAccessControlArgs{
			Name: pulumi.String("prod-ap-southeast-1-oidc"), Description: pulumi.String("d"),
			OriginAccessControlOriginType: pulumi.String("s3"), SigningBehavior: pulumi.String("always"), SigningProtocol: pulumi.String("sigv4"),
		}, parent)
		if err != nil {
			return err
		}
		get := pulumi.StringArray{pulumi.String("GET"), pulumi.String("HEAD")}
		_, err = sdk.NewDistribution(ctx, "dist", &sdk.DistributionArgs{
			Comment: pulumi.String("c"), Enabled: pulumi.Bool(true),
			Origins: sdk.DistributionOriginArray{&sdk.DistributionOriginArgs{
				DomainName: domain(), OriginId: pulumi.String("o"), OriginAccessControlId: oac.ID(),
			}},
			DefaultCacheBehavior: &sdk.DistributionDefaultCacheBehaviorArgs{
				TargetOriginId: pulumi.String("o"), ViewerProtocolPolicy: pulumi.String("https-only"),
				AllowedMethods: get, CachedMethods: get, CachePolicyId: pulumi.String("658327ea-f89d-4fab-a63d-7e88639e58f6"), Compress: pulumi.Bool(true),
			},
			PriceClass:        pulumi.String("PriceClass_100"),
			Restrictions:      &sdk.DistributionRestrictionsArgs{GeoRestriction: &sdk.DistributionRestrictionsGeoRestrictionArgs{RestrictionType: pulumi.String("none")}},
			ViewerCertificate: &sdk.DistributionViewerCertificateArgs{CloudfrontDefaultCertificate: pulumi.Bool(true)},
			Tags:              tags,
		}, parent)
		return err
	}, cloudFrontOutputs)
	ours := registertest.Requests(t, func(ctx *pulumi.Context) error {
		parent, err := parentOf(ctx)
		if err != nil {
			return err
		}
		oac, err := NewOriginAccessControl(ctx, "oac", OriginAccessControlArgs{
			Name: pulumi.String("prod-ap-southeast-1-oidc"), Description: pulumi.String("d"),
			OriginAccessControlOriginType: pulumi.String("s3"), SigningBehavior: pulumi.String("always"), SigningProtocol: pulumi.String("sigv4"),
		}, parent)
		if err != nil {
			return err
		}
		get := pulumi.StringArray{pulumi.String("GET"), pulumi.String("HEAD")}
		d, err := NewDistribution(ctx, "dist", DistributionArgs{
			Comment: pulumi.String("c"), Enabled: pulumi.Bool(true),
			Origins: pulumi.Array{pulumi.Map{"domainName": domain(), "originId": pulumi.String("o"), "originAccessControlId": oac.ID()}},
			DefaultCacheBehavior: pulumi.Map{
				"targetOriginId": pulumi.String("o"), "viewerProtocolPolicy": pulumi.String("https-only"),
				"allowedMethods": get, "cachedMethods": get, "cachePolicyId": pulumi.String("658327ea-f89d-4fab-a63d-7e88639e58f6"), "compress": pulumi.Bool(true),
			},
			PriceClass:        pulumi.String("PriceClass_100"),
			Restrictions:      pulumi.Map{"geoRestriction": pulumi.Map{"restrictionType": pulumi.String("none")}},
			ViewerCertificate: pulumi.Map{"cloudfrontDefaultCertificate": pulumi.Bool(true)},
			Tags:              tags,
		}, parent)
		if err != nil {
			return err
		}
		d.DomainName.ApplyT(func(s string) string {
			if s != "d111111abcdef8.cloudfront.net" {
				t.Errorf("domainName output %q", s)
			}
			return s
		})
		return nil
	}, cloudFrontOutputs)
	for _, name := range []string{"oac", "dist"} {
		a, b := theirs[name], ours[name]
		if a == nil || b == nil {
			t.Fatalf("%s: missing registration: sdk %v, ours %v", name, a != nil, b != nil)
		}
		if a["version"] != ProviderVersion {
			t.Errorf("the SDK registers %s at version %v, this package at %s", name, a["version"], ProviderVersion)
		}
		if !reflect.DeepEqual(a, b) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			t.Errorf("%s requests differ:\nSDK  %s\nours %s", name, ja, jb)
		}
	}
	if theirs["oac"]["type"] != OriginAccessControlType || theirs["dist"]["type"] != DistributionType {
		t.Errorf("types %v %v", theirs["oac"]["type"], theirs["dist"]["type"])
	}
}

// Every top-level input this package sends is an SDK input of the same
// name.
func TestInputsAreTheSDKs(t *testing.T) {
	for _, c := range []struct{ sdk, ours reflect.Type }{
		{sdk.DistributionArgs{}.ElementType(), DistributionArgs{}.ElementType()},
		{sdk.OriginAccessControlArgs{}.ElementType(), OriginAccessControlArgs{}.ElementType()},
	} {
		theirs := map[string]bool{}
		for i := range c.sdk.NumField() {
			theirs[c.sdk.Field(i).Tag.Get("pulumi")] = true
		}
		for i := range c.ours.NumField() {
			if tag := c.ours.Field(i).Tag.Get("pulumi"); !theirs[tag] {
				t.Errorf("%s: input %q is not the SDK's", c.ours, tag)
			}
		}
	}
}
