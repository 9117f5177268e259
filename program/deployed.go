package program

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/talos"
)

// Outputs the stack records for its own next run. The program reads them
// back through a stack reference to this very stack: a Pulumi program sees
// no state but its stack's outputs, and these say what the cluster runs
// (Pulumi's engine answers a stack reference with the stack's last
// checkpoint, whose stack outputs an `up` replaces only at its end:
// pkg/resource/deploy/builtins.go readStackReference, step.go SameStep).
const (
	outTalosVersion      = "talosVersion"
	outKubernetesVersion = "kubernetesVersion"
	outIssuers           = "serviceAccountIssuers"
	outAudiences         = "apiAudiences"
	outSharedSubnetTags  = "sharedSubnetTags"
	// Outputs every stack deployed by an earlier release has.
	outClusterEndpoint = "clusterEndpoint"
	outOIDCIssuer      = "oidcIssuerUrl"
)

// lastUp is what the stack's last `up` recorded.
type lastUp struct {
	config.Deployed
	Issuers, Audiences talos.Accepted
	// SharedSubnetTags are the tags the stack added to the user's subnets.
	SharedSubnetTags map[string]map[string]string
}

// readLastUp reads the stack's own outputs. A new stack has none; one
// deployed by a release that did not record versions and issuers gets the
// issuer its API servers then had: the workload identity issuer, or Talos'
// default, the cluster endpoint.
func readLastUp(ctx *pulumi.Context) (lastUp, error) {
	self := fmt.Sprintf("%s/%s/%s", ctx.Organization(), ctx.Project(), ctx.Stack())
	ref, err := pulumi.NewStackReference(ctx, "last-up", &pulumi.StackReferenceArgs{Name: pulumi.String(self)})
	if err != nil {
		return lastUp{}, err
	}
	value := func(name string) (any, error) {
		d, err := ref.GetOutputDetails(name)
		if err != nil {
			return nil, fmt.Errorf("reading this stack's output %s: %w", name, err)
		}
		if d.SecretValue != nil {
			return d.SecretValue, nil
		}
		return d.Value, nil
	}
	raw := map[string]any{}
	for _, name := range []string{outTalosVersion, outKubernetesVersion, outIssuers, outAudiences, outClusterEndpoint, outOIDCIssuer, outSharedSubnetTags} {
		if raw[name], err = value(name); err != nil {
			return lastUp{}, err
		}
	}
	return lastUpFrom(raw)
}

// lastUpFrom interprets the stack's outputs (absent ones nil).
func lastUpFrom(raw map[string]any) (lastUp, error) {
	var out lastUp
	str := func(name string) string { s, _ := raw[name].(string); return s }
	endpoint := str(outClusterEndpoint)
	out.Exists = endpoint != ""
	out.ClusterEndpoint = endpoint
	out.TalosVersion, out.KubernetesVersion = str(outTalosVersion), str(outKubernetesVersion)
	if v := raw[outSharedSubnetTags]; v != nil {
		b, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(b, &out.SharedSubnetTags)
		}
		if err != nil {
			return lastUp{}, fmt.Errorf("this stack's output %s: %w", outSharedSubnetTags, err)
		}
	}
	for _, r := range []struct {
		name   string
		dst    *talos.Accepted
		legacy string
	}{
		// A stack deployed before the records: its API servers took Talos'
		// defaults, the cluster endpoint, unless workload identity set the
		// issuer.
		{outIssuers, &out.Issuers, firstOf(str(outOIDCIssuer), endpoint)},
		{outAudiences, &out.Audiences, endpoint},
	} {
		if v := raw[r.name]; v != nil {
			b, err := json.Marshal(v)
			if err == nil {
				err = json.Unmarshal(b, r.dst)
			}
			if err != nil {
				return lastUp{}, fmt.Errorf("this stack's output %s: %w", r.name, err)
			}
		} else if r.legacy != "" {
			r.dst.Accepted = []string{r.legacy}
		}
	}
	return out, nil
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// acceptedRecord is the serviceAccountIssuers (or apiAudiences) output:
// what this `up` configured and, once the control plane has rolled onto
// it, since when (kept from the last `up` when nothing moved).
func acceptedRecord(accepted pulumi.StringArrayOutput, rolled pulumi.ResourceArrayOutput, prev talos.Accepted, now func() time.Time) pulumi.Output {
	return pulumi.All(accepted, rolled).ApplyT(func(v []any) (map[string]any, error) {
		list, ok := v[0].([]string)
		if !ok {
			return nil, fmt.Errorf("accepted issuers are %T", v[0])
		}
		since := prev.Since
		if !slices.Equal(list, prev.Accepted) || since == "" {
			since = now().UTC().Format(time.RFC3339)
		}
		return map[string]any{"accepted": list, "since": since}, nil
	}).(pulumi.MapOutput)
}
