// Package preflight checks, before any resource exists, what a newcomer's
// first `pulumi up` would otherwise find out halfway: whether AWS credentials
// and the region work, whether the account's service quotas fit the
// configured shape (a roll's surge included), and what the shape will cost.
// Everything but run.go is pure.
package preflight

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicequotas"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
)

// CheckAccess makes the stack's first AWS call: who the credentials are, in
// the configured region. The AWS provider validates its credentials with STS
// when it is configured (pulumi-aws v6.83.4 sdk/go/aws/provider.go:
// skipCredentialsValidation defaults to false), so every call through it
// fails when they do not resolve. A region the account has not enabled is
// expected to fail the same way (the SDK uses the region's own STS
// endpoint); this was not tried against a real account. To tell the two
// apart, a failure asks a provider in the partition's always-enabled region
// whether the configured region is not opted in. That second provider is
// registered only on this failure path.
func CheckAccess(ctx *pulumi.Context, region string, creds config.AWS, provider pulumi.ProviderResource) error {
	id, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{}, pulumi.Provider(provider))
	if err == nil {
		_ = ctx.Log.Info(fmt.Sprintf("preflight: AWS account %s as %s in %s", id.AccountId, id.Arn, region), nil)
		return nil
	}
	home := HomeRegion(region)
	if home == region {
		return CredentialsError(region, err)
	}
	homeProvider, perr := aws.NewProvider(ctx, "aws-preflight", ProviderArgs(home, creds))
	if perr != nil {
		return CredentialsError(region, err)
	}
	regions, rerr := aws.GetRegions(ctx, &aws.GetRegionsArgs{
		AllRegions: pulumi.BoolRef(true),
		Filters: []aws.GetRegionsFilter{
			{Name: "opt-in-status", Values: []string{"not-opted-in"}},
			{Name: "region-name", Values: []string{region}},
		},
	}, pulumi.Provider(homeProvider))
	if rerr == nil && slices.Contains(regions.Names, region) {
		return OptInError(region)
	}
	return CredentialsError(region, err)
}

// Args are what Check needs.
type Args struct {
	Config   *config.Config
	AZs      []string
	Provider pulumi.ProviderResource
	// PublicAddress finds this machine's public address; nil skips the
	// adminCidrs check (tests, and anything that must stay offline).
	PublicAddress func(context.Context) (netip.Addr, error)
}

// Check reads the quotas the shape consumes and compares them with what it
// needs, prints the cost estimate, and warns when adminCidrs does not
// contain this machine. Shortfalls come back as one error naming each;
// quotas that cannot be read are warnings.
func Check(ctx *pulumi.Context, a Args) error {
	cfg := a.Config
	plan := PlanQuotas(cfg, len(a.AZs))

	// The quota reads are independent API calls: run them together.
	limits := make(map[string]Limit, len(plan.Needs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range plan.Needs {
		wg.Add(1)
		go func(q Quota) {
			defer wg.Done()
			res, err := servicequotas.LookupServiceQuota(ctx, &servicequotas.LookupServiceQuotaArgs{
				ServiceCode: q.Service,
				QuotaCode:   pulumi.StringRef(q.Code),
			}, pulumi.Provider(a.Provider))
			l := Limit{Err: err}
			if err == nil {
				l.Value = res.Value
			}
			mu.Lock()
			limits[q.Code] = l
			mu.Unlock()
		}(n.Quota)
	}
	wg.Wait()

	result := Evaluate(plan, limits, cfg.Region)
	_ = ctx.Log.Info("preflight: "+result.Summary, nil) // a lost log line must not fail the run
	for _, w := range result.Warnings {
		_ = ctx.Log.Warn("preflight: "+w, nil)
	}
	_ = ctx.Log.Info("preflight: "+EstimateCost(cfg, len(a.AZs), Prices).LogLine(cfg.Region, Prices), nil)

	// With a private API this machine reaches the internal load balancer
	// from inside the VPC or over a private route: its public address says
	// nothing (up probes the route before the bootstrap instead).
	if a.PublicAddress != nil && !cfg.PrivateAPI() {
		if addr, err := a.PublicAddress(ctx.Context()); err != nil {
			_ = ctx.Log.Debug("preflight: public address unknown, adminCidrs not checked: "+err.Error(), nil)
		} else if w := AdminCIDRWarning(cfg.AdminCIDRs, addr); w != "" {
			_ = ctx.Log.Warn("preflight: "+w, nil)
		}
	}

	if len(result.Errors) > 0 {
		return fmt.Errorf("preflight: the account's service quotas do not fit this stack (%s):\n  - %s",
			UsageCaveat, strings.Join(result.Errors, "\n  - "))
	}
	return nil
}

// ProviderArgs are the stack's AWS provider inputs: the region, and the
// credential settings of the aws: namespace (config.AWS), each only when
// set, so a stack that sets none has the inputs it always had.
func ProviderArgs(region string, a config.AWS) *aws.ProviderArgs {
	args := &aws.ProviderArgs{Region: pulumi.String(region)}
	opt := func(v string) pulumi.StringPtrInput {
		if v == "" {
			return nil
		}
		return pulumi.StringPtr(v)
	}
	// The SDK marks accessKey, secretKey and token secret (NewProvider).
	args.Profile, args.AccessKey, args.SecretKey, args.Token = opt(a.Profile), opt(a.AccessKey), opt(a.SecretKey), opt(a.Token)
	if len(a.SharedCredentialsFiles) > 0 {
		args.SharedCredentialsFiles = pulumi.ToStringArray(a.SharedCredentialsFiles)
	}
	if len(a.SharedConfigFiles) > 0 {
		args.SharedConfigFiles = pulumi.ToStringArray(a.SharedConfigFiles)
		// pulumi-aws's own pre-configure credential check reads only the
		// default config file (or AWS_CONFIG_FILE), not sharedConfigFiles,
		// and would refuse a profile defined there; CheckAccess asks STS for
		// the caller identity through this provider instead.
		args.SkipCredentialsValidation = pulumi.Bool(true)
	}
	if r := a.AssumeRole; r != nil {
		args.AssumeRole = &aws.ProviderAssumeRoleArgs{RoleArn: pulumi.String(r.RoleARN),
			SessionName: opt(r.SessionName), ExternalId: opt(r.ExternalID), Duration: opt(r.Duration)}
	}
	return args
}
