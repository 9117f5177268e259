// Package identity is workload identity (IRSA) for the cluster: an OpenID
// Connect issuer of its service-account tokens that AWS STS can read, the
// IAM OIDC provider that trusts it, and one IAM role per service account
// that may hold AWS credentials: the AWS add-ons' and the user's own
// (serviceAccountRoles).
//
// The issuer is a CloudFront distribution in front of a private S3 bucket
// (origin access control): nothing in the account becomes public, S3 Block
// Public Access stays on, and the URL is HTTPS with a certificate STS
// trusts. Its two documents are derived from the service-account key of
// the machine secrets, so they are known before the first node boots, and
// the key itself never changes.
//
// It is built in two steps around the machine configuration: New (bucket
// and distribution: the issuer URL the API servers are configured with),
// Publish (the documents, the provider and the roles, from the key of the
// machine secrets that configuration was made with).
package identity

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/cloudfront"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/oidc"
	"github.com/talos-aws/talos-aws/internal/s3bucket"
	"github.com/talos-aws/talos-aws/internal/tags"
)

// CachingOptimized is the id of CloudFront's managed cache policy
// "Managed-CachingOptimized"; the documents' Cache-Control (CacheControl)
// bounds how long an edge keeps them.
const CachingOptimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"

// CacheControl is what the issuer's documents are served with.
const CacheControl = "max-age=300"

// Args configure workload identity.
type Args struct {
	Config *config.Config
	Tags   map[string]string
}

// Identity is the workload identity stage's component resource.
type Identity struct {
	pulumi.ResourceState

	// IssuerURL is https://<distribution domain>: the API servers'
	// service-account issuer.
	IssuerURL pulumi.StringOutput
	// JWKSURI is where the issuer serves its keys (IssuerURL +
	// oidc.JWKSPath): the API servers' service-account-jwks-uri.
	JWKSURI pulumi.StringOutput
	// After Publish: the provider and the roles by "namespace/name".
	ProviderARN pulumi.StringOutput
	RoleARNs    map[string]pulumi.StringOutput
	RoleNames   map[string]pulumi.StringOutput

	args         Args
	name         string
	parent       pulumi.ResourceOption
	tagged       pulumi.StringMap
	bucket       *s3.BucketV2
	distribution *cloudfront.Distribution
	policy       pulumi.Resource
}

// New creates the issuer's bucket and distribution.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Identity, error) {
	cfg := args.Config
	id := &Identity{args: args, name: name, RoleARNs: map[string]pulumi.StringOutput{}, RoleNames: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource("talos-aws:identity:Identity", name, id, opts...); err != nil {
		return nil, err
	}
	id.parent = pulumi.Parent(id)
	id.tagged = tags.For(args.Tags, cfg.ClusterName+"-oidc", nil)

	bucket, err := s3.NewBucketV2(ctx, name+"-issuer", &s3.BucketV2Args{
		BucketPrefix: pulumi.String(cfg.ClusterName + "-oidc-"),
		// It holds two documents the stack writes: destroy takes them along.
		ForceDestroy: pulumi.Bool(true),
		Tags:         id.tagged,
	}, id.parent)
	if err != nil {
		return nil, err
	}
	id.bucket = bucket
	chain := s3bucket.NewChain(id.parent, bucket)
	if err := s3bucket.Private(ctx, name+"-issuer", bucket.ID(), chain); err != nil {
		return nil, err
	}

	oac, err := cloudfront.NewOriginAccessControl(ctx, name+"-issuer", cloudfront.OriginAccessControlArgs{
		// Unique in the account (CloudFront is global): the region too.
		Name:                          pulumi.String(truncate(cfg.ClusterName+"-"+cfg.Region+"-oidc", 64)),
		Description:                   pulumi.String("OIDC issuer of " + cfg.ClusterName + ": CloudFront reads the private bucket"),
		OriginAccessControlOriginType: pulumi.String("s3"),
		SigningBehavior:               pulumi.String("always"),
		SigningProtocol:               pulumi.String("sigv4"),
	}, id.parent)
	if err != nil {
		return nil, err
	}
	const origin = "issuer-bucket"
	get := pulumi.StringArray{pulumi.String("GET"), pulumi.String("HEAD")}
	dist, err := cloudfront.NewDistribution(ctx, name+"-issuer", cloudfront.DistributionArgs{
		Comment: pulumi.String("OIDC issuer of the " + cfg.ClusterName + " service-account tokens"),
		Enabled: pulumi.Bool(true),
		// No s3OriginConfig: with origin access control the provider sends
		// the empty one CloudFront wants.
		Origins: pulumi.Array{pulumi.Map{
			"domainName": bucket.BucketRegionalDomainName, "originId": pulumi.String(origin), "originAccessControlId": oac.ID(),
		}},
		DefaultCacheBehavior: pulumi.Map{
			"targetOriginId":       pulumi.String(origin),
			"viewerProtocolPolicy": pulumi.String("https-only"),
			"allowedMethods":       get,
			"cachedMethods":        get,
			"cachePolicyId":        pulumi.String(CachingOptimized),
			"compress":             pulumi.Bool(true),
		},
		// Served from North America and Europe edges only (STS reads it
		// from its regions, rarely: keys are cached); the cheapest class.
		PriceClass:        pulumi.String("PriceClass_100"),
		Restrictions:      pulumi.Map{"geoRestriction": pulumi.Map{"restrictionType": pulumi.String("none")}},
		ViewerCertificate: pulumi.Map{"cloudfrontDefaultCertificate": pulumi.Bool(true)},
		Tags:              id.tagged,
		// With the stable endpoint nothing waits for CloudFront to deploy
		// (minutes): the domain name, which the API servers need, is known
		// at once, and Publish waits for the documents to be served before
		// IAM or a pod reads them. Stacks on the load balancer's endpoint
		// keep the provider's default (no update of their distribution).
		WaitForDeployment: waitForDeployment(cfg),
	}, id.parent)
	if err != nil {
		return nil, err
	}
	id.distribution = dist
	policy := pulumi.All(bucket.Arn, dist.Arn).ApplyT(func(v []any) (string, error) {
		b, ok := v[0].(string)
		d, ok2 := v[1].(string)
		if !ok || !ok2 {
			return "", fmt.Errorf("identity: bucket and distribution ARNs are %T, %T", v[0], v[1])
		}
		return BucketPolicy(b, d), nil
	}).(pulumi.StringOutput)
	if id.policy, err = s3.NewBucketPolicy(ctx, name+"-issuer", &s3.BucketPolicyArgs{Bucket: bucket.ID(), Policy: policy}, chain.Next()...); err != nil {
		return nil, err
	}
	id.IssuerURL = pulumi.Sprintf("https://%s", dist.DomainName)
	id.JWKSURI = pulumi.Sprintf("https://%s%s", dist.DomainName, oidc.JWKSPath)
	return id, nil
}

