package program

import (
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/preflight"
	"github.com/talos-aws/talos-aws/talos"
)

// checked is what the checks found and the stages build on.
type checked struct {
	cfg      *config.Config
	provider *aws.Provider
	azs      []string
	amis     map[config.Arch]string
}

// checkStack reads and validates the configuration, renders every Talos
// machine configuration, and runs the AWS lookups validation needs (the
// region's zones, the Talos AMIs), all before any resource but the AWS
// provider is registered. It reports every problem of every class at once:
// a config error does not hide a Talos patch error, a missing AMI or an
// unavailable zone.
func checkStack(ctx *pulumi.Context) (*checked, error) {
	cfg, warnings, err := config.Parse(pulumiSource(ctx))
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
	errs = append(errs, config.UnknownKeys(projectKeys(ctx))...)

	out := &checked{cfg: cfg}
	if errs.Has("region") {
		return nil, errs.Err()
	}
	out.provider, err = aws.NewProvider(ctx, "aws", &aws.ProviderArgs{
		Region: pulumi.String(cfg.Region),
	})
	if err != nil {
		return nil, err
	}
	// Credentials and region next: every later call depends on them. The
	// configuration errors found so far are reported with it.
	if err := preflight.CheckAccess(ctx, cfg.Region, out.provider); err != nil {
		return nil, errors.Join(errs.Err(), err)
	}
	useAWS := pulumi.Provider(out.provider)
	if !errs.Has("azCount") && !errs.Has("availabilityZones") {
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

// projectKeys lists the keys set in this project's config namespace. The
// Go SDK reads its configuration from PULUMI_CONFIG (sdk v3.274.1
// go/pulumi/run.go, getEnvInfo) and offers no listing, so it is read here
// the same way.
func projectKeys(ctx *pulumi.Context) []string {
	var all map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all); err != nil {
		return nil
	}
	var keys []string
	for k := range all {
		if key, ok := strings.CutPrefix(k, ctx.Project()+":"); ok {
			keys = append(keys, key)
		}
	}
	return keys
}
