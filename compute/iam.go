package compute

import (
	"fmt"
	"slices"
	"strings"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

// AssumeRoleEC2 lets EC2 instances assume a node role.
func AssumeRoleEC2() iampolicy.Document {
	return iampolicy.AssumedBy("ec2.amazonaws.com")
}

// EBSCSITag is the EBS CSI driver every grant of AddEBSCSIPermissions was
// read at: the driver the chart deploys (config.EBSCSIChartVersion 2.53.0
// is app 1.53.0). A bump fails TestCallersAtPinnedVersions until the
// grants are read again.
const EBSCSITag = "v1.53.0"

// ccmRelease is what differs, on the stack's paths, between the cloud
// controller manager releases the grants were read at; every other grant
// is the same call from the same function in each.
type ccmRelease struct {
	// targetGroupAttributes: the target-group-attributes annotation's
	// reads and writes (aws_loadbalancer.go ensureTargetGroupAttributes;
	// upstream from v1.32.6, v1.33.3, v1.34.2 and v1.35.0).
	targetGroupAttributes bool
	// deleteHelpers: a deleted Service's groups are found by aws.go
	// buildSecurityGroupsToDelete and deleted by
	// deleteSecurityGroupsWithBackoff (v1.34.0 on); before, inline in
	// EnsureLoadBalancerDeleted.
	deleteHelpers bool
	// replacedGroups: when a Classic Load Balancer's groups change, the
	// replaced ones' rules are revoked from this cluster's groups and the
	// ones it owns deleted (aws_loadbalancer.go removeOwnedSecurityGroups,
	// v1.36.0 on); those calls are granted already, so only the callers
	// grow.
	replacedGroups bool
}

// ccmReleases are the cloud controller manager images the grants were read
// at (config.AddonsFor: one per Kubernetes minor the stack offers), and
// what each calls beyond the others. TestCallersAtPinnedVersions fails
// while the stack offers an image not here.
var ccmReleases = map[string]ccmRelease{
	"v1.30.10": {},
	"v1.31.9":  {},
	"v1.32.8":  {targetGroupAttributes: true},
	"v1.33.4":  {targetGroupAttributes: true},
	"v1.34.3":  {targetGroupAttributes: true, deleteHelpers: true},
	"v1.35.0":  {targetGroupAttributes: true, deleteHelpers: true},
	"v1.36.1":  {targetGroupAttributes: true, deleteHelpers: true, replacedGroups: true},
}

// autoscalerReleases are the cluster-autoscaler images the grants were read
// at (config.MinorAddons.Autoscaler: one per Kubernetes minor). From
// cluster-autoscaler-1.30.7 to -1.36.1 the AWS provider makes the same
// calls from the same functions (1.35.0 moved it from a vendored
// aws-sdk-go v1 to v2, the same API operations), so one set of grants
// names each. TestCallersAtPinnedVersions fails while the stack offers an
// image not here.
var autoscalerReleases = []string{"v1.30.7", "v1.31.5", "v1.32.7", "v1.33.6", "v1.34.5", "v1.35.0", "v1.36.1"}

func ebs(file, fn string) string {
	return "kubernetes-sigs/aws-ebs-csi-driver " + file + " " + fn + " @" + EBSCSITag
}

// CCMFeatures are the cloud controller manager release the stack runs and
// its controllers that call AWS beyond node initialisation and load
// balancers.
type CCMFeatures struct {
	// CloudRoutes is --configure-cloud-routes: the route controller, which
	// writes one route per node into the VPC's route tables and turns off
	// the nodes' source/destination check. The stack runs Cilium in
	// tunnel mode with it off (addons.CCMValues).
	CloudRoutes bool
	// Version is the image that runs (config.AddonsFor(k8s).CCMImage),
	// one of ccmReleases.
	Version string
}

// AddCCMPermissions adds what the AWS cloud controller manager calls at
// f.Version with the controllers the stack runs: cloud-node and
// cloud-node-lifecycle (instance lookups), service (Classic and Network
// Load Balancers for LoadBalancer Services, their security groups, and
// rules on the nodes' groups), and the route controller only with
// f.CloudRoutes. The tagging controller is off by default
// (cmd/aws-cloud-controller-manager/main.go ControllersDisabledByDefault)
// and is not turned on. Releases differ only as ccmRelease says: v1.30.10
// and v1.31.9 have no target-group attribute calls, so 1.30 and 1.31
// stacks' roles lack those two grants; every grant names its caller at
// f.Version.
//
// Writes are bounded by the tags the CCM itself sets on what it creates:
// kubernetes.io/cluster/<name>=owned on security groups
// (tags.go buildTags), and, on load balancers, target groups and
// listeners, that and kubernetes.io/service-name
// (aws_loadbalancer.go ensureLoadBalancerv2, ensureLoadBalancer). The
// stack's own API load balancers and target groups carry no
// service-name tag, and the role may tag nothing but what it is creating,
// so it can neither reach them nor make them look like its own.
//
// Not granted, though the prerequisites document lists them: volume calls
// and autoscaling:DescribeAutoScalingGroups/UpdateAutoScalingGroup (the
// in-tree Volumes and InstanceGroups code, still in v1.30.10's aws.go and
// aws_instancegroups.go, is called by no controller: k8s.io/cloud-provider
// v0.30.1 runs cloud-node, cloud-node-lifecycle, service and route, and
// calls no PVLabeler; it is gone from v1.31), ec2:DescribeRegions,
// ec2:DescribeVpcs and kms:DescribeKey (no caller in any release read),
// ec2:DescribeNetworkInterfaces (variant/fargate/fargate.go only: no
// Fargate nodes here), the NLB security-group calls (v1.35 on, only with
// the cloud config's NLBSecurityGroupMode=Managed, which the stack does
// not set), and iam:CreateServiceLinkedRole (Elastic Load Balancing's
// service-linked role exists before any node: the stack's own NLBs,
// created by the network stage, make AWS create it). Denied on optional
// paths: ec2:CreateTags and ec2:DeleteTags on existing resources (tags.go
// readRepairClusterTags re-tags a load balancer group the CCM finds
// untagged, which it never leaves so in any release read: it tags groups
// in the CreateSecurityGroup call; the tagging controller is off).
func AddCCMPermissions(p *iampolicy.Policy, cluster, partition string, f CCMFeatures) {
	rel, ok := ccmReleases[f.Version]
	if !ok {
		// Config validation offers only minors whose image is read
		// (TestCallersAtPinnedVersions): this is a programming error.
		panic(fmt.Sprintf("compute: the cloud controller manager's grants were not read at %q (ccmReleases)", f.Version))
	}
	ccm := func(file, fn string) string {
		return "kubernetes/cloud-provider-aws pkg/providers/v1/" + file + " " + fn + " @" + f.Version
	}
	findDeleted, deleteGroups := "EnsureLoadBalancerDeleted", "EnsureLoadBalancerDeleted"
	if rel.deleteHelpers {
		findDeleted, deleteGroups = "buildSecurityGroupsToDelete", "deleteSecurityGroupsWithBackoff"
	}
	owned := map[string]string{tagkeys.Cluster(cluster): "owned"}
	reads := []iampolicy.Grant{
		{Action: "ec2:DescribeInstances", Caller: ccm("aws.go", "describeInstances")},
		{Action: "ec2:DescribeInstanceTopology", Caller: ccm("topology.go", "GetNodeTopology")},
		{Action: "ec2:DescribeAvailabilityZones", Caller: ccm("zones.go", "zoneCache.populate")},
		{Action: "ec2:DescribeSecurityGroups", Caller: ccm("aws.go", "ensureSecurityGroup, findSecurityGroup, "+findDeleted)},
		{Action: "ec2:DescribeSubnets", Caller: ccm("aws.go", "findSubnets, getSubnetCidrs")},
		{Action: "ec2:DescribeRouteTables", Caller: ccm("aws.go", "findELBSubnets (public or private subnet)")},
		{Action: "elasticloadbalancing:DescribeLoadBalancers", Caller: ccm("aws.go", "describeLoadBalancer, describeLoadBalancerv2")},
		{Action: "elasticloadbalancing:DescribeLoadBalancerAttributes", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancer, reconcileLBAttributes")},
		{Action: "elasticloadbalancing:DescribeLoadBalancerPolicies", Caller: ccm("aws_loadbalancer.go", "ensureSSLNegotiationPolicy")},
		{Action: "elasticloadbalancing:DescribeListeners", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancerv2")},
		{Action: "elasticloadbalancing:DescribeTargetGroups", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancerv2, ensureTargetGroup")},
	}
	if rel.targetGroupAttributes {
		reads = append(reads, iampolicy.Grant{Action: "elasticloadbalancing:DescribeTargetGroupAttributes", Caller: ccm("aws_loadbalancer.go", "ensureTargetGroupAttributes (target-group-attributes annotation)")})
	}
	reads = append(reads, iampolicy.Grant{Action: "elasticloadbalancing:DescribeTargetHealth", Caller: ccm("aws_loadbalancer.go", "obtainTargetGroupActualTargets")})
	if rel.replacedGroups {
		reads = append(reads, iampolicy.Grant{Action: "ec2:DescribeSecurityGroups", Caller: ccm("aws_loadbalancer.go", "buildSecurityGroupRuleReferences; aws.go isOwnedSecurityGroup (removeOwnedSecurityGroups)")})
	}
	p.Allow(iampolicy.Unconditional("NoResourceLevelPermissions"), reads...)

	// Security groups: created tagged, in this cluster's VPC, then only
	// this cluster's groups (the stack's own are denied: guardPath).
	groups := iampolicy.ARNs(partition, "ec2", "security-group")
	p.Allow(iampolicy.CreatedWithTags("CCMCreatesGroupsTaggedForThisCluster", groups, owned),
		iampolicy.Grant{Action: "ec2:CreateSecurityGroup", Caller: ccm("aws.go", "ensureSecurityGroup (TagSpecifications)")})
	p.Allow(iampolicy.Tagged("CCMCreatesGroupsInThisClustersVPC", iampolicy.ARNs(partition, "ec2", "vpc"), owned),
		iampolicy.Grant{Action: "ec2:CreateSecurityGroup", Caller: ccm("aws.go", "ensureSecurityGroup (VpcId)")})
	p.Allow(iampolicy.Scope{Sid: "CCMTagsGroupsOnlyWhileCreating", Resource: groups,
		Condition: map[string]map[string]any{"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}}},
		iampolicy.Grant{Action: "ec2:CreateTags", Caller: ccm("aws.go", "ensureSecurityGroup (TagSpecifications)")})
	groupWrites := []iampolicy.Grant{
		{Action: "ec2:AuthorizeSecurityGroupIngress", Caller: ccm("aws.go", "setSecurityGroupIngress, addSecurityGroupIngress")},
		{Action: "ec2:RevokeSecurityGroupIngress", Caller: ccm("aws.go", "setSecurityGroupIngress, removeSecurityGroupIngress")},
		{Action: "ec2:DeleteSecurityGroup", Caller: ccm("aws.go", deleteGroups)},
	}
	if rel.replacedGroups {
		groupWrites = append(groupWrites,
			iampolicy.Grant{Action: "ec2:RevokeSecurityGroupIngress", Caller: ccm("aws_loadbalancer.go", "removeOwnedSecurityGroups")},
			iampolicy.Grant{Action: "ec2:DeleteSecurityGroup", Caller: ccm("aws_loadbalancer.go", "removeOwnedSecurityGroups (deleteSecurityGroupsWithBackoff)")})
	}
	p.Allow(iampolicy.Tagged("CCMChangesThisClustersGroups", groups, owned), groupWrites...)

	// Load balancers: created with this cluster's and a Service's tag,
	// then only those.
	const service = "kubernetes.io/service-name"
	p.Allow(iampolicy.CreatedWithTags("CCMCreatesServiceLoadBalancers", "*", owned, service),
		iampolicy.Grant{Action: "elasticloadbalancing:CreateLoadBalancer", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancer, ensureLoadBalancerv2 (Tags)")},
		iampolicy.Grant{Action: "elasticloadbalancing:CreateTargetGroup", Caller: ccm("aws_loadbalancer.go", "ensureTargetGroup (Tags)")},
	)
	create := iampolicy.CreatedWithTags("CCMTagsLoadBalancersOnlyWhileCreating", "*", owned, service)
	create.Condition["StringEquals"]["elasticloadbalancing:CreateAction"] = []string{"CreateListener", "CreateLoadBalancer", "CreateTargetGroup"}
	p.Allow(create,
		iampolicy.Grant{Action: "elasticloadbalancing:AddTags", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancerv2, createListenerV2, ensureTargetGroup (tags on create)")})
	lbWrites := []iampolicy.Grant{
		// Classic Load Balancers (the default for a LoadBalancer Service).
		{Action: "elasticloadbalancing:AddTags", Caller: ccm("aws.go", "addLoadBalancerTags")},
		{Action: "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancer")},
		{Action: "elasticloadbalancing:AttachLoadBalancerToSubnets", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancer")},
		{Action: "elasticloadbalancing:DetachLoadBalancerFromSubnets", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancer")},
		{Action: "elasticloadbalancing:CreateLoadBalancerListeners", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancer")},
		{Action: "elasticloadbalancing:DeleteLoadBalancerListeners", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancer")},
		{Action: "elasticloadbalancing:ModifyLoadBalancerAttributes", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancer, reconcileLBAttributes")},
		{Action: "elasticloadbalancing:ConfigureHealthCheck", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancerHealthCheck")},
		{Action: "elasticloadbalancing:CreateLoadBalancerPolicy", Caller: ccm("aws_loadbalancer.go", "ensureSSLNegotiationPolicy, createProxyProtocolPolicy")},
		{Action: "elasticloadbalancing:SetLoadBalancerPoliciesOfListener", Caller: ccm("aws_loadbalancer.go", "setSSLNegotiationPolicy")},
		{Action: "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer", Caller: ccm("aws_loadbalancer.go", "setBackendPolicies")},
		{Action: "elasticloadbalancing:RegisterInstancesWithLoadBalancer", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancerInstances")},
		{Action: "elasticloadbalancing:DeregisterInstancesFromLoadBalancer", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancerInstances")},
		{Action: "elasticloadbalancing:DeleteLoadBalancer", Caller: ccm("aws.go", "EnsureLoadBalancerDeleted")},
		// Network Load Balancers (service.beta.kubernetes.io/aws-load-balancer-type: nlb).
		{Action: "elasticloadbalancing:CreateListener", Caller: ccm("aws_loadbalancer.go", "createListenerV2")},
		{Action: "elasticloadbalancing:ModifyListener", Caller: ccm("aws_loadbalancer.go", "ensureLoadBalancerv2")},
		{Action: "elasticloadbalancing:DeleteListener", Caller: ccm("aws_loadbalancer.go", "deleteListenerV2")},
		{Action: "elasticloadbalancing:ModifyTargetGroup", Caller: ccm("aws_loadbalancer.go", "ensureTargetGroup")},
	}
	if rel.targetGroupAttributes {
		lbWrites = append(lbWrites, iampolicy.Grant{Action: "elasticloadbalancing:ModifyTargetGroupAttributes", Caller: ccm("aws_loadbalancer.go", "ensureTargetGroupAttributes (target-group-attributes annotation)")})
	}
	lbWrites = append(lbWrites, []iampolicy.Grant{
		{Action: "elasticloadbalancing:DeleteTargetGroup", Caller: ccm("aws.go", "EnsureLoadBalancerDeleted; aws_loadbalancer.go deleteListenerV2")},
		{Action: "elasticloadbalancing:RegisterTargets", Caller: ccm("aws_loadbalancer.go", "ensureTargetGroupTargets")},
		{Action: "elasticloadbalancing:DeregisterTargets", Caller: ccm("aws_loadbalancer.go", "ensureTargetGroupTargets")},
		{Action: "elasticloadbalancing:DeleteLoadBalancer", Caller: ccm("aws.go", "EnsureLoadBalancerDeleted (NLB)")},
		{Action: "elasticloadbalancing:ModifyLoadBalancerAttributes", Caller: ccm("aws_loadbalancer.go", "reconcileLBAttributes (NLB)")},
	}...)
	p.Allow(iampolicy.Tagged("CCMChangesOnlyServiceLoadBalancers", "*", owned, service), lbWrites...)

	if f.CloudRoutes {
		p.Allow(iampolicy.Tagged("CCMRoutesInThisClustersRouteTables", iampolicy.ARNs(partition, "ec2", "route-table"), owned),
			iampolicy.Grant{Action: "ec2:CreateRoute", Caller: ccm("aws_routes.go", "CreateRoute")},
			iampolicy.Grant{Action: "ec2:DeleteRoute", Caller: ccm("aws_routes.go", "DeleteRoute")})
		p.Allow(iampolicy.Tagged("CCMSourceDestCheckOfThisClustersNodes", iampolicy.ARNs(partition, "ec2", "instance"), owned),
			iampolicy.Grant{Action: "ec2:ModifyInstanceAttribute", Caller: ccm("aws_routes.go", "configureInstanceSourceDestCheck")})
	}
}

// AddEBSCSIPermissions adds what the EBS CSI controller calls at
// EBSCSITag, with the chart's defaults and the stack's values
// (addons.EBSCSIValues: k8sTagClusterId, so every volume and snapshot the
// driver makes carries kubernetes.io/cluster/<name>=owned besides its own
// ebs.csi.aws.com/cluster=true; pkg/driver/controller.go CreateVolume,
// CreateSnapshot).
//
// It is the driver's example policy (docs/example-iam-policy.json at
// EBSCSITag) and AWS's AmazonEBSCSIDriverPolicy narrowed to this cluster,
// and copied rather than attached: both let the role attach, detach,
// modify and snapshot every volume in the account and delete any
// volume another cluster's driver made, so a pod with the role could
// snapshot a control-plane node's root volume (etcd's data, the machine
// configuration), restore it and attach it to a node it runs on. Here the
// driver acts only on volumes and snapshots that carry both its tag and
// this cluster's, which no role of the stack but the creator can set
// (ec2:CreateTags only inside CreateVolume and CreateSnapshot), and
// attaches only to this cluster's instances. A volume you bring as a
// static PersistentVolume needs both tags. AWS's newer managed policies
// fit no better: AmazonEBSCSIDriverPolicyV2 limits the driver to volumes
// tagged ebs.csi.aws.com/cluster=true, every cluster's in the account;
// AmazonEBSCSIDriverEKSClusterScopedPolicy keys on EKS's own tags
// (eks:cluster-name), which these nodes do not carry.
//
// Not granted: ec2:CopyVolumes (cloning a claim: EC2 authorizes it on the
// new volume only, the source is a condition key, so it would copy any
// volume in the account; the example policy omits it too),
// ec2:DeleteTags and ec2:CreateTags on existing volumes (ModifyTags, for a
// VolumeAttributesClass with tagSpecification keys; the stack's
// StorageClass has none), ec2:DescribeTags (pkg/plugin only),
// ec2:DescribeInstanceTypes (no caller at EBSCSITag).
func AddEBSCSIPermissions(p *iampolicy.Policy, cluster, partition string) {
	const driverTag = "ebs.csi.aws.com/cluster"
	ours := map[string]string{tagkeys.Cluster(cluster): "owned", driverTag: "true"}
	volumes := iampolicy.ARNs(partition, "ec2", "volume")
	snapshots := iampolicy.ARNs(partition, "ec2", "snapshot")
	p.Allow(iampolicy.Unconditional("NoResourceLevelPermissions"),
		iampolicy.Grant{Action: "ec2:DescribeAvailabilityZones", Caller: ebs("pkg/cloud/cloud.go", "AvailabilityZones, randomAvailabilityZone, DryRun")},
		iampolicy.Grant{Action: "ec2:DescribeInstances", Caller: ebs("pkg/cloud/cloud.go", "describeInstances, getInstancesPatchingBatch")},
		iampolicy.Grant{Action: "ec2:DescribeSnapshots", Caller: ebs("pkg/cloud/cloud.go", "describeSnapshots, listSnapshots")},
		iampolicy.Grant{Action: "ec2:DescribeVolumes", Caller: ebs("pkg/cloud/cloud.go", "describeVolumes")},
		iampolicy.Grant{Action: "ec2:DescribeVolumesModifications", Caller: ebs("pkg/cloud/cloud.go", "getLatestVolumeModification")},
		iampolicy.Grant{Action: "ec2:DescribeVolumeStatus", Caller: ebs("pkg/cloud/cloud.go", "execBatchDescribeVolumeStatus (IsVolumeInitialized)")},
	)
	// Request tags vouch for the new resource only: each create statement
	// names the one resource type it makes, so the tags a call sends never
	// admit its source (a snapshot to restore, a volume to snapshot).
	p.Allow(iampolicy.CreatedWithTags("EBSCSICreatesVolumesTaggedForThisCluster", volumes, ours),
		iampolicy.Grant{Action: "ec2:CreateVolume", Caller: ebs("pkg/cloud/cloud.go", "CreateDisk, createVolumeHelper (TagSpecifications)")})
	p.Allow(iampolicy.CreatedWithTags("EBSCSICreatesSnapshotsTaggedForThisCluster", snapshots, ours),
		iampolicy.Grant{Action: "ec2:CreateSnapshot", Caller: ebs("pkg/cloud/cloud.go", "CreateSnapshot (TagSpecifications)")})
	// The IOPS-limit dry run sends only this tag; without the grant the
	// driver falls back to built-in limits. A real call with it makes an
	// empty volume no grant here can attach, snapshot or delete.
	p.Allow(iampolicy.CreatedWithTags("EBSCSIIOPSLimitDryRun", volumes, map[string]string{"CSIVolumeName": "IopsLimitDryRun"}),
		iampolicy.Grant{Action: "ec2:CreateVolume", Caller: ebs("pkg/cloud/cloud.go", "getVolumeLimits (DryRun)")})
	p.Allow(iampolicy.Scope{Sid: "EBSCSITagsOnlyWhileCreating", Resource: []string{volumes, snapshots},
		Condition: map[string]map[string]any{"StringEquals": {"ec2:CreateAction": []string{"CreateSnapshot", "CreateVolume"}}}},
		iampolicy.Grant{Action: "ec2:CreateTags", Caller: ebs("pkg/cloud/cloud.go", "CreateDisk, CreateSnapshot, getVolumeLimits (TagSpecifications)")})
	p.Allow(iampolicy.Tagged("EBSCSIOnlyTheDriversVolumes", volumes, ours),
		iampolicy.Grant{Action: "ec2:AttachVolume", Caller: ebs("pkg/cloud/cloud.go", "AttachDisk")},
		iampolicy.Grant{Action: "ec2:DetachVolume", Caller: ebs("pkg/cloud/cloud.go", "DetachDisk")},
		iampolicy.Grant{Action: "ec2:ModifyVolume", Caller: ebs("pkg/cloud/cloud.go", "ResizeOrModifyDisk")},
		iampolicy.Grant{Action: "ec2:CreateSnapshot", Caller: ebs("pkg/cloud/cloud.go", "CreateSnapshot (source volume)")},
		iampolicy.Grant{Action: "ec2:DeleteVolume", Caller: ebs("pkg/cloud/cloud.go", "DeleteDisk")},
	)
	p.Allow(iampolicy.Tagged("EBSCSIOnlyTheDriversSnapshots", snapshots, ours),
		iampolicy.Grant{Action: "ec2:CreateVolume", Caller: ebs("pkg/cloud/cloud.go", "CreateDisk (SnapshotId: restore)")},
		iampolicy.Grant{Action: "ec2:DeleteSnapshot", Caller: ebs("pkg/cloud/cloud.go", "DeleteSnapshot")},
		iampolicy.Grant{Action: "ec2:EnableFastSnapshotRestores", Caller: ebs("pkg/cloud/cloud.go", "EnableFastSnapshotRestores (fastSnapshotRestoreAvailabilityZones)")},
	)
	p.Allow(iampolicy.Tagged("EBSCSIAttachesToThisClustersNodes", iampolicy.ARNs(partition, "ec2", "instance"), map[string]string{tagkeys.Cluster(cluster): "owned"}),
		iampolicy.Grant{Action: "ec2:AttachVolume", Caller: ebs("pkg/cloud/cloud.go", "AttachDisk (InstanceId)")},
		iampolicy.Grant{Action: "ec2:DetachVolume", Caller: ebs("pkg/cloud/cloud.go", "DetachDisk (InstanceId)")},
	)
}

// ECRCredentialProviderReleases are the cloud-provider-aws releases the
// siderolabs/ecr-credential-provider extension builds its binary from, by
// Talos minor (CLOUD_PROVIDER_AWS_VERSION, siderolabs/extensions
// container-runtime/vars.yaml:18 @v1.12.11 and @v1.13.9): AddECRPullPermissions'
// grants were read at both, which make the same call.
var ECRCredentialProviderReleases = []string{"v1.35.0", "v1.36.1"}

// AddECRPullPermissions adds what a node running the ECR credential
// provider extension needs to pull images from ECR with its role: the
// kubelet runs the provider, which asks ECR for a registry token with the
// node's credentials (GetAuthorizationToken, on "*": ECR has no resource
// for it), and containerd then pulls with that token, which ECR authorizes
// as the role: each manifest (BatchGetImage) and layer
// (GetDownloadUrlForLayer) on the repository. These are the actions of
// AWS's managed policy for pulling (AmazonEC2ContainerRegistryPullOnly),
// on repositories of every account (a repository policy decides who may
// pull across accounts). Not granted: ecr-public's token (the companion
// configuration matches private registries only, images.MachinePatches)
// and the pull-through cache's upstream imports.
func AddECRPullPermissions(p *iampolicy.Policy, partition string) {
	provider := "kubernetes/cloud-provider-aws cmd/ecr-credential-provider/main.go getPrivateCredsData @" + strings.Join(ECRCredentialProviderReleases, ", @")
	p.Allow(iampolicy.Unconditional("ECRRegistryToken"),
		iampolicy.Grant{Action: "ecr:GetAuthorizationToken", Caller: provider})
	pulls := "containerd's pulls with the provider's token, which ECR authorizes as the node role (AWS managed policy AmazonEC2ContainerRegistryPullOnly)"
	p.Allow(iampolicy.Scope{Sid: "ECRPulls", Resource: "arn:" + partition + ":ecr:*:*:repository/*"},
		iampolicy.Grant{Action: "ecr:BatchGetImage", Caller: pulls + ": image manifests"},
		iampolicy.Grant{Action: "ecr:GetDownloadUrlForLayer", Caller: pulls + ": layers"})
}

// ControlPlanePullsFromECR: the control plane runs the ECR credential
// provider extension (the cluster's image key).
func ControlPlanePullsFromECR(cfg *config.Config) bool {
	cp, _ := cfg.RunsExtension(images.ECRCredentialProvider)
	return cp
}

// WorkersPullFromECR: a pool runs the ECR credential provider extension
// (all pools share the worker role).
func WorkersPullFromECR(cfg *config.Config) bool {
	_, workers := cfg.RunsExtension(images.ECRCredentialProvider)
	return workers
}

// ControlPlanePolicy is the inline policy of control-plane nodes: the
// cloud controller manager's calls (it runs before any pod can, so it
// keeps the node role even with workload identity), plus the EBS CSI
// controller's when that controller takes the node role (ebsCSI: the
// add-on on and workload identity off), ECR pulls when the control plane
// runs the ECR credential provider extension (ecr), then the denies on
// the stack's own security groups. ccmVersion is the cloud controller
// manager image the cluster runs (config.AddonsFor(kubernetesVersion).CCMImage).
func ControlPlanePolicy(cluster, region, ccmVersion string, ebsCSI, ecr bool) iampolicy.Document {
	p := &iampolicy.Policy{}
	partition := iampolicy.Partition(region)
	AddCCMPermissions(p, cluster, partition, CCMFeatures{CloudRoutes: false, Version: ccmVersion})
	if ebsCSI {
		AddEBSCSIPermissions(p, cluster, partition)
	}
	if ecr {
		AddECRPullPermissions(p, partition)
	}
	addGuardPath(p)
	return p.Document()
}

// GuardPathActions are what could cut the etcd guard off the nodes or
// open the stack's own groups: their rules (the guard's tcp/50000 into the
// control plane's group, its own egress, the load balancers' adminCidrs),
// the groups themselves, and their tags (a retag would lift the deny).
var GuardPathActions = []string{
	"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
	"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
	"ec2:ModifySecurityGroupRules", "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
	"ec2:DeleteSecurityGroup", "ec2:CreateTags", "ec2:DeleteTags",
}

// addGuardPath denies the control-plane role (so any pod that reaches
// its instance credentials) changes to the groups tagged tagkeys.Guarded
// (every group the stack makes but the workers', which the CCM opens to
// its load balancers: the control plane's, the guard's, both load
// balancers' and the CI access group) and to control-plane instances'
// attributes (their group set). The allows above already leave these
// out (the CCM tags only what it creates, and modifies no instance); the
// denies hold even if a later grant did not. Talos labels control-plane
// nodes node.kubernetes.io/exclude-from-external-load-balancers (machinery
// v1.12.0 config/contract.go AddExcludeFromExternalLoadBalancer), so the
// CCM never needs their group.
func addGuardPath(p *iampolicy.Policy) {
	guarded := make([]iampolicy.Grant, 0, len(GuardPathActions))
	for _, a := range GuardPathActions {
		guarded = append(guarded, iampolicy.Grant{Action: a, Caller: "denied: the stack's own security groups (tagkeys.Guarded)"})
	}
	p.Deny(iampolicy.Scope{Sid: "GuardPath", Resource: "*",
		Condition: map[string]map[string]any{"StringEquals": {"ec2:ResourceTag/" + tagkeys.Guarded: "true"}}}, guarded...)
	p.Deny(iampolicy.Scope{Sid: "GuardPathNodes", Resource: "*",
		Condition: map[string]map[string]any{"StringEquals": {"ec2:ResourceTag/" + tagkeys.Role: "control-plane"}}},
		iampolicy.Grant{Action: "ec2:ModifyInstanceAttribute", Caller: "denied: control-plane instances' security groups"})
}

// EBSCSIPolicy is the EBS CSI controller's own role's policy (workload
// identity): the same grants, on its service account only.
func EBSCSIPolicy(cluster, region string) iampolicy.Document {
	p := &iampolicy.Policy{}
	AddEBSCSIPermissions(p, cluster, iampolicy.Partition(region))
	return p.Document()
}

// AddAutoscalerPermissions adds what cluster-autoscaler calls at version
// (config.MinorAddons.Autoscaler: one of autoscalerReleases, whose calls
// are the same) for the groups the stack makes: auto-discovery by tag, the
// instance-type list it loads at start (--aws-use-static-instance-list is
// false by default), scaling-activity checks, and the two writes, only on
// groups tagged as this cluster's autoscaled pools (AutoscalerTags; Auto
// Scaling evaluates aws:ResourceTag on the group).
//
// Not granted, though the README's "full features" policy lists them:
// ec2:DescribeLaunchTemplateVersions, ec2:DescribeImages,
// ec2:GetInstanceTypesFromInstanceRequirements and
// autoscaling:DescribeLaunchConfigurations are called only for groups
// without instance-type overrides (aws_wrapper.go getInstanceTypesForAsgs;
// every pool has at least one: workerPools[].instanceTypes), and
// DescribeLaunchTemplateVersions would read the launch templates' user
// data, which holds the machine secrets; eks:DescribeNodegroup is for EKS
// managed node groups; autoscaling:DescribeAutoScalingInstances has no
// caller in any release read, nor autoscaling:DescribeTags: auto-discovery
// filters DescribeAutoScalingGroups by tag (aws_wrapper.go
// getAutoscalingGroupsByTags) from cluster-autoscaler-1.24.1 on, and
// 1.24.0 was the last to call DescribeTags.
func AddAutoscalerPermissions(p *iampolicy.Policy, cluster, version string) {
	if !slices.Contains(autoscalerReleases, version) {
		// As for AddCCMPermissions: TestCallersAtPinnedVersions holds
		// every offered minor's image to autoscalerReleases.
		panic(fmt.Sprintf("compute: cluster-autoscaler's grants were not read at %q (autoscalerReleases)", version))
	}
	autoscaler := func(file, fn string) string {
		return "kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/" + file + " " + fn + " @cluster-autoscaler-" + strings.TrimPrefix(version, "v")
	}
	p.Allow(iampolicy.Unconditional("Discover"),
		iampolicy.Grant{Action: "autoscaling:DescribeAutoScalingGroups", Caller: autoscaler("aws_wrapper.go", "getAutoscalingGroupsByTags, getAutoscalingGroupsByNames")},
		iampolicy.Grant{Action: "autoscaling:DescribeScalingActivities", Caller: autoscaler("auto_scaling_groups.go", "isNodeGroupAvailable")},
		iampolicy.Grant{Action: "ec2:DescribeInstanceTypes", Caller: autoscaler("aws_util.go", "GenerateEC2InstanceTypes (aws_cloud_provider.go BuildAWS)")},
	)
	p.Allow(iampolicy.Tagged("ScaleOnlyThisClustersPools", "*", map[string]string{
		"k8s.io/cluster-autoscaler/" + cluster: "owned",
		"k8s.io/cluster-autoscaler/enabled":    "true",
	}),
		iampolicy.Grant{Action: "autoscaling:SetDesiredCapacity", Caller: autoscaler("auto_scaling_groups.go", "setAsgSizeNoLock")},
		iampolicy.Grant{Action: "autoscaling:TerminateInstanceInAutoScalingGroup", Caller: autoscaler("auto_scaling_groups.go", "DeleteInstances")},
	)
}

// AutoscalerPolicy is the cluster autoscaler's role's policy, for the
// image version that runs (config.MinorAddons.Autoscaler).
func AutoscalerPolicy(cluster, version string) iampolicy.Document {
	p := &iampolicy.Policy{}
	AddAutoscalerPermissions(p, cluster, version)
	return p.Document()
}

// WorkerPolicy is the inline policy of worker nodes. Nothing on a worker
// calls AWS with the node role: Talos' AWS platform reads IMDS only
// (siderolabs/talos internal/app/machined/pkg/runtime/v1alpha1/platform/aws/aws.go,
// imds.NewFromConfig its one client, @v1.12.11), Cilium uses Kubernetes
// IPAM and VXLAN tunnels, not AWS ENIs (addons.CiliumValues), and the EBS
// CSI node plugin reads its metadata from the Kubernetes API. So the role
// may do nothing, and a Deny keeps it so whatever is attached to it later.
// The one exception is a kubelet image credential provider, configured
// only by the ECR credential provider extension (ecr: a pool runs it;
// images.MachinePatches): then the role may pull from ECR
// (AddECRPullPermissions) and the Deny covers everything else.
func WorkerPolicy(region string, ecr bool) iampolicy.Document {
	if !ecr {
		return iampolicy.New(iampolicy.Statement{Sid: "NothingOnAWorkerCallsAWS", Effect: "Deny", Action: "*", Resource: "*"})
	}
	p := &iampolicy.Policy{}
	AddECRPullPermissions(p, iampolicy.Partition(region))
	d := p.Document()
	var pulls []string
	for _, s := range d.Statement {
		pulls = append(pulls, s.Actions()...)
	}
	d.Statement = append(d.Statement, iampolicy.Statement{Sid: "NothingElseOnAWorkerCallsAWS", Effect: "Deny", NotAction: pulls, Resource: "*"})
	return d
}
