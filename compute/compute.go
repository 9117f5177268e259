// Package compute builds the nodes: Talos AMIs, IAM, node security groups,
// launch templates and the control-plane and worker Auto Scaling Groups.
package compute

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/secret"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
	"github.com/talos-aws/talos-aws/internal/tags"
)

// TalosAMIOwner is Sidero Labs' AWS account, which publishes the official Talos AMIs.
const TalosAMIOwner = "540036508848"

// IMDS hop limits. No pod may read a node's credentials: 1, which Talos
// itself and the host-network cloud controller manager need and no pod
// (one hop behind the node) gets past. Without workload identity the EBS
// CSI controller and the termination handler, pods on control-plane nodes,
// take the control-plane role from IMDS: 2 there (ControlPlaneHopLimit).
const (
	ControlPlaneIMDSHopLimit = 2
	WorkerIMDSHopLimit       = 1
)

// ControlPlaneHopLimit is the control-plane nodes' hop limit.
func ControlPlaneHopLimit(c *config.Config) int {
	if c.WorkloadIdentity {
		return WorkerIMDSHopLimit
	}
	return ControlPlaneIMDSHopLimit
}

// rootDevice is the Talos AMI's root device name.
const rootDevice = "/dev/xvda"

// AMIName is the exact name Sidero Labs publishes a Talos AMI under
// (hack/cloud-image-uploader: talos-<tag>-<region>-<arch>).
func AMIName(talosVersion, region string, arch config.Arch) string {
	return fmt.Sprintf("talos-%s-%s-%s", talosVersion, region, arch)
}

// ec2Arch maps Talos' architecture names to EC2's.
func ec2Arch(a config.Arch) string {
	if a == config.ArchARM64 {
		return "arm64"
	}
	return "x86_64"
}

// Args configure the compute stage's nodes: roles, security groups, launch
// templates and the control plane's degraded alarm (New).
type Args struct {
	Config *config.Config
	// Tags go on every resource (cluster tag included).
	Tags map[string]string

	VPCID                     pulumi.StringInput
	InternalLBSecurityGroupID pulumi.StringInput
	PublicLBSecurityGroupID   pulumi.StringInput

	// Raw Talos machine configurations (secrets), by role: config.ControlPlaneKey
	// and each worker pool's name.
	UserData map[string]pulumi.StringOutput

	// AMIs, by architecture, as LookupAMIs found them before any resource
	// was registered; looked up here when nil. Roles without an image boot
	// them.
	AMIs map[config.Arch]string
	// ImageAMIs are the AMIs of the roles that run an image key (built by
	// `up`, or found; unknown in a preview before the build), by
	// config.ControlPlaneKey and pool name.
	ImageAMIs map[string]pulumi.StringInput
}

// GroupsArgs configure the Auto Scaling Groups (Compute.Groups), which come
// after what they need: the network, and the etcd guard's pre-change
// snapshot.
type GroupsArgs struct {
	PrivateSubnetIDs   pulumi.StringArrayInput
	ControlPlaneTGARNs pulumi.StringArrayInput
	IngressTGARN       pulumi.StringInput
	// PrivateEgress are what nodes need before they boot: the private route
	// tables to the NAT gateways and their associations. Without the order,
	// nodes can launch with no way to pull images or reach discovery.
	PrivateEgress []pulumi.Resource
	// ControlPlaneAfter are what the control-plane group waits for (the etcd
	// guard's pre-change snapshot).
	ControlPlaneAfter []pulumi.Resource
	// WaitControlPlane, when set, holds the worker pools until the control
	// plane has rolled (in `pulumi up` only), so a kubelet is never newer
	// than the API server.
	WaitControlPlane ControlPlaneWaiter
}

// Compute is the compute stage's component resource.
type Compute struct {
	pulumi.ResourceState

	// AlarmTopicARN is the SNS topic the stack's alarms notify.
	AlarmTopicARN pulumi.StringOutput
	// ControlPlaneRolled resolves (to the control-plane group) once the
	// control plane has rolled, in `up` (Groups; gateOnControlPlane).
	ControlPlaneRolled pulumi.ResourceArrayOutput

	AMIs                        map[config.Arch]string
	ControlPlaneSecurityGroupID pulumi.StringOutput
	WorkerSecurityGroupID       pulumi.StringOutput
	ControlPlaneRoleARN         pulumi.StringOutput
	WorkerRoleARN               pulumi.StringOutput
	ControlPlaneASG             *autoscaling.Group
	ControlPlaneASGName         pulumi.StringOutput
	WorkerASGNames              pulumi.StringMapOutput
	ControlPlaneLaunchTemplate  *ec2.LaunchTemplate
	WorkerLaunchTemplateIDs     pulumi.StringMapOutput

	// For stages that attach to the nodes (lifecycle hooks, scoped
	// permissions): the control-plane role's name, and the worker pools'
	// groups by pool name.
	ControlPlaneRoleName pulumi.StringOutput
	WorkerASGs           map[string]*autoscaling.Group
	EtcdAlarmName        pulumi.StringOutput

	// What New made for Groups.
	cfg       *config.Config
	name      string
	tagged    func(string, map[string]string) pulumi.StringMap
	workerLTs map[string]*ec2.LaunchTemplate
}

