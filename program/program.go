// Package program is the talos-aws Pulumi program: the checks, then the
// stages in the order they are created, then the stack's exports. Whatever
// reaches outside the process (AWS from the runner, the new cluster, the
// Go toolchain, the runner's public address) comes in through Deps, so
// tests run the real program under Pulumi's mocks.
package program

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/addons"
	"github.com/talos-aws/talos-aws/backups"
	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/drain"
	"github.com/talos-aws/talos-aws/etcdguard"
	"github.com/talos-aws/talos-aws/identity"
	"github.com/talos-aws/talos-aws/internal/ports"
	"github.com/talos-aws/talos-aws/network"
	"github.com/talos-aws/talos-aws/preflight"
	"github.com/talos-aws/talos-aws/readiness"
	"github.com/talos-aws/talos-aws/talos"
)

// Deps are the program's ways out of the process.
type Deps struct {
	// PublicAddress finds the runner's public address for the adminCidrs
	// check; nil skips it.
	PublicAddress func(context.Context) (netip.Addr, error)
	// ControlPlaneWaiter waits, in `up`, for the control plane to roll
	// before the worker pools; it may return nil (no wait).
	ControlPlaneWaiter func(*pulumi.Context, *config.Config) compute.ControlPlaneWaiter
	// GuardCode is the etcd guard's Lambda code: named from its source in
	// a preview, built and uploaded in `up` (etcdguard.SourceCode).
	GuardCode func(*pulumi.Context, *config.Config) (etcdguard.Code, error)
	// Waiter runs the readiness waits on the new cluster, in `up`.
	Waiter func(*pulumi.Context, *config.Config) addons.Waiter
	// GuardSecret writes the guard's talosconfig into its secret, in `up`.
	GuardSecret func(*config.Config) etcdguard.SecretWriter
	// Now is the clock the issuer plan and its record read; nil: time.Now.
	Now func() time.Time
	// Probes check, in `up`, what the stack just made before anything
	// relies on it: the issuer's documents, a private endpoint's route.
	Probes func(*pulumi.Context, *config.Config) Probes
	// AMIBuilder finds (preview) and builds (`up`) the AMIs of image keys;
	// called only when a role runs an image.
	AMIBuilder func(*pulumi.Context, *config.Config) (AMIBuilder, error)
}

// Probes are the checks of `up` (readiness.Gate).
type Probes interface {
	IssuerServed(ctx context.Context, issuerURL string) error
	Reachable(ctx context.Context, host string, ports []int, howTo string) error
}

// Real are the Deps of `pulumi up` and `preview`. started is when the run
// began: the control-plane rollout wait looks only at instance refreshes
// this run started.
func Real(started time.Time) Deps {
	return Deps{
		PublicAddress: preflight.PublicAddress,
		ControlPlaneWaiter: func(ctx *pulumi.Context, cfg *config.Config) compute.ControlPlaneWaiter {
			return etcdguard.AWSControlPlaneWaiter(cfg, started, func(f string, a ...any) { _ = ctx.Log.Info(fmt.Sprintf(f, a...), nil) })
		},
		GuardCode: lambdaCode,
		GuardSecret: func(cfg *config.Config) etcdguard.SecretWriter {
			return etcdguard.AWSSecretWriter(cfg.Region, cfg.AWS)
		},
		Waiter: func(ctx *pulumi.Context, cfg *config.Config) addons.Waiter {
			return readiness.New(time.Duration(cfg.ReadinessTimeoutMinutes)*time.Minute, unreachableHint(cfg),
				func(msg string) { _ = ctx.Log.Info(msg, nil) })
		},
		Probes: func(ctx *pulumi.Context, cfg *config.Config) Probes {
			return readiness.New(time.Duration(cfg.ReadinessTimeoutMinutes)*time.Minute, "", func(msg string) { _ = ctx.Log.Info(msg, nil) })
		},
		AMIBuilder: amiBuilderFor,
	}
}

// Run is what Pulumi runs: the stack, then its exports.
func Run(d Deps) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		outputs, err := Program(ctx, d)
		if err != nil {
			return err
		}
		for k, v := range outputs {
			ctx.Export(k, v)
		}
		return nil
	}
}