// waitForDeployment is the distribution's waitForDeployment: false with
// the stable endpoint, unset (the provider's true) without it.
func waitForDeployment(cfg *config.Config) pulumi.BoolPtrInput {
	if cfg.StableEndpoint() {
		return pulumi.BoolPtr(false)
	}
	return nil
}

// BucketPolicy: the distribution reads objects (origin access control, by
// its ARN), no one reads without TLS, and nothing else is granted.
func BucketPolicy(bucketARN, distributionARN string) string {
	return iampolicy.New(
		iampolicy.Statement{Sid: "CloudFrontReads", Effect: "Allow", Principal: map[string]string{"Service": "cloudfront.amazonaws.com"},
			Action: []string{"s3:GetObject"}, Resource: []string{bucketARN + "/*"},
			Condition: map[string]map[string]any{"StringEquals": {"AWS:SourceArn": distributionARN}}},
		iampolicy.Statement{Sid: "TLSOnly", Effect: "Deny", Principal: "*", Action: []string{"s3:*"}, Resource: []string{bucketARN, bucketARN + "/*"},
			Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}}},
	).JSON()
}

// Role is one service account's role: its trust names exactly that
// account; its permissions are the managed policies and the inline policy.
type Role struct {
	Namespace, ServiceAccount string
	// Slug names the role (cluster-slug-...): at most 20 characters.
	Slug        string
	ManagedARNs []string
	// Inline is a policy document as JSON, or an output of one.
	Inline pulumi.StringInput
}

// Key is the role's "namespace/name".
func (r Role) Key() string { return r.Namespace + "/" + r.ServiceAccount }

// PublishArgs are what Publish needs from the machine secrets.
type PublishArgs struct {
	// ServiceAccountKey is the private key the API servers sign tokens
	// with, base64 PEM as the Talos provider returns it (secret); only its
	// public half is published.
	ServiceAccountKey pulumi.StringOutput
	Roles             []Role
	// Served waits, in `up`, until the issuer serves its documents (nil in
	// a preview): the OIDC provider is created only then.
	Served func(ctx context.Context, issuerURL string) error
}