// New creates the compute stage's nodes: roles, security groups, the launch
// templates and the etcd degraded alarm. Groups then creates the Auto
// Scaling Groups, once what they wait for exists.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Compute, error) {
	cfg := args.Config
	c := &Compute{AMIs: map[config.Arch]string{}, WorkerASGs: map[string]*autoscaling.Group{},
		cfg: cfg, name: name, workerLTs: map[string]*ec2.LaunchTemplate{}}
	if err := ctx.RegisterComponentResource("talos-aws:compute:Compute", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	tagged := func(n string, extra map[string]string) pulumi.StringMap {
		return tags.For(args.Tags, cfg.ClusterName+"-"+n, extra)
	}
	c.tagged = tagged

	if args.AMIs != nil {
		c.AMIs = args.AMIs
	} else {
		amis, errs := LookupAMIs(ctx, cfg, parent)
		if err := errs.Err(); err != nil {
			return nil, err
		}
		c.AMIs = amis
	}

	// The CCM's grants follow the release of the cluster's minor, the image
	// the add-on runs unless addons.awsCloudControllerManager.imageTag says
	// otherwise.
	ccmVersion := config.AddonsFor(cfg.KubernetesVersion).CCMImage
	cpProfile, cpRole, err := nodeRole(ctx, name+"-cp", ControlPlanePolicy(cfg.ClusterName, cfg.Region, ccmVersion, cfg.Addons.EBSCSI.Enabled && !cfg.WorkloadIdentity, ControlPlanePullsFromECR(cfg)), tagged("control-plane", nil), parent)
	if err != nil {
		return nil, err
	}
	wProfile, wRole, err := nodeRole(ctx, name+"-worker", WorkerPolicy(cfg.Region, WorkersPullFromECR(cfg)), tagged("worker", nil), parent)
	if err != nil {
		return nil, err
	}
	c.ControlPlaneRoleARN, c.ControlPlaneRoleName, c.WorkerRoleARN = cpRole.Arn, cpRole.Name, wRole.Arn

	sgs, err := nodeSecurityGroups(ctx, name, args, tagged, parent)
	if err != nil {
		return nil, err
	}
	c.ControlPlaneSecurityGroupID = sgs[ControlPlane].ID().ToStringOutput()
	c.WorkerSecurityGroupID = sgs[Workers].ID().ToStringOutput()

	cpUserData, ok := args.UserData[config.ControlPlaneKey]
	if !ok {
		return nil, fmt.Errorf("compute: no user data for the control plane")
	}
	// A role's AMI: its image's when it runs one, else the official AMI
	// of its architecture, a plain string as it always was.
	ami := func(key string, arch config.Arch) pulumi.StringInput {
		if a, ok := args.ImageAMIs[key]; ok {
			return a
		}
		return pulumi.String(c.AMIs[arch])
	}
	cp := cfg.ControlPlane
	c.ControlPlaneLaunchTemplate, err = launchTemplate(ctx, name+"-cp", ltSpec{
		ami: ami(config.ControlPlaneKey, cp.Arch), instanceType: cp.InstanceType, profileARN: cpProfile.Arn, sgID: c.ControlPlaneSecurityGroupID,
		hopLimit: ControlPlaneHopLimit(cfg), volume: cp.RootVolume, userData: cpUserData,
		tags: tagged("control-plane", map[string]string{tagkeys.Role: "control-plane"}),
	}, parent)
	if err != nil {
		return nil, err
	}
	topic, err := AlarmTopic(ctx, name, cfg, tagged("alarms", nil), parent)
	if err != nil {
		return nil, err
	}
	c.AlarmTopicARN = topic
	alarm, err := etcdAlarm(ctx, name, cfg, topic, tagged("etcd-degraded", nil), parent)
	if err != nil {
		return nil, err
	}
	c.EtcdAlarmName = alarm.Name
	for _, pool := range cfg.WorkerPools {
		ud, ok := args.UserData[pool.Name]
		if !ok {
			return nil, fmt.Errorf("compute: no user data for worker pool %q", pool.Name)
		}
		lt, err := launchTemplate(ctx, name+"-"+pool.Name, ltSpec{
			ami: ami(pool.Name, pool.Arch), instanceType: pool.InstanceTypes[0], profileARN: wProfile.Arn, sgID: c.WorkerSecurityGroupID,
			hopLimit: WorkerIMDSHopLimit, volume: pool.RootVolume, userData: ud,
			tags: tagged("worker-"+pool.Name, map[string]string{tagkeys.Role: "worker", tagkeys.Pool: pool.Name}),
		}, parent)
		if err != nil {
			return nil, err
		}
		c.workerLTs[pool.Name] = lt
	}
	return c, nil
}