// Program builds the whole stack and returns its outputs. Every check that
// can fail on user input runs before the first resource is registered.
func Program(ctx *pulumi.Context, d Deps) (map[string]pulumi.Output, error) {
	// Every check that can fail on user input, and the AWS lookups they
	// need (credentials, zones, AMIs), before any resource but the AWS
	// provider.
	checked, err := checkStack(ctx)
	if err != nil {
		return nil, err
	}
	cfg, azs, awsProvider := checked.cfg, checked.azs, checked.provider
	now := d.Now
	if now == nil {
		now = time.Now
	}
	for _, n := range upgradeNotes(cfg, checked.last.Deployed) {
		_ = ctx.Log.Info(n, nil)
	}
	// The probes of `up`; a preview dials nothing.
	var probes Probes
	if d.Probes != nil && !ctx.DryRun() {
		probes = d.Probes(ctx, cfg)
	}
	// Quotas (a roll's surge included), the cost estimate and adminCidrs.
	if err := preflight.Check(ctx, preflight.Args{Config: cfg, AZs: azs, Provider: awsProvider, PublicAddress: d.PublicAddress}); err != nil {
		return nil, err
	}
	// The AMIs of image keys: looked up in a preview, built by `up`.
	builtAMIs, err := imageAMIs(ctx, cfg, d)
	if err != nil {
		return nil, err
	}
	tags := cfg.ClusterTags()
	withAWS := pulumi.Providers(awsProvider)

	// 1. Network: VPC, subnets, gateways, routes, both load balancers.
	net, err := network.New(ctx, "network", network.Args{
		ClusterName:  cfg.ClusterName,
		VPCCIDR:      cfg.VPCCIDR,
		AZs:          azs,
		NATStrategy:  cfg.NATStrategy,
		AdminCIDRs:   cfg.AdminCIDRs,
		IngressCIDRs: cfg.IngressCIDRs,
		Tags:         tags,
		PrivateAPI:   cfg.PrivateAPI(), PrivateIngress: cfg.PrivateIngress(),
		StableZone: stableZone(cfg), PublicName: cfg.Endpoint.PublicName, PublicZoneID: cfg.Endpoint.PublicZoneID,
		Existing: existingVPC(cfg, checked),
		JumpHost: cfg.HasJumpHost(), Region: cfg.Region,
	}, withAWS)
	if err != nil {
		return nil, err
	}

	// 2. Workload identity's issuer (workloadIdentity): its URL is in the
	// API servers' configuration.
	talArgs := talos.Args{Config: cfg, InternalLBDNSName: net.InternalLBDNSName, PublicLBDNSName: net.PublicLBDNSName, APIHost: net.APIHost,
		Issuers: checked.last.Issuers, Audiences: checked.last.Audiences, Now: now(), Log: func(msg string) { _ = ctx.Log.Info(msg, nil) }}
	var id *identity.Identity
	if cfg.WorkloadIdentity {
		if id, err = identity.New(ctx, "identity", identity.Args{Config: cfg, Tags: tags}, withAWS); err != nil {
			return nil, err
		}
		talArgs.IssuerURL, talArgs.JWKSURI = id.IssuerURL, id.JWKSURI
	}

	// 3. Talos: machine secrets and every role's machine configuration;
	// then the issuer's keys, its IAM provider and the service accounts'
	// roles.
	tal, err := talos.New(ctx, "talos", talArgs, withAWS)
	if err != nil {
		return nil, err
	}
	if id != nil {
		pub := identity.PublishArgs{ServiceAccountKey: tal.ServiceAccountKey, Roles: serviceAccountRoles(cfg)}
		if probes != nil {
			pub.Served = probes.IssuerServed
		}
		if err := id.Publish(ctx, pub); err != nil {
			return nil, err
		}
		warnIssuerMove(ctx, cfg, tal, id)
	}

	// 4. Compute nodes: roles, security groups, launch templates, the etcd
	// degraded alarm.
	comp, err := compute.New(ctx, "compute", compute.Args{
		Config:                    cfg,
		Tags:                      tags,
		VPCID:                     net.VPCID,
		InternalLBSecurityGroupID: net.InternalLBSecurityGroupID,
		PublicLBSecurityGroupID:   net.PublicLBSecurityGroupID,
		UserData:                  tal.UserData,
		AMIs:                      checked.amis,
		ImageAMIs:                 builtAMIs,
	}, withAWS)
	if err != nil {
		return nil, err
	}

	// 5. The etcd guard: its network, secret and role. Nothing the function
	// needs may depend on the control-plane group, which waits for its
	// pre-change snapshot (docs/etcd-guard.md#a-snapshot-before-every-control-plane-change).
	code, err := d.GuardCode(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var secretWriter etcdguard.SecretWriter
	if d.GuardSecret != nil {
		secretWriter = d.GuardSecret(cfg)
	}
	guard, err := etcdguard.New(ctx, "etcd-guard", etcdguard.Args{
		Config: cfg, Tags: tags, VPCID: net.VPCID, PrivateSubnetIDs: net.PrivateSubnetIDs,
		ControlPlaneSecurityGroupID: comp.ControlPlaneSecurityGroupID, ClientConfiguration: tal.ClientConfiguration, Code: code,
		Paused: cfg.EtcdGuardPaused, SecretWriter: secretWriter,
	}, withAWS)
	if err != nil {
		return nil, err
	}

	// 6. Backups (when on): the bucket the guard writes to; then the guard's
	// function and, with backups, the pre-change snapshot.
	deploy := etcdguard.DeployArgs{ControlPlaneLaunchTemplate: comp.ControlPlaneLaunchTemplate, PrivateEgress: net.PrivateEgress}
	var bk *backups.Backups
	if config.BackupsOn(cfg) {
		bk, err = backups.New(ctx, "backups", backups.Args{
			Config: cfg, Tags: tags,
			WriterRoleARN: guard.RoleARN, WriterRoleName: guard.RoleName, AlarmTopicARN: comp.AlarmTopicARN,
		}, withAWS)
		if err != nil {
			return nil, err
		}
		deploy.Backup = &etcdguard.Backup{Bucket: bk.BucketName, KeyARN: bk.KeyARN, WriterPolicy: bk.WriterPolicy}
	}
	if err := guard.Deploy(ctx, deploy); err != nil {
		return nil, err
	}

	// 7. Groups: the control plane after the snapshot, the workers after
	// the control plane has rolled.
	// Only a running cluster has etcd data to snapshot before its control
	// plane changes: a new stack's control plane does not wait for the
	// guard's function (and its build, minutes on a cold runner).
	var cpAfter []pulumi.Resource
	if guard.PreChange != nil && checked.last.Exists {
		cpAfter = append(cpAfter, guard.PreChange)
	}
	if err := comp.Groups(ctx, compute.GroupsArgs{
		PrivateSubnetIDs:   net.PrivateSubnetIDs,
		ControlPlaneTGARNs: net.ControlPlaneTargetGroupARNs,
		IngressTGARN:       net.IngressTargetGroupARN,
		PrivateEgress:      net.PrivateEgress,
		ControlPlaneAfter:  cpAfter,
		WaitControlPlane:   d.ControlPlaneWaiter(ctx, cfg),
	}); err != nil {
		return nil, err
	}

	// 8. Bootstrap etcd, once per cluster, and the kubeconfig.
	boot := talos.BootstrapArgs{ControlPlaneASG: comp.ControlPlaneASG}
	if probes != nil && cfg.PrivateAPI() {
		boot.Reachable = func(c context.Context, host, jumpHost string) error {
			managed := jumpHost != ""
			if !managed {
				jumpHost = "<jump-instance-id>"
			}
			help := readiness.PrivateAccessHelp(cfg.Region, host, network.JumpHostCommands(cfg.Region, jumpHost, host), managed)
			return probes.Reachable(c, host, []int{ports.KubeAPI, ports.TalosAPI}, help)
		}
		if cfg.HasJumpHost() {
			// The advice names the jump host's instance: a failed `up`
			// exports no output to read it from.
			boot.JumpHostID = net.JumpHostID
		}
	}
	if err := tal.Bootstrap(ctx, "talos", boot); err != nil {
		return nil, err
	}

	// 9. Attach the guard: hooks and triggers on the group.
	if err := guard.Attach(ctx, etcdguard.AttachArgs{ControlPlaneASG: comp.ControlPlaneASG, Bootstrap: tal.BootstrapResource, AlarmTopicARN: comp.AlarmTopicARN}); err != nil {
		return nil, err
	}

	// 10. Add-ons, behind the readiness waits; with workload identity the
	// pod identity webhook before every add-on that takes a role.
	addArgs := addons.Args{Config: cfg, Kubeconfig: tal.Kubeconfig, ClusterID: tal.ClusterID, Wait: d.Waiter(ctx, cfg)}
	if id != nil {
		cert, key := webhookCert(tal.ServiceAccountKey)
		addArgs.Identity = &addons.Identity{WebhookCert: cert, WebhookKey: key}
		addArgs.AfterControlPlaneRolled = pulumi.DependsOnInputs(comp.ControlPlaneRolled)
		if arn, ok := id.RoleARNs[ebsCSIAccount]; ok {
			addArgs.Identity.EBSCSIRoleARN = arn
		}
		if arn, ok := id.RoleARNs[autoscalerAccount]; ok {
			addArgs.Identity.AutoscalerRoleARN = arn
		}
	}
	add, err := addons.New(ctx, "addons", addArgs, withAWS)
	if err != nil {
		return nil, err
	}

	// 11. Worker drains.
	if drain.Enabled(cfg) {
		da := drain.Args{
			Config: cfg, Tags: tags, RoleName: comp.ControlPlaneRoleName, WorkerASGs: comp.WorkerASGs,
			Provider: add.Provider, AfterNodesReady: add.BeforeCredentials,
		}
		if id != nil {
			da.RoleName, da.RoleARN = id.RoleNames[nthAccount], id.RoleARNs[nthAccount]
		}
		if _, err := drain.New(ctx, "drain", da, withAWS); err != nil {
			return nil, err
		}
	}

	outputs := map[string]pulumi.Output{}
	if id != nil {
		outputs["oidcIssuerUrl"] = id.IssuerURL
		outputs["oidcProviderArn"] = id.ProviderARN
		// Every service account's role, the add-ons' and serviceAccountRoles'.
		arns := pulumi.StringMap{}
		for k, v := range id.RoleARNs {
			arns[k] = v
		}
		outputs["serviceAccountRoleArns"] = arns.ToStringMapOutput()
	}
	if bk != nil {
		outputs["etcdBackupBucket"] = bk.BucketName
		// The etcd guard's role: the only writer.
		outputs["etcdBackupWriterRoleArn"] = bk.WriterRoleARN
	}

	if net := existingVPC(cfg, checked); net != nil {
		// The tags this stack added to the user's subnets: the next run
		// keeps managing exactly those (preflight.SharedSubnetTags).
		outputs[outSharedSubnetTags] = pulumi.ToMap(tagsAsAny(net.SubnetTags)).ToMapOutput()
	}
	// What the next run reads back (readLastUp): the versions the nodes now
	// run and the issuers the API servers accept.
	outputs[outTalosVersion] = pulumi.String(cfg.TalosVersion).ToStringOutput()
	outputs[outKubernetesVersion] = pulumi.String(cfg.KubernetesVersion).ToStringOutput()
	outputs[outIssuers] = acceptedRecord(tal.AcceptedIssuers, comp.ControlPlaneRolled, checked.last.Issuers, now)
	outputs[outAudiences] = acceptedRecord(tal.AcceptedAudiences, comp.ControlPlaneRolled, checked.last.Audiences, now)
	// Where kubectl and talosctl reach the APIs (the kubeconfig's server).
	outputs["apiEndpoint"] = tal.PublicEndpoint
	if !cfg.PrivateAPI() {
		outputs["publicEndpoint"] = tal.PublicEndpoint
	}
	if cfg.HasJumpHost() {
		// The port forwards to the internal load balancer, with this
		// jump host's ID, and the hosts entry.
		outputs["jumpHostId"] = net.JumpHostID
		outputs["jumpHostCommands"] = pulumi.All(net.JumpHostID, net.APIHost).ApplyT(func(v []any) []string {
			return network.JumpHostCommands(cfg.Region, v[0].(string), v[1].(string))
		}).(pulumi.StringArrayOutput)
	}

	for k, v := range map[string]pulumi.Output{
		"kubeconfig":          tal.Kubeconfig,
		"talosconfig":         tal.Talosconfig,
		"clusterEndpoint":     tal.ClusterEndpoint,
		"vpcId":               net.VPCID,
		"availabilityZones":   pulumi.ToStringArray(azs).ToStringArrayOutput(),
		"publicSubnetIds":     net.PublicSubnetIDs,
		"privateSubnetIds":    net.PrivateSubnetIDs,
		"controlPlaneAsgName": comp.ControlPlaneASGName,
		// Where the etcd guard's and the backups' alarms notify.
		"alarmTopicArn":  comp.AlarmTopicARN,
		"workerAsgNames": comp.WorkerASGNames,
		// CI opens its runner's /32 on this group for the length of a run.
		"ciAccessSecurityGroupId": net.CIAccessSecurityGroupID,
		"ciAccessPolicy":          pulumi.String(network.CIAccessPolicy(cfg.ClusterName)).ToStringOutput(),
	} {
		outputs[k] = v
	}
	return outputs, nil
}

// existingVPC is the network stage's view of the user's VPC, nil when the
// stack creates its own.
func existingVPC(cfg *config.Config, checked *checked) *network.Existing {
	if checked.vpc == nil {
		return nil
	}
	d := checked.vpc
	e := &network.Existing{VPCID: d.ID, PrivateSubnetIDs: cfg.Network.PrivateSubnetIDs, PublicSubnetIDs: cfg.Network.PublicSubnetIDs,
		SubnetTags: preflight.SharedSubnetTags(*d, cfg.ClusterName, checked.last.SharedSubnetTags)}
	if len(d.CIDRBlocks) > 0 {
		e.CIDR = d.CIDRBlocks[0]
	}
	for _, sn := range d.Subnets {
		if !sn.Public {
			e.PrivateSubnetCIDRs = append(e.PrivateSubnetCIDRs, sn.CIDR)
		}
	}
	return e
}

func tagsAsAny(m map[string]map[string]string) map[string]any {
	out := map[string]any{}
	for id, tags := range m {
		inner := map[string]any{}
		for k, v := range tags {
			inner[k] = v
		}
		out[id] = inner
	}
	return out
}

// stableZone is the stable endpoint's private hosted zone, "" without it.
func stableZone(cfg *config.Config) string {
	if !cfg.StableEndpoint() {
		return ""
	}
	return config.StableZone(cfg.ClusterName)
}

// lambdaCode is the etcd guard's code from this module's source: the
// source hash now, the build and upload when `up` needs them.
func lambdaCode(ctx *pulumi.Context, cfg *config.Config) (etcdguard.Code, error) {
	wd, err := os.Getwd()
	if err != nil {
		return etcdguard.Code{}, err
	}
	root, err := etcdguard.ModuleRoot(wd)
	if err != nil {
		return etcdguard.Code{}, err
	}
	return etcdguard.SourceCode(root, etcdguard.CacheDir(), cfg.Region, cfg.AWS, func(f string, a ...any) { _ = ctx.Log.Info(fmt.Sprintf(f, a...), nil) })
}

// unreachableHint is appended to a timed-out wait: the usual cause is a
// machine outside adminCidrs, whose packets the public NLB drops unanswered.
func unreachableHint(cfg *config.Config) string {
	if cfg.PrivateAPI() {
		return fmt.Sprintf("apiAccess is private: the internal load balancer admits 6443 only from adminCidrs (%s) and the nodes; "+
			"run `pulumi up` inside the VPC, over VPN or Transit Gateway, or through an SSM port forward (docs/networking.md), "+
			"or raise readinessTimeoutMinutes (now %d) if the nodes are only slow", strings.Join(cfg.AdminCIDRs, ", "), cfg.ReadinessTimeoutMinutes)
	}
	return fmt.Sprintf("The public load balancer admits 6443 and 50000 only from adminCidrs (%s): run `pulumi up` from one of them, "+
		"from a CI runner that opened its address on the ciAccessSecurityGroupId group (docs/ci.md#ci-access-from-github-hosted-runners), "+
		"or raise readinessTimeoutMinutes (now %d) if the nodes are only slow",
		strings.Join(cfg.AdminCIDRs, ", "), cfg.ReadinessTimeoutMinutes)
}
