package network

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/ports"
)

// The jump host (jumpHost): the smallest Graviton instance, on the latest
// Amazon Linux 2023, which ships the SSM agent. The launch template names
// the image by AWS's public parameter (EC2 resolves "resolve:ssm:" at each
// launch, RequestLaunchTemplateData.ImageId), so the template never
// changes and a re-run is a no-op, while a replaced jump host boots a
// patched image.
const (
	JumpHostInstanceType = "t4g.nano"
	JumpHostImage        = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
)

// JumpHostPorts are what the jump host forwards to the internal load
// balancer: the Kubernetes API and the Talos API.
var JumpHostPorts = []int{ports.KubeAPI, ports.TalosAPI}

// JumpHostPolicy is the jump host role's only policy: what the SSM agent
// needs for Session Manager, as the AWS managed policy
// AWSCloud9SSMInstanceProfile (v1) grants it, with the heartbeat held to
// this region's instances. Nothing else: no Run Command (ec2messages), no
// parameters, no S3, no other AWS API.
func JumpHostPolicy(region string) iampolicy.Document {
	const src = "AWS managed policy AWSCloud9SSMInstanceProfile v1 (the SSM agent's Session Manager channels)"
	var p iampolicy.Policy
	p.Allow(iampolicy.Scope{Sid: "AgentHeartbeatForThisRegionsInstances", Resource: fmt.Sprintf("arn:%s:ec2:%s:*:instance/*", iampolicy.Partition(region), region)},
		iampolicy.Grant{Action: "ssm:UpdateInstanceInformation", Caller: src})
	p.Allow(iampolicy.Unconditional("SessionChannelsHaveNoResourceLevel"),
		iampolicy.Grant{Action: "ssmmessages:CreateControlChannel", Caller: src},
		iampolicy.Grant{Action: "ssmmessages:CreateDataChannel", Caller: src},
		iampolicy.Grant{Action: "ssmmessages:OpenControlChannel", Caller: src},
		iampolicy.Grant{Action: "ssmmessages:OpenDataChannel", Caller: src})
	return p.Document()
}

// JumpHostRules are the jump host's security-group rules: no ingress at
// all (Session Manager's agent dials out), HTTPS out for the SSM
// endpoints (through NAT, or the VPC endpoints of an account without
// one), and the forwarded ports to the private subnets, where the
// internal load balancer's interfaces are.
func JumpHostRules(privateCIDRs []string) []lbRule {
	rules := []lbRule{{"ssm-out", "egress", ports.HTTPS, []string{"0.0.0.0/0"}}}
	for _, p := range JumpHostPorts {
		rules = append(rules, lbRule{"forward-" + strconv.Itoa(p) + "-out", "egress", p, privateCIDRs})
	}
	return rules
}

// JumpHostCommands are the exact commands that forward this machine's
// ports to the internal load balancer through the jump host, and the
// hosts entry that makes the load balancer's name (the one in the
// certificates, the kubeconfig and the talosconfig) resolve to them.
func JumpHostCommands(region, instanceID, internalHost string) []string {
	var out []string
	for _, p := range JumpHostPorts {
		out = append(out, fmt.Sprintf("aws ssm start-session --region %s --target %s --document-name AWS-StartPortForwardingSessionToRemoteHost "+
			`--parameters '{"host":["%s"],"portNumber":["%d"],"localPortNumber":["%d"]}'`, region, instanceID, internalHost, p, p))
	}
	return append(out, fmt.Sprintf("echo '127.0.0.1 %s' | sudo tee -a /etc/hosts", internalHost))
}

// newJumpHost creates the jump host in the first private subnet, and lets
// its group through the internal load balancer's group on the forwarded
// ports (no adminCidrs entry needed for it).
func newJumpHost(ctx *pulumi.Context, name string, args Args, v *vpcParts, lbs *loadBalancers, tag tagger, parent pulumi.ResourceOption) (*ec2.Instance, error) {
	res := name + "-jump"
	role, err := iam.NewRole(ctx, res, &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(iampolicy.AssumedBy("ec2.amazonaws.com").JSON()),
		Tags:             tag("jump", nil),
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicy(ctx, res, &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: pulumi.String(JumpHostPolicy(args.Region).JSON()),
	}, parent); err != nil {
		return nil, err
	}
	profile, err := iam.NewInstanceProfile(ctx, res, &iam.InstanceProfileArgs{Role: role.Name, Tags: tag("jump", nil)}, parent)
	if err != nil {
		return nil, err
	}
	sg, err := newLBSecurityGroup(ctx, res, "jump", "SSM jump host to the internal load balancer", v.ID(), JumpHostRules(v.privateCIDRs), tag, parent)
	if err != nil {
		return nil, err
	}
	for _, p := range JumpHostPorts {
		if _, err := ec2.NewSecurityGroupRule(ctx, fmt.Sprintf("%s-int-lb-from-jump-%d", name, p), &ec2.SecurityGroupRuleArgs{
			SecurityGroupId:       lbs.internalSG.ID(),
			Type:                  pulumi.String("ingress"),
			Protocol:              pulumi.String("tcp"),
			FromPort:              pulumi.Int(p),
			ToPort:                pulumi.Int(p),
			SourceSecurityGroupId: sg.ID(),
			Description:           pulumi.String("jump host " + strconv.Itoa(p)),
		}, parent); err != nil {
			return nil, err
		}
	}
	lt, err := ec2.NewLaunchTemplate(ctx, res, &ec2.LaunchTemplateArgs{
		Description:        pulumi.String("talos-aws SSM jump host"),
		ImageId:            pulumi.String(JumpHostImage),
		InstanceType:       pulumi.String(JumpHostInstanceType),
		IamInstanceProfile: &ec2.LaunchTemplateIamInstanceProfileArgs{Arn: profile.Arn},
		// IMDSv2 only, one hop: nothing on it but the agent needs the
		// role's credentials.
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		// Encrypted like every root volume of the stack. No size: the
		// image's own. Block devices live here, not on the instance: the
		// provider would look the root device up by the template's image,
		// which is a parameter name, not an AMI ID.
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{&ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeType:          pulumi.String("gp3"),
				Encrypted:           pulumi.String("true"),
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: tag("jump", nil)},
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: tag("jump", nil)},
		},
		Tags: tag("jump", nil),
	}, parent)
	if err != nil {
		return nil, err
	}
	// A new template version (a changed profile or tags, say) replaces the
	// instance: aws_instance's CustomizeDiff forces a new one when the
	// version differs from the one it was launched with. After the NAT
	// routes, so its agent registers as soon as it boots.
	version := lt.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput)
	return ec2.NewInstance(ctx, res, &ec2.InstanceArgs{
		LaunchTemplate:           &ec2.InstanceLaunchTemplateArgs{Id: lt.ID(), Version: version},
		SubnetId:                 v.privateIDs[0],
		VpcSecurityGroupIds:      pulumi.StringArray{sg.ID()},
		AssociatePublicIpAddress: pulumi.Bool(false),
		Tags:                     tag("jump", nil),
	}, parent, pulumi.DependsOn(v.egress))
}
