package program

import (
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/preflight"
	"github.com/talos-aws/talos-aws/talos"
)

// checked is what the checks found and the stages build on.
type checked struct {
	last     lastUp
	cfg      *config.Config
	provider *aws.Provider
	azs      []string
	amis     map[config.Arch]string
	// vpc is the user's VPC (network), as the preflight read it.
	vpc *preflight.VPCDescription
}

// checkStack reads and validates the configuration, renders every Talos
// machine configuration, and runs the AWS lookups validation needs (the
// region's zones, the Talos AMIs), all before any resource but the AWS
// provider is registered. It reports every problem of every class at once:
// a config error does not hide a Talos patch error, a missing AMI or an
// unavailable zone.
func checkStack(ctx *pulumi.Context) (*checked, error) {
	// What the last `up` recorded: unset versions keep what the nodes run,
	// version changes are checked as upgrades, issuers move in steps.
	last, err := readLastUp(ctx)
	if err != nil {
		return nil, err
	}
	cfg, warnings, err := config.ParseDeployed(namespaceSource(ctx, ""), last.Deployed)
	for _, w := range warnings {
		_ = ctx.Log.Warn(w, nil) // a lost warning must not fail the deployment
	}
	var errs config.ErrorList
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		errs = append(errs, ve.Errors...)
	} else if err != nil {
		return nil, err
	}
	// Render every machine configuration locally, on the sound parts of
	// the configuration: oversize or Talos-rejected configs stop here.
	errs = append(errs, talos.CheckUserDataErrors(cfg.Renderable(errs))...)
	// Keys of this project the program does not read are typos: errors,
	// added after rendering so they cannot make it drop a sound key.
	errs = append(errs, config.UnknownKeys(projectKeys(ctx, ctx.Project()))...)
	// The AWS provider's credentials, for it and the rollout wait alike.
	creds, credErrs, credWarnings := config.ParseAWS(namespaceSource(ctx, config.AWSNamespace), projectKeys(ctx, config.AWSNamespace), cfg.Region)
	errs = append(errs, credErrs...)
	for _, w := range credWarnings {
		_ = ctx.Log.Warn(w, nil)
	}
	cfg.AWS = creds

	out := &checked{cfg: cfg, last: last}
	if errs.Has("region") {
		return nil, errs.Err()
	}
	for _, e := range errs {
		if strings.HasPrefix(e.Path, config.AWSNamespace+":") {
			return nil, errs.Err() // no provider with half its credentials
		}
	}
	out.provider, err = aws.NewProvider(ctx, "aws", preflight.ProviderArgs(cfg.Region, creds))
	if err != nil {
		return nil, err
	}
	// Credentials and region next: every later call depends on them. The
	// configuration errors found so far are reported with it.
	if err := preflight.CheckAccess(ctx, cfg.Region, creds, out.provider); err != nil {
		return nil, errors.Join(errs.Err(), err)
	}
	useAWS := pulumi.Provider(out.provider)
	if cfg.BringYourOwnVPC() {
		// The user's VPC, read and judged before anything is created: its
		// zones are its private subnets'.
		if !errs.Has("network") {
			desc, err := preflight.DescribeVPC(ctx, cfg, useAWS)
			if err != nil {
				return nil, err
			}
			errs = append(errs, preflight.CheckVPC(desc, cfg)...)
			for _, w := range preflight.VPCWarnings(desc, cfg) {
				_ = ctx.Log.Warn(w, nil)
			}
			out.vpc, out.azs = &desc, desc.PrivateAZs()
		}
	} else if !errs.Has("azCount") && !errs.Has("availabilityZones") {
		zones, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
			State: pulumi.StringRef("available"),
			Filters: []aws.GetAvailabilityZonesFilter{
				{Name: "opt-in-status", Values: []string{"opt-in-not-required"}},
			},
		}, useAWS)
		if err != nil {
			return nil, err
		}
		out.azs, err = config.SelectAZs(cfg, zones.Names)
		if errors.As(err, &ve) {
			errs = append(errs, ve.Errors...)
		} else if err != nil {
			return nil, err
		}
	}
	if !errs.Has("talosVersion") && !errs.Has("amiIdAmd64") && !errs.Has("amiIdArm64") {
		var amiErrs config.ErrorList
		out.amis, amiErrs = compute.LookupAMIs(ctx, cfg, useAWS)
		errs = append(errs, amiErrs...)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// projectKeys lists the keys set in a config namespace (this project's, or
// the AWS provider's). The
// Go SDK reads its configuration from PULUMI_CONFIG (sdk v3.274.1
// go/pulumi/run.go, getEnvInfo) and offers no listing, so it is read here
// the same way.
func projectKeys(ctx *pulumi.Context, namespace string) []string {
	var all map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all); err != nil {
		return nil
	}
	var keys []string
	for k := range all {
		if key, ok := strings.CutPrefix(k, namespace+":"); ok {
			keys = append(keys, key)
		}
	}
	return keys
}

// namespaceSource reads one config namespace's keys as the raw strings
// Pulumi stores (arrays and objects as JSON); "" is this project's.
func namespaceSource(ctx *pulumi.Context, namespace string) config.Source {
	c := pconfig.New(ctx, namespace)
	return func(key string) (string, bool) {
		v, err := c.Try(key)
		return v, err == nil
	}
}