// Groups creates the control-plane and worker Auto Scaling Groups and
// completes the component.
func (c *Compute) Groups(ctx *pulumi.Context, args GroupsArgs) error {
	cfg, name, tagged, parent := c.cfg, c.name, c.tagged, pulumi.Parent(c)
	if c.ControlPlaneLaunchTemplate == nil {
		return fmt.Errorf("compute: Groups before New")
	}
	cp := cfg.ControlPlane
	asgDeps := append(append([]pulumi.Resource(nil), args.PrivateEgress...), args.ControlPlaneAfter...)
	// Safe to replace only with the etcd guard (package etcdguard) on its
	// lifecycle hooks: every replacement leaves a stale member otherwise.
	// EC2 health checks only: nothing a Talos node serves is healthy before
	// bootstrap and the CNI, and ELB checks would replace every node during
	// an API outage. No instance maintenance policy: a health-check
	// replacement terminates and launches together ("terminates the
	// instance while it launches a new replacement", Auto Scaling user
	// guide), and the launch waits at its hook until the dead member is
	// removed. Scale-in protection on every node: a lowered count, or an
	// AZ rebalance (which launches first, then would terminate), takes
	// only the one node the guard unprotects, one at a time, through the
	// terminate hook; that is also what brings the control plane back to
	// one node per zone after a zone outage. maxSize one over: the refresh
	// and the rebalance launch before they terminate.
	var err error
	c.ControlPlaneASG, err = autoscaling.NewGroup(ctx, name+"-cp", &autoscaling.GroupArgs{
		MinSize:                pulumi.Int(cp.Count),
		MaxSize:                pulumi.Int(cp.Count + 1),
		DesiredCapacity:        pulumi.Int(cp.Count),
		VpcZoneIdentifiers:     args.PrivateSubnetIDs,
		TargetGroupArns:        args.ControlPlaneTGARNs,
		HealthCheckType:        pulumi.String("EC2"),
		HealthCheckGracePeriod: pulumi.Int(300),
		ProtectFromScaleIn:     pulumi.Bool(true),
		InstanceRefresh:        controlPlaneRefresh(cp.Count, c.EtcdAlarmName),
		LaunchTemplate: &autoscaling.GroupLaunchTemplateArgs{
			Id:      c.ControlPlaneLaunchTemplate.ID(),
			Version: ltVersion(c.ControlPlaneLaunchTemplate),
		},
		Tags: asgTags(tagged("control-plane", nil), nil),
	}, parent, pulumi.DependsOn(asgDeps))
	if err != nil {
		return err
	}
	c.ControlPlaneASGName = c.ControlPlaneASG.Name

	workerArgs := args
	workerArgs.PrivateSubnetIDs = gateOnControlPlane(ctx, c.ControlPlaneASG, args.PrivateSubnetIDs, args.WaitControlPlane)
	// The same gate, for what else must wait for the roll (the pod identity
	// webhook: its tokens must come from API servers of one issuer).
	cpg := c.ControlPlaneASG
	c.ControlPlaneRolled = workerArgs.PrivateSubnetIDs.ToStringArrayOutput().ApplyT(func([]string) []pulumi.Resource {
		return []pulumi.Resource{cpg}
	}).(pulumi.ResourceArrayOutput)
	workerASGs := pulumi.StringMap{}
	workerLTs := pulumi.StringMap{}
	for _, pool := range cfg.WorkerPools {
		lt := c.workerLTs[pool.Name]
		asg, err := workerGroup(ctx, name+"-"+pool.Name, cfg.ClusterName, pool, lt, workerArgs, tagged, parent)
		if err != nil {
			return err
		}
		workerASGs[pool.Name] = asg.Name
		c.WorkerASGs[pool.Name] = asg
		workerLTs[pool.Name] = lt.ID().ToStringOutput()
	}
	c.WorkerASGNames = workerASGs.ToStringMapOutput()
	c.WorkerLaunchTemplateIDs = workerLTs.ToStringMapOutput()

	return ctx.RegisterResourceOutputs(c, pulumi.Map{
		"controlPlaneSecurityGroupId": c.ControlPlaneSecurityGroupID,
		"workerSecurityGroupId":       c.WorkerSecurityGroupID,
		"controlPlaneRoleArn":         c.ControlPlaneRoleARN,
		"workerRoleArn":               c.WorkerRoleARN,
		"controlPlaneAsgName":         c.ControlPlaneASGName,
		"workerAsgNames":              c.WorkerASGNames,
	})
}

