package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/backups"
	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard"
	"github.com/talos-aws/talos-aws/network"
	"github.com/talos-aws/talos-aws/talos"
)

// guardAndBackups creates the etcd guard's function and, with backups on,
// the bucket it writes to and the pre-change snapshot, all before the
// control-plane group: the group depends on the snapshot, so nothing the
// function needs may depend on the group (README "Backups and restore").
func guardAndBackups(ctx *pulumi.Context, cfg *config.Config, tags map[string]string, net *network.Network, tal *talos.Talos,
	c *compute.Compute, withAWS pulumi.ResourceOption) (*etcdguard.Guard, *backups.Backups, error) {
	artifact, err := guardArtifact(ctx)
	if err != nil {
		return nil, nil, err
	}
	g, err := etcdguard.New(ctx, "etcd-guard", etcdguard.Args{
		Config: cfg, Tags: tags, VpcID: net.VpcID, PrivateSubnetIDs: net.PrivateSubnetIDs,
		ControlPlaneSGID: c.ControlPlaneSGID, ClientConfiguration: tal.ClientConfiguration, Artifact: artifact,
		Paused: cfg.EtcdGuardPaused,
	}, withAWS)
	if err != nil {
		return nil, nil, err
	}
	deploy := etcdguard.DeployArgs{ControlPlaneLaunchTemplate: c.ControlPlaneLaunchTmpl, NetworkReady: net.PrivateEgress}
	var bk *backups.Backups
	if config.BackupsOn(cfg) {
		bk, err = backups.New(ctx, "backups", backups.Args{
			Config: cfg, Tags: tags,
			StackRoleARNs: pulumi.StringArray{c.ControlPlaneRoleARN, c.WorkerRoleARN},
			WriterRoleARN: g.RoleARN, WriterRoleName: g.RoleName,
		}, withAWS)
		if err != nil {
			return nil, nil, err
		}
		deploy.Backup = &etcdguard.Backup{Bucket: bk.BucketName, KeyARN: bk.KeyARN, WriterPolicy: bk.WriterPolicy}
	}
	if err := g.Deploy(ctx, deploy); err != nil {
		return nil, nil, err
	}
	return g, bk, nil
}
