package compute

import (
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

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

// ebsCSIStatements are the EBS CSI controller's permissions.
func ebsCSIStatements() []iampolicy.Statement {
	return []iampolicy.Statement{
		{Sid: "EBSCSIRead", Effect: "Allow", Action: ebsReadActions, Resource: "*"},
		{Sid: "EBSCSIWrite", Effect: "Allow", Action: ebsWriteActions, Resource: "*"},
		{Sid: "EBSCSIDeleteOwnVolumes", Effect: "Allow", Action: []string{"ec2:DeleteVolume"}, Resource: "*",
			Condition: map[string]map[string]any{"StringLike": {"ec2:ResourceTag/ebs.csi.aws.com/cluster": "true"}}},
		{Sid: "EBSCSIDeleteOwnSnapshots", Effect: "Allow", Action: []string{"ec2:DeleteSnapshot", "ec2:DeleteTags"}, Resource: "*",
			Condition: map[string]map[string]any{"StringLike": {"ec2:ResourceTag/ebs.csi.aws.com/cluster": "true"}}},
	}
}

// ControlPlanePolicy is the inline policy of control-plane nodes: the cloud
// controller manager's prerequisites (it runs before any pod can, so it
// keeps the node role even with workload identity), plus the EBS CSI
// controller's when that controller takes the node role (ebsCSI: the
// add-on on and workload identity off).
func ControlPlanePolicy(ebsCSI bool) iampolicy.Document {
	d := iampolicy.Document{Version: iampolicy.Version, Statement: append([]iampolicy.Statement{
		{Sid: "CloudControllerManager", Effect: "Allow", Action: ccmControlPlaneActions, Resource: "*"},
		{Sid: "Node", Effect: "Allow", Action: nodeActions, Resource: "*"},
	}, guardPath()...)}
	if ebsCSI {
		d.Statement = append(d.Statement, ebsCSIStatements()...)
	}
	return d
}

// GuardPathActions are what could cut the etcd guard off the nodes: its
// rule into the control-plane group (tcp/50000 from the guard's group),
// its own egress, or the groups a control-plane node is in.
var GuardPathActions = []string{
	"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
	"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
	"ec2:ModifySecurityGroupRules", "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
	"ec2:DeleteSecurityGroup", "ec2:CreateTags", "ec2:DeleteTags",
}

// guardPath denies the control-plane role (so any pod that reaches its
// instance credentials) changes to the groups tagged tagkeys.Guarded, to
// their tags (a retag would lift the deny), and to control-plane
// instances' attributes (their group set). The cloud controller manager
// keeps its rights everywhere else: it opens node groups only for
// load-balancer targets, and Talos labels control-plane nodes
// node.kubernetes.io/exclude-from-external-load-balancers (machinery
// v1.12.0 config/contract.go AddExcludeFromExternalLoadBalancer). A
// revoked rule would blind the guard.
func guardPath() []iampolicy.Statement {
	return []iampolicy.Statement{
		{Sid: "GuardPath", Effect: "Deny", Resource: "*", Action: GuardPathActions,
			Condition: map[string]map[string]any{"StringEquals": {"ec2:ResourceTag/" + tagkeys.Guarded: "true"}}},
		{Sid: "GuardPathNodes", Effect: "Deny", Resource: "*", Action: []string{"ec2:ModifyInstanceAttribute"},
			Condition: map[string]map[string]any{"StringEquals": {"ec2:ResourceTag/" + tagkeys.Role: "control-plane"}}},
	}
}

// EBSCSIPolicy is the EBS CSI controller's own role's policy (workload
// identity): the same statements, on its service account only.
func EBSCSIPolicy() iampolicy.Document { return iampolicy.New(ebsCSIStatements()...) }

// AutoscalerPolicy is the cluster autoscaler's role's policy: the reads its
// auto-discovery needs (cluster-autoscaler 1.35 cloudprovider/aws README,
// "full features" policy, less eks:DescribeNodegroup: there is no EKS), and
// the two writes only on groups tagged as this cluster's autoscaled pools
// (AutoscalerTags; Auto Scaling evaluates aws:ResourceTag on the group).
func AutoscalerPolicy(cluster string) iampolicy.Document {
	return iampolicy.New(
		iampolicy.Statement{Sid: "Discover", Effect: "Allow", Resource: "*", Action: []string{
			"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
			"autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities", "autoscaling:DescribeTags",
			"ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
			"ec2:GetInstanceTypesFromInstanceRequirements",
		}},
		iampolicy.Statement{Sid: "ScaleOnlyThisClustersPools", Effect: "Allow", Resource: "*",
			Action: []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"},
			Condition: map[string]map[string]any{"StringEquals": {
				"aws:ResourceTag/k8s.io/cluster-autoscaler/" + cluster: "owned",
				"aws:ResourceTag/k8s.io/cluster-autoscaler/enabled":    "true",
			}}},
	)
}

// WorkerPolicy is the inline policy of worker nodes: the minimum.
func WorkerPolicy() iampolicy.Document {
	return iampolicy.Document{Version: iampolicy.Version, Statement: []iampolicy.Statement{
		{Sid: "Node", Effect: "Allow", Action: nodeActions, Resource: "*"},
	}}
}