// AMIOverrideKey is the config key that replaces the official AMI of an arch.
func AMIOverrideKey(arch config.Arch) string {
	if arch == config.ArchARM64 {
		return "amiIdArm64"
	}
	return "amiIdAmd64"
}

// LookupAMIs finds the AMI of every architecture in use: the override when
// set, otherwise Sidero Labs' official image. Every missing image is
// reported, naming talosVersion, the architecture, the region and the
// override key. It runs before any resource is registered.
func LookupAMIs(ctx *pulumi.Context, cfg *config.Config, opts ...pulumi.InvokeOption) (map[config.Arch]string, config.ErrorList) {
	amis := map[config.Arch]string{}
	var errs config.ErrorList
	for _, arch := range cfg.Arches() {
		id, err := lookupAMI(ctx, cfg, arch, opts...)
		if err != nil {
			errs.Invalid("talosVersion", cfg.TalosVersion, err.Error())
			continue
		}
		amis[arch] = id
	}
	return amis, errs
}

func lookupAMI(ctx *pulumi.Context, cfg *config.Config, arch config.Arch, opts ...pulumi.InvokeOption) (string, error) {
	override := map[config.Arch]string{config.ArchAMD64: cfg.AMIAMD64, config.ArchARM64: cfg.AMIARM64}[arch]
	if override != "" {
		return override, nil
	}
	name := AMIName(cfg.TalosVersion, cfg.Region, arch)
	ami, err := ec2.LookupAmi(ctx, &ec2.LookupAmiArgs{
		Owners:     []string{TalosAMIOwner},
		MostRecent: pulumi.BoolRef(true),
		Filters: []ec2.GetAmiFilter{
			{Name: "name", Values: []string{name}},
			{Name: "architecture", Values: []string{ec2Arch(arch)}},
		},
	}, opts...)
	if err != nil {
		return "", fmt.Errorf("no official Talos %s AMI for %s in region %s (image %q, owner %s, Sidero Labs): pick a published talosVersion, another region, or set %s to your own %s AMI (%v)",
			cfg.TalosVersion, arch, cfg.Region, name, TalosAMIOwner, AMIOverrideKey(arch), arch, err)
	}
	return ami.Id, nil
}

func nodeRole(ctx *pulumi.Context, name string, policy iampolicy.Document, tags pulumi.StringMap, parent pulumi.ResourceOption) (*iam.InstanceProfile, *iam.Role, error) {
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(AssumeRoleEC2().JSON()),
		Tags:             tags,
	}, parent)
	if err != nil {
		return nil, nil, err
	}
	if _, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: pulumi.String(policy.JSON()),
	}, parent); err != nil {
		return nil, nil, err
	}
	profile, err := iam.NewInstanceProfile(ctx, name, &iam.InstanceProfileArgs{
		Role: role.Name,
		Tags: tags,
	}, parent)
	return profile, role, err
}

