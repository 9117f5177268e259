// talos-aws turns an empty AWS account into a highly available Kubernetes
// cluster on Talos Linux with one `pulumi up`.
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/talos-aws/talos-aws/addons"
	"github.com/talos-aws/talos-aws/backups"
	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/drain"
	"github.com/talos-aws/talos-aws/etcdguard"
	"github.com/talos-aws/talos-aws/network"
	"github.com/talos-aws/talos-aws/preflight"
	"github.com/talos-aws/talos-aws/readiness"
	"github.com/talos-aws/talos-aws/talos"
)

// publicAddress finds this machine's public address for the adminCidrs
// check. Only main sets it: tests run program without touching the network.
var publicAddress func(context.Context) (netip.Addr, error)

func main() {
	publicAddress = preflight.PublicAddress
	pulumi.Run(run)
}

// started is when this run began: the control-plane rollout wait looks only
// at instance refreshes this run started.
var started = time.Now()

// controlPlaneWaiter and guardArtifact are variables so tests can run the
// program without AWS credentials or a Lambda build.
var (
	controlPlaneWaiter = func(ctx *pulumi.Context, cfg *config.Config) compute.ControlPlaneWaiter {
		return etcdguard.AWSControlPlaneWaiter(cfg, started, func(f string, a ...any) { _ = ctx.Log.Info(fmt.Sprintf(f, a...), nil) })
	}
	guardArtifact = lambdaArtifact
)

// lambdaArtifact is the etcd guard's zip: built (or taken from the cache)
// in `up`, planned without building in a preview.
func lambdaArtifact(ctx *pulumi.Context) (etcdguard.Artifact, error) {
	wd, err := os.Getwd()
	if err != nil {
		return etcdguard.Artifact{}, err
	}
	root, err := etcdguard.ModuleRoot(wd)
	if err != nil {
		return etcdguard.Artifact{}, err
	}
	// A preview never compiles: etcdguard.Plan knows the code hash `up`
	// will deploy without building.
	if ctx.DryRun() {
		a, err := etcdguard.Plan(root, etcdguard.CacheDir())
		if err == nil && a.SHA256 == "" {
			_ = ctx.Log.Info("the etcd guard's source differs from guard/build/lambda.sum: the preview shows its code as changed; `up` builds it", nil)
		}
		return a, err
	}
	a, err := etcdguard.Build(root, etcdguard.CacheDir())
	if err != nil {
		return a, err
	}
	if a.Built {
		_ = ctx.Log.Info(fmt.Sprintf("built the etcd guard Lambda in %s", a.Elapsed.Round(time.Millisecond)), nil)
	}
	// The committed source built other bytes than lambda.sum says: this
	// `up` is right, but previews will show the function as changed.
	if rec, err := etcdguard.Recorded(); err == nil && rec.SourceHash == a.SourceHash && rec.SHA256 != a.SHA256 {
		_ = ctx.Log.Warn(fmt.Sprintf("the etcd guard built to %s, not lambda.sum's %s: the build is not reproducible on this machine", a.SHA256, rec.SHA256), nil)
	}
	return a, nil
}

// pulumiSource reads project config keys as the raw strings Pulumi stores
// (arrays and objects as JSON).
func pulumiSource(ctx *pulumi.Context) config.Source {
	c := pconfig.New(ctx, "")
	return func(key string) (string, bool) {
		v, err := c.Try(key)
		return v, err == nil
	}
}

// waiterFor builds the waits `up` makes on the new cluster, logging progress
// to the Pulumi log. Tests replace it (gate_test.go).
var waiterFor = func(ctx *pulumi.Context, cfg *config.Config) addons.Waiter {
	return readiness.New(time.Duration(cfg.ReadinessTimeoutMinutes)*time.Minute, unreachableHint(cfg),
		func(msg string) { _ = ctx.Log.Info(msg, nil) })
}

// unreachableHint is appended to a timed-out wait: the usual cause is a
// machine outside adminCidrs, whose packets the public NLB drops unanswered.
func unreachableHint(cfg *config.Config) string {
	return fmt.Sprintf("The public load balancer admits 6443 and 50000 only from adminCidrs (%s): run `pulumi up` from one of them, "+
		"from a CI runner that opened its address on the ciAccessSecurityGroupId group (README \"From laptop and from CI\"), "+
		"or raise readinessTimeoutMinutes (now %d) if the nodes are only slow",
		strings.Join(cfg.AdminCIDRs, ", "), cfg.ReadinessTimeoutMinutes)
}

// run is the program Pulumi runs: the stack, then its exports.
func run(ctx *pulumi.Context) error {
	outputs, err := program(ctx)
	if err != nil {
		return err
	}
	for k, v := range outputs {
		ctx.Export(k, v)
	}
	return nil
}

