package config

import (
	"fmt"
	"strings"

	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/internal/fielddoc"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

// Default versions of a new stack (an existing one keeps what its nodes
// run: resolveVersion). Talos v1.13.13 is the newest 1.13 release
// (2026-11-26), whose official AMIs the preflight looks up; Kubernetes
// 1.36.3 is the default of Talos machinery v1.13.9
// (pkg/machinery/constants/constants.go DefaultKubernetesVersion), the
// newest 1.36 patch this project could verify.
const (
	DefaultTalosVersion      = "v1.13.13"
	DefaultKubernetesVersion = "1.36.3"
)

// Chart versions, pinned. Each is the chart a user gets unless they override it.
const (
	CiliumChartVersion         = "1.19.4"
	CCMChartVersion            = "0.0.10"
	CSRApproverChartVersion    = "0.5.2"
	MetricsServerChartVersion  = "3.13.0"
	ArgoCDChartVersion         = "9.6.0"
	ArgoCDAppsChartVersion     = "2.0.4"
	EBSCSIChartVersion         = "2.53.0"
	defaultControlPlaneType    = "m7i.large"
	defaultControlPlaneVolume  = 50
	defaultWorkerVolumeSizeGiB = 100
	// DefaultReadinessTimeoutMinutes bounds each readiness wait of `up`: a
	// first boot pulls images through NAT and brings etcd up in 3-8 minutes.
	DefaultReadinessTimeoutMinutes = 20
)

// NTHChartVersion is aws-node-termination-handler's chart (app v1.25.6).
const NTHChartVersion = "0.27.6"

// ClusterAutoscalerChartVersion is the newest cluster-autoscaler chart
// (appVersion 1.35.0); its image follows the Kubernetes minor (AddonsFor).
const ClusterAutoscalerChartVersion = "9.59.0"

// ClusterAutoscalerChartImage is the image tag chart
// ClusterAutoscalerChartVersion runs when none is set (its appVersion):
// what a 1.35 stack runs (MinorAddons.Autoscaler).
const ClusterAutoscalerChartImage = "v1.35.0"

// Key is one stack setting: the single source for Pulumi.yaml, the
// configuration reference (docs/reference/configuration.md) and the
// program. Type is a Pulumi project config type. An object's fields are
// documented by its type's FieldDocs; a key's allowed values by keyDocs.
type Key struct {
	Name        string
	Type        string
	Items       string // element type of an array
	Default     any    // nil: required, no default
	Description string
}

func defaultRootVolume(size int) RootVolume {
	return RootVolume{SizeGiB: size, Type: "gp3"}
}

// DefaultControlPlane is the control plane a stack gets when it sets nothing.
func DefaultControlPlane() ControlPlane {
	return ControlPlane{Count: 3, InstanceType: defaultControlPlaneType, Arch: ArchAMD64,
		RootVolume: defaultRootVolume(defaultControlPlaneVolume)}
}

// DefaultWorkerPool is the base every configured pool is merged onto.
func DefaultWorkerPool() WorkerPool {
	return WorkerPool{Arch: ArchAMD64, MinSize: 1, MaxSize: 3, DesiredCapacity: 2,
		RootVolume: defaultRootVolume(defaultWorkerVolumeSizeGiB)}
}

// DefaultWorkerPools is the pool list a stack gets when it sets nothing.
func DefaultWorkerPools() []WorkerPool {
	p := DefaultWorkerPool()
	p.Name = "general"
	p.InstanceTypes = []string{"m7i.large", "m6i.large"}
	p.MinSize, p.DesiredCapacity, p.MaxSize = 2, 3, 6
	return []WorkerPool{p}
}

// DefaultAddons enables every add-on at its pinned version.
func DefaultAddons() Addons {
	return Addons{
		Cilium:                 Cilium{Enabled: true, Version: CiliumChartVersion},
		CloudControllerManager: CloudControllerManager{Enabled: true, Version: CCMChartVersion},
		CSRApprover:            Chart{Enabled: true, Version: CSRApproverChartVersion},
		MetricsServer:          Chart{Enabled: true, Version: MetricsServerChartVersion},
		ArgoCD:                 ArgoCD{Enabled: true, Version: ArgoCDChartVersion, AppsVersion: ArgoCDAppsChartVersion},
		EBSCSI:                 Chart{Enabled: true, Version: EBSCSIChartVersion},
		NodeTerminationHandler: Chart{Enabled: true, Version: NTHChartVersion},
	}
}

// Schema lists every stack setting in the order the reference shows them.
func Schema() []Key {
	return []Key{
		{"clusterName", "string", "", "talos-aws", "Cluster name: Talos cluster name, AWS name prefix and the kubernetes.io/cluster/<name> tag. Lowercase letters, digits and '-'."},
		{"region", "string", "", "ap-southeast-1", "AWS region."},
		{"azCount", "integer", "", 3, "Number of availability zones to use (1-6), taken in order from the region's available zones. Ignored when availabilityZones is set."},
		{"availabilityZones", "array", "string", []string{}, "Explicit availability zones (e.g. ap-southeast-1a); overrides azCount."},
		{"vpcCidr", "string", "", "10.0.0.0/16", "VPC IPv4 CIDR, /16 to /21. Split into a private and a public subnet per AZ."},
		{"network", "object", "", DefaultNetwork(), "Deploy into an existing VPC instead of creating one: vpcId, privateSubnetIds (one per availability zone: the nodes, the internal load balancer and the etcd guard), publicSubnetIds (optional, same zones: the internet-facing load balancer). Excludes vpcCidr, azCount, availabilityZones and natStrategy. Before any resource, a read-only preflight checks the VPC (DNS support and hostnames, zones, free addresses, a default route, hostname type, DHCP options, CIDR overlaps, other clusters' tags); the stack then only adds the kubernetes.io/cluster/<clusterName> and role tags where a subnet has none, and talos-aws/<clusterName>/added-tags listing them, and changes nothing else in the VPC."},
		{"podCidr", "string", "", "10.244.0.0/16", "Kubernetes pod CIDR; must not overlap the VPC or service CIDR, and must hold a /24 per node (controlPlane.count + every pool's maxSize)."},
		{"serviceCidr", "string", "", "10.96.0.0/12", "Kubernetes service CIDR, /12 or smaller; must not overlap the VPC or pod CIDR."},
		{"natStrategy", "string", "", NATPerAZ, "NAT gateways: 'perAz' (one per AZ, survives an AZ outage) or 'single' (one, cheaper)."},
		{"adminCidrs", "array", "string", nil, "Required. CIDRs allowed to reach the Kubernetes API (6443) and Talos API (50000) through the public load balancer."},
		{"ingressCidrs", "array", "string", []string{"0.0.0.0/0"}, "CIDRs allowed to reach HTTPS ingress (443) on the public load balancer."},
		{"apiAccess", "string", "", AccessPublic, "Who reaches the Kubernetes API (6443) and the Talos API (50000): 'public' (the public load balancer, from adminCidrs) or 'private' (the internal load balancer only, from adminCidrs and the VPC: run `pulumi up` from inside the VPC, over VPN or Transit Gateway, or through an SSM port forward; docs/networking.md#private-api-and-ingress)."},
		{"ingressAccess", "string", "", AccessPublic, "Where HTTPS ingress (443) is served: 'public' (the public load balancer, from ingressCidrs) or 'private' (the internal load balancer, from ingressCidrs)."},
		{"jumpHost", "boolean", "", false, "With apiAccess private: a jump host the stack manages for SSM port forwarding to the internal load balancer (a t4g.nano on Amazon Linux 2023, the image current at its launch, in a private subnet, no inbound rule, an instance role that may only run Session Manager's agent); `up` and the jumpHostCommands output give the exact commands (docs/networking.md#private-api-and-ingress)."},
		{"endpoint", "object", "", map[string]any{}, "Cluster endpoint: stable (default true for a new stack, false for one deployed before it existed): the endpoint is api.<clusterName>.talos.internal in a Route 53 private hosted zone the stack owns, so machine configurations name no load balancer; publicName and publicZoneId: a name in a public hosted zone you own for the public load balancer, in the certificates, kubeconfig and talosconfig."},
		{"talosVersion", "string", "", "", "Talos version (vMAJOR.MINOR.PATCH, " + strings.Join(supportedTalosMinors(), " or ") + "): the official AMI, the machine-config contract and, from 1.13, the installer image. Empty (the default): " + DefaultTalosVersion + " for a new stack; an existing stack keeps the version its nodes run (README.md#supported-versions)."},
		{"kubernetesVersion", "string", "", "", "Kubernetes version (MAJOR.MINOR.PATCH) within the Talos version's range (" + k8sRangesText() + "); an upgrade moves one minor per `up`. Empty (the default): " + DefaultKubernetesVersion + " for a new stack; an existing stack keeps the version its nodes run."},
		{"amiIdAmd64", "string", "", "", "Explicit amd64 AMI id; overrides the official Talos AMI lookup."},
		{"amiIdArm64", "string", "", "", "Explicit arm64 AMI id; overrides the official Talos AMI lookup."},
		{"image", "object", "", images.Spec{}, "The nodes' Talos image beyond Sidero Labs' official AMI: extensions (official system extensions of talosVersion, siderolabs/<name>, e.g. siderolabs/iscsi-tools) and extraKernelArgs. The control plane and every pool without its own image run it. Set, `up` builds once (and reuses) an AMI of that Image Factory schematic and nodes install the factory's installer of it; the stack adds what an extension needs (NVIDIA kernel modules, the ECR credential provider's kubelet configuration, the NVIDIA add-ons of GPU pools). Empty (the default): the official AMI and installer (docs/extensions.md)."},
		{"controlPlane", "object", "", DefaultControlPlane(), "Control plane: count (1, 3 or 5), instanceType, arch (amd64|arm64), rootVolume {sizeGiB, type, iops, throughput}."},
		{"workerPools", "array", "object", DefaultWorkerPools(), "Worker pools: name, instanceTypes, arch, minSize, maxSize, desiredCapacity, spot, autoscaled, labels, taints [{key, value, effect}] (registered by the kubelet), rootVolume, image {extensions, extraKernelArgs} (replaces the cluster's image for this pool; GPU instance types need the NVIDIA extensions), configPatches (Talos YAML strategic merge patches; JSON6902 only before Talos 1.12; none may set a field the stack sets, such as the CNI, the pod and service subnets, the cluster identity and secrets, or the pool label, labels and taints)."},
		{"addons", "object", "", DefaultAddons(), "Add-ons: cilium {enabled, version, hubble}, awsCloudControllerManager {enabled, version, imageTag}, csrApprover, metricsServer, ebsCsi {enabled, version}, nodeTerminationHandler {enabled, version}, argocd {enabled, version, appsVersion, rootApp {repoURL, path, revision}}."},
		{"workloadIdentity", "boolean", "", true, "Workload identity (IRSA): an OIDC issuer for the cluster's service-account tokens (CloudFront in front of a private S3 bucket), an IAM OIDC provider, the EKS pod identity webhook, and one least-privilege IAM role per AWS add-on (EBS CSI controller, node termination handler, cluster autoscaler); nodes then keep IMDS hop limit 1, so no pod reaches a node role. On by default. Turning it on for an existing cluster changes the API servers' service-account issuer: the control plane rolls and pods' tokens are refused until the pods restart (docs/security.md#workload-identity-irsa); set false to keep an existing stack on node-role credentials until you are ready."},
		{"serviceAccountRoles", "array", "object", []ServiceAccountRole{}, "IAM roles for your own workloads, each assumable only by one Kubernetes service account through the cluster's OIDC provider (needs workloadIdentity): namespace, serviceAccount, policyArns (IAM managed policy ARNs, at most 20), policy (an inline IAM policy document as a JSON string); at least one of policyArns and policy. Each role's ARN is in the serviceAccountRoleArns output, by \"namespace/serviceAccount\"."},
		{"tags", "object", "", map[string]string{}, "Extra tags on every AWS resource."},
		{"etcdGuardPaused", "boolean", "", false, "Pause the etcd guard: it keeps observing and publishing metrics but changes no etcd membership and completes no lifecycle action; it still holds every termination of a node that may hold an etcd member (complete those by hand), and launch hooks time out with their default, CONTINUE. For work by hand; see docs/etcd-guard.md#work-by-hand-pausing-the-guard."},
		{"etcdGuardSecretReaders", "array", "string", []string{}, "IAM role ARNs (break-glass) that may read the etcd guard's admin talosconfig besides the guard itself, read and delete the etcd snapshots, and change the policies of that secret and the snapshot bucket; those policies deny everyone else, whatever their IAM policies allow. Run `pulumi up` as one of them to change this list later (docs/security.md#allow-lists-not-deny-lists)."},
		{"alarmTopicArn", "string", "", "", "SNS topic (standard, in the stack's region) that the etcd guard's alarms (degraded, a held termination, failing runs) and the backup freshness alarm notify, on ALARM and back to OK. Empty: the stack creates <clusterName>-alarms; subscribe to it (docs/etcd-guard.md#alarms). Its ARN is the alarmTopicArn output."},
		{"readinessTimeoutMinutes", "integer", "", DefaultReadinessTimeoutMinutes, "Bound, in minutes, on each wait `pulumi up` makes on the new cluster (API server /readyz, then every expected node Ready), 5-120. Previews never wait."},
		{"backups", "object", "", DefaultBackups(), "Scheduled etcd snapshots to S3: enabled (default: on when controlPlane.count > 1), intervalMinutes (15-720), retentionDays (1-3650), ageRecipient (age1..., encrypts each snapshot; the private key never enters the stack), objectLockDays (0: off; once on, S3 never turns Object Lock off again)."},
	}
}

// keyDocs are the top-level keys' allowed values and bounds, beside their
// descriptions in Schema: validation's own slices and constants, so the
// reference cannot say what validation does not.
func keyDocs() map[string]fielddoc.Field {
	cidrs := fmt.Sprintf("IPv4 CIDRs without host bits, each once; 2 × adminCidrs + ingressCidrs <= %d (inbound rules of a security group)", MaxSGInboundRules)
	ami := "an AMI ID (ami- and 8 or 17 hex digits); not for an architecture a group with an image runs on"
	return map[string]fielddoc.Field{
		"clusterName":         {Allowed: fmt.Sprintf("lowercase letters, digits and '-', starting with a letter; every load balancer and target group name derived from it within %d characters and not starting with internal-", maxLBNameLen)},
		"region":              {Allowed: "an AWS region name, like ap-southeast-1"},
		"azCount":             {Allowed: fmt.Sprintf("1-%d", MaxAZs)},
		"availabilityZones":   {Allowed: fmt.Sprintf("at most %d zones of region (<region>a, <region>b, ...), each once", MaxAZs)},
		"vpcCidr":             {Allowed: fmt.Sprintf("an IPv4 CIDR without host bits, /%d to /%d; not with network", minVPCPrefix, maxVPCPrefix)},
		"network":             {Allowed: "with vpcId and privateSubnetIds; not with vpcCidr, azCount, availabilityZones or natStrategy"},
		"podCidr":             {Allowed: fmt.Sprintf("an IPv4 CIDR without host bits, disjoint from the VPC and serviceCidr, holding a /%d per node", NodeCIDRMask)},
		"serviceCidr":         {Allowed: fmt.Sprintf("an IPv4 CIDR without host bits, /%d or smaller, disjoint from the VPC and podCidr", minServicePrefix)},
		"natStrategy":         {Values: natStrategies, Allowed: "not with network"},
		"adminCidrs":          {Allowed: cidrs},
		"ingressCidrs":        {Allowed: cidrs},
		"apiAccess":           {Values: accessModes, Allowed: "private needs endpoint.stable true"},
		"ingressAccess":       {Values: accessModes},
		"jumpHost":            {Allowed: "true needs apiAccess private"},
		"talosVersion":        {Allowed: "vMAJOR.MINOR.PATCH of Talos " + strings.Join(supportedTalosMinors(), " or ") + "; on a running cluster, a version whose upgrade path accepts the nodes'"},
		"kubernetesVersion":   {Allowed: "MAJOR.MINOR.PATCH within " + k8sRangesText() + "; on a running cluster at most one minor up, none down"},
		"amiIdAmd64":          {Allowed: ami},
		"amiIdArm64":          {Allowed: ami},
		"serviceAccountRoles": {Allowed: "needs workloadIdentity true"},
		"tags": {Allowed: fmt.Sprintf("keys of 1-%d and values of at most %d characters; %s; no aws: prefix, no Name or %s keys; at most %d tags on a resource with the stack's own",
			maxAWSTagKeyLen, maxAWSTagValLen, tagCharsDetail, tagkeys.ClusterPrefix+"*", MaxTagsPerResource)},
		"etcdGuardSecretReaders":  {Allowed: "IAM role ARNs (arn:aws:iam::<account>:role/<name>), each once"},
		"alarmTopicArn":           {Allowed: "a standard (not FIFO) SNS topic ARN in region"},
		"readinessTimeoutMinutes": {Allowed: fmt.Sprintf("%d-%d", minReadinessTimeout, maxReadinessTimeout)},
	}
}