func nodeSecurityGroups(ctx *pulumi.Context, name string, args Args, tagged func(string, map[string]string) pulumi.StringMap, parent pulumi.ResourceOption) (map[Peer]*ec2.SecurityGroup, error) {
	sgs := map[Peer]*ec2.SecurityGroup{}
	for _, p := range []Peer{ControlPlane, Workers} {
		var extra map[string]string
		if p == ControlPlane {
			extra = map[string]string{tagkeys.Guarded: "true"} // ControlPlanePolicy's GuardPath
		}
		sg, err := ec2.NewSecurityGroup(ctx, fmt.Sprintf("%s-%s", name, p), &ec2.SecurityGroupArgs{
			VpcId:       args.VPCID,
			Description: pulumi.String("talos-aws " + string(p) + " nodes"),
			Tags:        tagged(string(p), extra),
		}, parent)
		if err != nil {
			return nil, err
		}
		sgs[p] = sg
		if _, err := ec2.NewSecurityGroupRule(ctx, fmt.Sprintf("%s-%s-egress", name, p), &ec2.SecurityGroupRuleArgs{
			SecurityGroupId: sg.ID(),
			Type:            pulumi.String("egress"),
			Protocol:        pulumi.String("-1"),
			FromPort:        pulumi.Int(0),
			ToPort:          pulumi.Int(0),
			CidrBlocks:      pulumi.StringArray{pulumi.String("0.0.0.0/0")},
			Description:     pulumi.String("image pulls, AWS APIs, Talos discovery, NTP"),
		}, parent); err != nil {
			return nil, err
		}
	}
	source := map[Peer]pulumi.StringInput{
		ControlPlane: sgs[ControlPlane].ID(),
		Workers:      sgs[Workers].ID(),
		InternalLB:   args.InternalLBSecurityGroupID,
		PublicLB:     args.PublicLBSecurityGroupID,
	}
	for _, r := range ActiveRules(Settings{Hubble: args.Config.Addons.Cilium.Hubble, PrivateAPI: args.Config.PrivateAPI(), PrivateIngress: args.Config.PrivateIngress()}) {
		if _, err := ec2.NewSecurityGroupRule(ctx, fmt.Sprintf("%s-%s-from-%s-%s-%s", name, r.To, r.From, r.Proto, r.Ports()), &ec2.SecurityGroupRuleArgs{
			SecurityGroupId:       sgs[r.To].ID(),
			Type:                  pulumi.String("ingress"),
			Protocol:              pulumi.String(r.Proto),
			FromPort:              pulumi.Int(r.FromPort),
			ToPort:                pulumi.Int(r.ToPort),
			SourceSecurityGroupId: source[r.From],
			Description:           pulumi.String(r.Why),
		}, parent); err != nil {
			return nil, err
		}
	}
	return sgs, nil
}

type ltSpec struct {
	ami          pulumi.StringInput
	instanceType string
	profileARN   pulumi.StringInput
	sgID         pulumi.StringInput
	hopLimit     int
	volume       config.RootVolume
	userData     pulumi.StringOutput
	tags         pulumi.StringMap
}

func launchTemplate(ctx *pulumi.Context, name string, s ltSpec, parent pulumi.ResourceOption) (*ec2.LaunchTemplate, error) {
	ebs := &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
		VolumeSize:          pulumi.Int(s.volume.SizeGiB),
		VolumeType:          pulumi.String(s.volume.Type),
		Encrypted:           pulumi.String("true"),
		DeleteOnTermination: pulumi.String("true"),
	}
	if s.volume.IOPS > 0 {
		ebs.Iops = pulumi.Int(s.volume.IOPS)
	}
	if s.volume.Throughput > 0 {
		ebs.Throughput = pulumi.Int(s.volume.Throughput)
	}
	// EC2 wants user data base64-encoded; the 16 KiB limit applies to the raw bytes.
	userData := s.userData.ApplyT(func(raw string) string {
		return base64.StdEncoding.EncodeToString([]byte(raw))
	}).(pulumi.StringOutput)
	return ec2.NewLaunchTemplate(ctx, name, &ec2.LaunchTemplateArgs{
		ImageId:              s.ami,
		InstanceType:         pulumi.String(s.instanceType),
		IamInstanceProfile:   &ec2.LaunchTemplateIamInstanceProfileArgs{Arn: s.profileARN},
		UpdateDefaultVersion: pulumi.Bool(true),
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(s.hopLimit),
			// Off: tag keys containing '/' (kubernetes.io/cluster/...) make
			// launches fail when tags are exposed in instance metadata.
			InstanceMetadataTags: pulumi.String("disabled"),
		},
		NetworkInterfaces: ec2.LaunchTemplateNetworkInterfaceArray{&ec2.LaunchTemplateNetworkInterfaceArgs{
			DeviceIndex:              pulumi.Int(0),
			AssociatePublicIpAddress: pulumi.String("false"),
			DeleteOnTermination:      pulumi.String("true"),
			SecurityGroups:           pulumi.StringArray{s.sgID},
		}},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{&ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String(rootDevice),
			Ebs:        ebs,
		}},
		UserData: secret.String(userData),
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: s.tags},
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: s.tags},
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("network-interface"), Tags: s.tags},
		},
		Tags: s.tags,
	}, parent)
}