// Publish writes the issuer's documents, creates the IAM OIDC provider
// (after the documents, so IAM finds the issuer answering) and the roles.
func (id *Identity) Publish(ctx *pulumi.Context, a PublishArgs) error {
	cfg := id.args.Config
	docs := pulumi.All(id.IssuerURL, a.ServiceAccountKey).ApplyT(func(v []any) (map[string]string, error) {
		issuer, ok := v[0].(string)
		key, ok2 := v[1].(string)
		if !ok || !ok2 {
			return nil, fmt.Errorf("identity: issuer and key are %T, %T", v[0], v[1])
		}
		// The provider returns the PEM base64-encoded (terraform-provider-talos
		// certDataToX509PEMEncodedKey decodes it the same way).
		pemKey, err := base64.StdEncoding.DecodeString(key)
		if err != nil {
			return nil, fmt.Errorf("identity: service-account key: %w", err)
		}
		return oidc.Documents(issuer, pemKey)
	}).(pulumi.StringMapOutput)
	// Public keys only: the documents are no secret, though derived from one.
	docs = pulumi.Unsecret(docs).(pulumi.StringMapOutput)
	var objects []pulumi.Resource
	for _, path := range []string{strings.TrimPrefix(oidc.DiscoveryPath, "/"), strings.TrimPrefix(oidc.JWKSPath, "/")} {
		o, err := s3.NewBucketObjectv2(ctx, id.name+"-"+strings.ReplaceAll(strings.TrimPrefix(path, "."), "/", "-"), &s3.BucketObjectv2Args{
			Bucket: id.bucket.ID(), Key: pulumi.String(path), Content: docs.MapIndex(pulumi.String(path)),
			// No tags: S3 allows 10 per object, fewer than the stack's tags.
			ContentType: pulumi.String("application/json"), CacheControl: pulumi.String(CacheControl),
		}, id.parent, pulumi.DependsOn([]pulumi.Resource{id.policy}))
		if err != nil {
			return err
		}
		objects = append(objects, o)
	}
	// IAM reads the issuer's certificate when it creates the provider, and
	// STS its documents when a pod first assumes a role: the URL resolves
	// once they are served (the same value in a preview, which never dials).
	url := id.IssuerURL.ApplyTWithContext(ctx.Context(), func(c context.Context, u string) (string, error) {
		if a.Served == nil {
			return u, nil
		}
		return u, a.Served(c, u)
	}).(pulumi.StringOutput)
	provider, err := iam.NewOpenIdConnectProvider(ctx, id.name, &iam.OpenIdConnectProviderArgs{
		Url:           url,
		ClientIdLists: pulumi.StringArray{pulumi.String(oidc.Audience)},
		Tags:          id.tagged,
	}, id.parent, pulumi.DependsOn(objects))
	if err != nil {
		return err
	}
	id.ProviderARN = provider.Arn
	for _, r := range a.Roles {
		if err := id.role(ctx, cfg, provider, r); err != nil {
			return err
		}
	}
	outs := pulumi.Map{"issuerUrl": id.IssuerURL, "providerArn": id.ProviderARN}
	keys := make([]string, 0, len(id.RoleARNs))
	for k := range id.RoleARNs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		outs[k] = id.RoleARNs[k]
	}
	return ctx.RegisterResourceOutputs(id, outs)
}

func (id *Identity) role(ctx *pulumi.Context, cfg *config.Config, provider *iam.OpenIdConnectProvider, r Role) error {
	name := id.name + "-" + r.Namespace + "-" + r.ServiceAccount
	trust := pulumi.All(provider.Arn, id.IssuerURL).ApplyT(func(v []any) (string, error) {
		arn, ok := v[0].(string)
		issuer, ok2 := v[1].(string)
		if !ok || !ok2 {
			return "", fmt.Errorf("identity: provider ARN and issuer are %T, %T", v[0], v[1])
		}
		return TrustPolicy(arn, issuer, r.Namespace, r.ServiceAccount).JSON(), nil
	}).(pulumi.StringOutput)
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		NamePrefix:       pulumi.String(truncate(cfg.ClusterName+"-"+r.Slug+"-", 38)),
		Description:      pulumi.String(fmt.Sprintf("%s: service account %s of %s (IRSA)", cfg.ClusterName, r.Key(), cfg.ClusterName)),
		AssumeRolePolicy: trust,
		Tags:             id.tagged,
	}, id.parent)
	if err != nil {
		return err
	}
	for i, arn := range r.ManagedARNs {
		if _, err := iam.NewRolePolicyAttachment(ctx, fmt.Sprintf("%s-%d", name, i), &iam.RolePolicyAttachmentArgs{
			Role: role.Name, PolicyArn: pulumi.String(arn),
		}, id.parent); err != nil {
			return err
		}
	}
	if r.Inline != nil {
		if _, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{Role: role.Name, Policy: r.Inline}, id.parent); err != nil {
			return err
		}
	}
	id.RoleARNs[r.Key()], id.RoleNames[r.Key()] = role.Arn, role.Name
	return nil
}

// TrustPolicy lets exactly one service account, with STS's audience,
// assume the role through the cluster's OIDC provider.
func TrustPolicy(providerARN, issuer, namespace, serviceAccount string) iampolicy.Document {
	host := oidc.Host(issuer)
	return iampolicy.New(iampolicy.Statement{
		Effect: "Allow", Principal: map[string]string{"Federated": providerARN}, Action: []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string]any{"StringEquals": {
			host + ":sub": "system:serviceaccount:" + namespace + ":" + serviceAccount,
			host + ":aud": oidc.Audience,
		}},
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
