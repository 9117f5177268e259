package compute

import "github.com/talos-aws/talos-aws/internal/iampolicy"

// AssumeRoleEC2 lets EC2 instances assume a node role.
func AssumeRoleEC2() iampolicy.Document {
	return iampolicy.Document{Version: iampolicy.Version, Statement: []iampolicy.Statement{{
		Effect: "Allow", Principal: map[string]string{"Service": "ec2.amazonaws.com"}, Action: []string{"sts:AssumeRole"},
	}}}
}

// ccmControlPlaneActions are the control-plane permissions the AWS cloud
// controller manager documents as prerequisites
// (kubernetes/cloud-provider-aws, docs/prerequisites.md).
var ccmControlPlaneActions = []string{
	"autoscaling:DescribeAutoScalingGroups",
	"autoscaling:DescribeLaunchConfigurations",
	"autoscaling:DescribeTags",
	"ec2:DescribeInstances",
	"ec2:DescribeRegions",
	"ec2:DescribeRouteTables",
	"ec2:DescribeSecurityGroups",
	"ec2:DescribeSubnets",
	"ec2:DescribeVolumes",
	"ec2:DescribeAvailabilityZones",
	"ec2:CreateSecurityGroup",
	"ec2:CreateTags",
	"ec2:CreateVolume",
	"ec2:ModifyInstanceAttribute",
	"ec2:ModifyVolume",
	"ec2:AttachVolume",
	"ec2:AuthorizeSecurityGroupIngress",
	"ec2:CreateRoute",
	"ec2:DeleteRoute",
	"ec2:DeleteSecurityGroup",
	"ec2:DeleteVolume",
	"ec2:DetachVolume",
	"ec2:RevokeSecurityGroupIngress",
	"ec2:DescribeVpcs",
	"ec2:DescribeInstanceTopology",
	"elasticloadbalancing:AddTags",
	"elasticloadbalancing:AttachLoadBalancerToSubnets",
	"elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
	"elasticloadbalancing:CreateLoadBalancer",
	"elasticloadbalancing:CreateLoadBalancerPolicy",
	"elasticloadbalancing:CreateLoadBalancerListeners",
	"elasticloadbalancing:ConfigureHealthCheck",
	"elasticloadbalancing:DeleteLoadBalancer",
	"elasticloadbalancing:DeleteLoadBalancerListeners",
	"elasticloadbalancing:DescribeLoadBalancers",
	"elasticloadbalancing:DescribeLoadBalancerAttributes",
	"elasticloadbalancing:DetachLoadBalancerFromSubnets",
	"elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
	"elasticloadbalancing:ModifyLoadBalancerAttributes",
	"elasticloadbalancing:RegisterInstancesWithLoadBalancer",
	"elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
	"elasticloadbalancing:CreateListener",
	"elasticloadbalancing:CreateTargetGroup",
	"elasticloadbalancing:DeleteListener",
	"elasticloadbalancing:DeleteTargetGroup",
	"elasticloadbalancing:DescribeListeners",
	"elasticloadbalancing:DescribeLoadBalancerPolicies",
	"elasticloadbalancing:DescribeTargetGroups",
	"elasticloadbalancing:DescribeTargetHealth",
	"elasticloadbalancing:ModifyListener",
	"elasticloadbalancing:ModifyTargetGroup",
	"elasticloadbalancing:RegisterTargets",
	"elasticloadbalancing:DeregisterTargets",
	"elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
	"iam:CreateServiceLinkedRole",
	"kms:DescribeKey",
}

// nodeActions are the worker-node prerequisites of the same document: the
// kubelet's instance lookups and pulls from ECR.
var nodeActions = []string{
	"ec2:DescribeInstances",
	"ec2:DescribeRegions",
	"ecr:GetAuthorizationToken",
	"ecr:BatchCheckLayerAvailability",
	"ecr:GetDownloadUrlForLayer",
	"ecr:GetRepositoryPolicy",
	"ecr:DescribeRepositories",
	"ecr:ListImages",
	"ecr:BatchGetImage",
}

// EBS CSI controller permissions (kubernetes-sigs/aws-ebs-csi-driver,
// docs/example-iam-policy.json). Destructive calls are limited to volumes and
// snapshots the driver tagged itself.
var (
	ebsReadActions = []string{
		"ec2:DescribeAvailabilityZones", "ec2:DescribeInstances", "ec2:DescribeSnapshots", "ec2:DescribeTags",
		"ec2:DescribeVolumes", "ec2:DescribeVolumesModifications", "ec2:DescribeVolumeStatus", "ec2:DescribeInstanceTypes",
	}
	ebsWriteActions = []string{
		"ec2:CreateSnapshot", "ec2:ModifyVolume", "ec2:AttachVolume", "ec2:DetachVolume",
		"ec2:CreateVolume", "ec2:CopyVolumes", "ec2:EnableFastSnapshotRestores", "ec2:CreateTags",
	}
)

// ControlPlanePolicy is the inline policy of control-plane nodes: the cloud
// controller manager's prerequisites, plus the EBS CSI controller's when that
// add-on is on (its controller runs on control-plane nodes).
func ControlPlanePolicy(ebsCSI bool) iampolicy.Document {
	d := iampolicy.Document{Version: iampolicy.Version, Statement: []iampolicy.Statement{
		{Sid: "CloudControllerManager", Effect: "Allow", Action: ccmControlPlaneActions, Resource: "*"},
		{Sid: "Node", Effect: "Allow", Action: nodeActions, Resource: "*"},
	}}
	if ebsCSI {
		d.Statement = append(d.Statement,
			iampolicy.Statement{Sid: "EBSCSIRead", Effect: "Allow", Action: ebsReadActions, Resource: "*"},
			iampolicy.Statement{Sid: "EBSCSIWrite", Effect: "Allow", Action: ebsWriteActions, Resource: "*"},
			iampolicy.Statement{Sid: "EBSCSIDeleteOwnVolumes", Effect: "Allow", Action: []string{"ec2:DeleteVolume"}, Resource: "*",
				Condition: map[string]map[string]any{"StringLike": {"ec2:ResourceTag/ebs.csi.aws.com/cluster": "true"}}},
			iampolicy.Statement{Sid: "EBSCSIDeleteOwnSnapshots", Effect: "Allow", Action: []string{"ec2:DeleteSnapshot", "ec2:DeleteTags"}, Resource: "*",
				Condition: map[string]map[string]any{"StringLike": {"ec2:ResourceTag/ebs.csi.aws.com/cluster": "true"}}},
		)
	}
	return d
}

// WorkerPolicy is the inline policy of worker nodes: the minimum.
func WorkerPolicy() iampolicy.Document {
	return iampolicy.Document{Version: iampolicy.Version, Statement: []iampolicy.Statement{
		{Sid: "Node", Effect: "Allow", Action: nodeActions, Resource: "*"},
	}}
}