func ltVersion(lt *ec2.LaunchTemplate) pulumi.StringOutput {
	return lt.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput)
}

// asgTags turns tags into ASG tags that are not propagated to instances
// (the launch template tags instances and volumes itself).
func asgTags(base pulumi.StringMap, extra map[string]string) autoscaling.GroupTagArray {
	keys := make([]string, 0, len(base)+len(extra))
	all := map[string]pulumi.StringInput{}
	for k, v := range base {
		all[k] = v
	}
	for k, v := range extra {
		all[k] = pulumi.String(v)
	}
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(autoscaling.GroupTagArray, 0, len(keys))
	for _, k := range keys {
		out = append(out, &autoscaling.GroupTagArgs{Key: pulumi.String(k), Value: all[k], PropagateAtLaunch: pulumi.Bool(false)})
	}
	return out
}

// AutoscalerTags are the cluster-autoscaler discovery and node-template tags
// of a pool, so it can scale the pool from zero knowing labels and taints.
func AutoscalerTags(cluster string, pool config.WorkerPool) map[string]string {
	t := map[string]string{
		"k8s.io/cluster-autoscaler/enabled":                                 "true",
		"k8s.io/cluster-autoscaler/" + cluster:                              "owned",
		"k8s.io/cluster-autoscaler/node-template/label/" + config.PoolLabel: pool.Name,
	}
	for k, v := range pool.Labels {
		t["k8s.io/cluster-autoscaler/node-template/label/"+k] = v
	}
	for _, taint := range pool.Taints {
		t["k8s.io/cluster-autoscaler/node-template/taint/"+taint.Key] = taint.ValueEffect()
	}
	return t
}

func workerGroup(ctx *pulumi.Context, name, cluster string, pool config.WorkerPool, lt *ec2.LaunchTemplate, args GroupsArgs,
	tagged func(string, map[string]string) pulumi.StringMap, parent pulumi.ResourceOption) (*autoscaling.Group, error) {
	overrides := autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArray{}
	for _, it := range pool.InstanceTypes {
		overrides = append(overrides, &autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs{InstanceType: pulumi.String(it)})
	}
	onDemand := 100
	if pool.Spot {
		onDemand = 0
	}
	opts := []pulumi.ResourceOption{parent, pulumi.DependsOn(args.PrivateEgress)}
	if pool.Autoscaled {
		// A cluster autoscaler owns desiredCapacity after creation.
		opts = append(opts, pulumi.IgnoreChanges([]string{"desiredCapacity"}))
	}
	return autoscaling.NewGroup(ctx, name, &autoscaling.GroupArgs{
		MinSize:                pulumi.Int(pool.MinSize),
		MaxSize:                pulumi.Int(pool.MaxSize),
		DesiredCapacity:        pulumi.Int(pool.DesiredCapacity),
		VpcZoneIdentifiers:     args.PrivateSubnetIDs,
		TargetGroupArns:        pulumi.StringArray{args.IngressTGARN},
		HealthCheckType:        pulumi.String("EC2"),
		HealthCheckGracePeriod: pulumi.Int(300),
		CapacityRebalance:      pulumi.Bool(pool.Spot),
		MixedInstancesPolicy: &autoscaling.GroupMixedInstancesPolicyArgs{
			InstancesDistribution: &autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs{
				OnDemandBaseCapacity:                pulumi.Int(0),
				OnDemandPercentageAboveBaseCapacity: pulumi.Int(onDemand),
				SpotAllocationStrategy:              pulumi.String("price-capacity-optimized"),
			},
			LaunchTemplate: &autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs{
				LaunchTemplateSpecification: &autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs{
					LaunchTemplateId: lt.ID(),
					Version:          ltVersion(lt),
				},
				Overrides: overrides,
			},
		},
		// Workers are cattle: a new launch template version rolls the pool,
		// launching replacements before terminating old nodes.
		InstanceRefresh: &autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: &autoscaling.GroupInstanceRefreshPreferencesArgs{
				MinHealthyPercentage: pulumi.Int(100),
				MaxHealthyPercentage: pulumi.Int(200),
				InstanceWarmup:       pulumi.String("300"),
			},
		},
		Tags: asgTags(tagged("worker-"+pool.Name, nil), AutoscalerTags(cluster, pool)),
	}, opts...)
}