// program builds the whole stack and returns its outputs. Every check that
// can fail on user input runs before the first resource is registered.
func program(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
	// Every check that can fail on user input, and the AWS lookups they
	// need (credentials, zones, AMIs), before any resource but the AWS
	// provider.
	checked, err := checkStack(ctx)
	if err != nil {
		return nil, err
	}
	cfg, azs, awsProvider := checked.cfg, checked.azs, checked.provider
	// Quotas (a roll's surge included), the cost estimate and adminCidrs.
	if err := preflight.Check(ctx, preflight.Args{Config: cfg, AZs: azs, Provider: awsProvider, PublicAddress: publicAddress}); err != nil {
		return nil, err
	}
	tags := cfg.ClusterTags()
	withAWS := pulumi.Providers(awsProvider)

	net, err := network.New(ctx, "network", network.Args{
		ClusterName:  cfg.ClusterName,
		VPCCIDR:      cfg.VPCCIDR,
		AZs:          azs,
		NATStrategy:  cfg.NATStrategy,
		AdminCIDRs:   cfg.AdminCIDRs,
		IngressCIDRs: cfg.IngressCIDRs,
		Tags:         tags,
	}, withAWS)
	if err != nil {
		return nil, err
	}

	tal, err := talos.New(ctx, "talos", talos.Args{
		Config:            cfg,
		InternalLBDNSName: net.InternalLBDNSName,
		PublicLBDNSName:   net.PublicLBDNSName,
	}, withAWS)
	if err != nil {
		return nil, err
	}

	var (
		guard *etcdguard.Guard
		bk    *backups.Backups
	)
	comp, err := compute.New(ctx, "compute", compute.Args{
		Config:           cfg,
		Tags:             tags,
		VpcID:            net.VpcID,
		PrivateSubnetIDs: net.PrivateSubnetIDs,
		InternalLBSGID:   net.InternalLBSecurityGroupID,
		PublicLBSGID:     net.PublicLBSecurityGroupID,
		ControlPlaneTGARNs: pulumi.StringArray{
			net.InternalAPITargetGroupARN, net.InternalTrustdTargetGroupARN, net.PublicAPITargetGroupARN, net.PublicTalosTargetGroupARN,
		},
		IngressTGARN:     net.IngressTargetGroupARN,
		UserData:         tal.UserData,
		NetworkReady:     net.PrivateEgress,
		AMIs:             checked.amis,
		WaitControlPlane: controlPlaneWaiter(ctx, cfg),
		// The etcd guard and the backup bucket come before the control-plane
		// group, which waits for the guard's pre-change snapshot.
		BeforeControlPlaneASG: func(c *compute.Compute) ([]pulumi.Resource, error) {
			guard, bk, err = guardAndBackups(ctx, cfg, tags, net, tal, c, withAWS)
			if err != nil || guard.PreChange == nil {
				return nil, err
			}
			return []pulumi.Resource{guard.PreChange}, nil
		},
	}, withAWS)
	if err != nil {
		return nil, err
	}

	if err := tal.Bootstrap(ctx, "talos", talos.BootstrapArgs{ControlPlaneASG: comp.ControlPlaneASG}); err != nil {
		return nil, err
	}
	if err := guard.Attach(ctx, etcdguard.AttachArgs{ControlPlaneASG: comp.ControlPlaneASG, Bootstrap: tal.BootstrapResource}); err != nil {
		return nil, err
	}

	add, err := addons.New(ctx, "addons", addons.Args{
		Config:     cfg,
		Kubeconfig: tal.Kubeconfig,
		ClusterID:  tal.ClusterID,
		Wait:       waiterFor(ctx, cfg),
	}, withAWS)
	if err != nil {
		return nil, err
	}

	if drain.Enabled(cfg) {
		if _, err := drain.New(ctx, "drain", drain.Args{
			Config:               cfg,
			Tags:                 tags,
			ControlPlaneRoleName: comp.ControlPlaneRoleName,
			WorkerASGs:           comp.WorkerASGs,
			Provider:             add.Provider,
			AfterNodesReady:      add.AfterNodesReady,
		}, withAWS); err != nil {
			return nil, err
		}
	}

	outputs := map[string]pulumi.Output{}
	if bk != nil {
		outputs["etcdBackupBucket"] = bk.BucketName
		// The etcd guard's role: the only writer.
		outputs["etcdBackupWriterRoleArn"] = bk.WriterRoleARN
	}

	for k, v := range map[string]pulumi.Output{
		"kubeconfig":          tal.Kubeconfig,
		"talosconfig":         tal.Talosconfig,
		"publicEndpoint":      tal.PublicEndpoint,
		"clusterEndpoint":     tal.ClusterEndpoint,
		"vpcId":               net.VpcID,
		"availabilityZones":   pulumi.ToStringArray(azs).ToStringArrayOutput(),
		"publicSubnetIds":     net.PublicSubnetIDs,
		"privateSubnetIds":    net.PrivateSubnetIDs,
		"controlPlaneAsgName": comp.ControlPlaneASGName,
		"workerAsgNames":      comp.WorkerASGNames,
		// CI opens its runner's /32 on this group for the length of a run.
		"ciAccessSecurityGroupId": net.CIAccessSecurityGroupID,
		"ciAccessPolicy":          pulumi.String(network.CIAccessPolicy(cfg.ClusterName)).ToStringOutput(),
	} {
		outputs[k] = v
	}
	return outputs, nil
}
