package readymodel

import (
	"strings"
	"time"
)

// Kind says how much a latency can be trusted.
type Kind string

// The kinds of latency figures.
const (
	// Documented: the figure is AWS's (or the tool's) own.
	Documented Kind = "documented"
	// Qualitative: the source documents the wait ("a few minutes", a state
	// the provider waits for) but no figure; the number is an estimate.
	Qualitative Kind = "documented wait, estimated figure"
	// Measured: this project measured it (docs/performance.md).
	Measured Kind = "measured here"
	// Estimate: no source gives a figure; the basis says why this one.
	Estimate Kind = "estimate"
)

// Latency is how long one step takes on a first `up`, and why.
type Latency struct {
	Seconds float64
	Kind    Kind
	Basis   string
	Source  string
}

// Duration is the latency as a time.Duration.
func (l Latency) Duration() time.Duration { return time.Duration(l.Seconds * float64(time.Second)) }

// apiCall is every resource whose create is one or two API calls and the
// provider's read-back: seconds, with nothing to wait for.
func apiCall(s float64) Latency {
	return Latency{Seconds: s, Kind: Estimate,
		Basis:  "one create call and the provider's read-back (terraform-provider-aws, bridged by pulumi-aws v6.83.4); no state to wait for",
		Source: "https://docs.aws.amazon.com/general/latest/gr/api-retries.html (no duration is documented for these calls)"}
}

// Rule gives resources of a type (and, when Name is set, whose logical
// name contains it) a latency.
type Rule struct {
	Type string
	Name string
	Latency
}

// Table is the create latency of every resource type a first `up`
// registers, first match wins. Resources of a type not listed take
// Default.
var Table = []Rule{
	{Type: "aws:cloudfront/distribution:Distribution", Latency: Latency{Seconds: 300, Kind: Qualitative,
		Basis: "pulumi-aws waits for status Deployed (waitForDeployment, default true, left so by identity/); AWS's CLI waiter polls every 60 s up to 35 times; " +
			"the developer guide once said propagation \"can take 15 minutes\", and AWS reported cutting it in 2020; 5 minutes taken",
		Source: "https://docs.aws.amazon.com/cli/latest/reference/cloudfront/wait/distribution-deployed.html; https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToUpdateDistribution.html; " +
			"https://aws.amazon.com/blogs/networking-and-content-delivery/slashing-cloudfront-change-propagation-times-in-2020-recent-changes-and-looking-forward/"}},
	{Type: "aws:lb/loadBalancer:LoadBalancer", Latency: Latency{Seconds: 180, Kind: Qualitative,
		Basis:  "the provider waits for state active (provisioning first; terraform-provider-aws waitLoadBalancerActive); 3 minutes taken",
		Source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerState.html"}},
	{Type: "aws:ec2/natGateway:NatGateway", Latency: Latency{Seconds: 120, Kind: Qualitative,
		Basis:  "the provider waits for state available (pending: \"being created and is not ready to process traffic\"); 2 minutes taken",
		Source: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html"}},
	{Type: "aws:lambda/function:Function", Latency: Latency{Seconds: 90, Kind: Qualitative,
		Basis: "a function in a VPC stays Pending while Lambda sets up its VPC resources (Hyperplane interfaces), and the provider waits for Active; 90 s taken. " +
			"In `up` the guard's code is built and uploaded before it (GuardCode)",
		Source: "https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html"}},
	{Type: "aws:lambda/invocation:Invocation", Latency: Latency{Seconds: 10, Kind: Estimate,
		Basis:  "the guard's pre-change snapshot on a new cluster: a cold start and a run that finds no node (runs measured at milliseconds, docs/performance.md \"The etcd guard's build\")",
		Source: "docs/performance.md \"The etcd guard's build\""}},
	{Type: "aws:autoscaling/group:Group", Latency: Latency{Seconds: 90, Kind: Qualitative,
		Basis:  "the provider waits for the desired capacity InService (wait_for_capacity_timeout, default 10m): the instances' launch, pending to running; 90 s taken",
		Source: "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html"}},
	{Type: "aws:route53/zone:Zone", Latency: Latency{Seconds: 60, Kind: Documented,
		Basis:  "the provider waits for the change to be INSYNC (propagated to all Route 53 DNS servers), which Route 53 is designed to reach within 60 seconds",
		Source: "https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html; https://aws.amazon.com/route53/faqs/"}},
	{Type: "aws:route53/record:Record", Latency: Latency{Seconds: 60, Kind: Documented,
		Basis:  "the provider waits for the change to be INSYNC (propagated to all Route 53 DNS servers), which Route 53 is designed to reach within 60 seconds",
		Source: "https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html; https://aws.amazon.com/route53/faqs/"}},
	{Type: "aws:iam/instanceProfile:InstanceProfile", Latency: Latency{Seconds: 10, Kind: Qualitative,
		Basis:  "IAM is eventually consistent; the provider retries until the new profile is usable",
		Source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency"}},
	{Type: "aws:kms/key:Key", Latency: Latency{Seconds: 10, Kind: Qualitative,
		Basis:  "KMS changes take \"less than a few seconds\" to propagate, sometimes minutes; the provider waits for the key's state and policy to read back",
		Source: "https://docs.aws.amazon.com/kms/latest/developerguide/programming-eventual-consistency.html"}},
	{Type: "talos:machine/bootstrap:Bootstrap", Latency: Latency{Seconds: 120, Kind: Qualitative,
		Basis: "bootstrap dials apid through the public NLB, so it waits for the first control-plane instance to register and pass two 10 s health checks " +
			"(\"it can take a few minutes for the registration process to complete and health checks to start\"); the provider retries for 10 minutes; 2 minutes taken",
		Source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-register-targets.html; network/network.go health check"}},
	{Type: "talos:cluster/kubeconfig:Kubeconfig", Latency: Latency{Seconds: 2, Kind: Estimate,
		Basis:  "rendered by apid from the machine configuration, no API server involved",
		Source: "talos v1.12.0 internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go Kubeconfig"}},
	{Type: "talos:machine/secrets:Secrets", Latency: Latency{Seconds: 1, Kind: Estimate, Basis: "generated locally", Source: "terraform-provider-talos talos_machine_secrets"}},
	{Type: "pulumi:providers:", Latency: Latency{Seconds: 0, Kind: Estimate, Basis: "provider configuration (the Kubernetes provider's readiness wait is modelled as its own step)", Source: "-"}},
	{Type: "pulumi:pulumi:StackReference", Latency: Latency{Seconds: 0, Kind: Estimate, Basis: "read before the checks, outside the resource graph's timing", Source: "-"}},
	{Type: "kubernetes:helm.sh/v3:Release", Name: "cilium", Latency: helm(90, "a DaemonSet on every node and the operator: their images through NAT, the agents' start")},
	{Type: "kubernetes:helm.sh/v3:Release", Name: "argocd-apps", Latency: helm(10, "one Application object")},
	{Type: "kubernetes:helm.sh/v3:Release", Name: "argocd", Latency: helm(120, "six Deployments and a StatefulSet, their images through NAT")},
	{Type: "kubernetes:helm.sh/v3:Release", Name: "ebs-csi", Latency: helm(90, "the controller (six containers) and a node DaemonSet")},
	{Type: "kubernetes:helm.sh/v3:Release", Name: "metrics", Latency: helm(60, "one Deployment")},
	{Type: "kubernetes:helm.sh/v3:Release", Name: "csr-approver", Latency: helm(30, "one small Deployment")},
	{Type: "kubernetes:helm.sh/v3:Release", Latency: helm(45, "one Deployment or DaemonSet (CCM, node termination handler, pod identity webhook, cluster autoscaler)")},
}

func helm(s float64, what string) Latency {
	return Latency{Seconds: s, Kind: Estimate,
		Basis:  "Helm install and its readiness wait: " + what + "; no document gives a figure",
		Source: "internal/helmrelease (the release's timeout bounds it)"}
}

// Default is a resource type Table does not list: an API call.
var Default = apiCall(3)

// For is the create latency of a resource.
func For(typ, name string) Latency {
	for _, r := range Table {
		if (r.Type == typ || strings.HasSuffix(r.Type, ":") && strings.HasPrefix(typ, r.Type)) && strings.Contains(name, r.Name) {
			return r.Latency
		}
	}
	return Default
}

// The program's own waits and the nodes' own work, which no resource's
// create includes.
var (
	// APIReady: `up` waits for /readyz before it configures the
	// Kubernetes provider (addons.gatedKubeconfig): etcd starts on the
	// bootstrap node, the control-plane images come through NAT, the
	// static pods start.
	APIReady = Latency{Seconds: 120, Kind: Estimate,
		Basis: "etcd's first member, then kube-apiserver's image through NAT and its start: 1-3 minutes after bootstrap (provider-behaviour-first-up.md, unverified); " +
			"the stack's own bound allows 3-8 minutes for a whole first boot (config.DefaultReadinessTimeoutMinutes); 2 minutes taken",
		Source: "shared/research/provider-behaviour-first-up.md #2; config/versions.go DefaultReadinessTimeoutMinutes"}
	// NodeBoot: an instance in service boots Talos to its kubelet.
	NodeBoot = Latency{Seconds: 60, Kind: Estimate,
		Basis:  "Talos from the AMI to apid and the kubelet; unverified (provider-behaviour-first-up.md: apid ~30-60 s after launch)",
		Source: "shared/research/provider-behaviour-first-up.md"}
	// NodeJoin: a booted node registers once the API server answers.
	NodeJoin = Latency{Seconds: 20, Kind: Estimate,
		Basis:  "trustd certificate through the internal NLB and the kubelet's registration",
		Source: "-"}
	// NodesReady: after the early releases, every expected node Ready
	// (addons, the node gate): Cilium's agent on the last node to join.
	NodesReady = Latency{Seconds: 30, Kind: Estimate,
		Basis:  "after Cilium's agents are ready on the nodes that have joined: the kubelet reports Ready and the CCM initialises each node",
		Source: "-"}
	// GuardCodeWarm and GuardCodeCold: the guard's build and upload in
	// `up`, before its function (etcdguard.SourceCode).
	GuardCodeWarm = Latency{Seconds: 15, Kind: Measured,
		Basis:  "3.6-11.6 s of build with a warm Go build cache, and the 10.7 MB upload",
		Source: "docs/performance.md \"The etcd guard's build\""}
	GuardCodeCold = Latency{Seconds: 287, Kind: Measured,
		Basis:  "4 min 42 s of build from an empty Go build cache on a 2-core machine, and the upload",
		Source: "docs/performance.md \"The etcd guard's build\""}
	// ProgramCold: Pulumi compiles the program before it runs; from an
	// empty cache (a fresh CI runner).
	ProgramCold = Latency{Seconds: 185, Kind: Measured,
		Basis:  "cold compile of the program on a 2-core machine",
		Source: "docs/performance.md \"Fast to first answer\" (program, cold compile)"}
	// DistributionCreated: the issuer's distribution with
	// waitForDeployment false: CreateDistribution answers with the domain
	// name at once (status InProgress), and the provider returns.
	DistributionCreated = Latency{Seconds: 5, Kind: Documented,
		Basis:  "CreateDistribution returns the distribution, DomainName included, with Status InProgress; with wait_for_deployment false terraform-provider-aws does not wait for Deployed",
		Source: "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateDistribution.html"}
	// IssuerServed: `up` waits until the distribution serves the issuer's
	// documents (readiness.Gate.IssuerServed) before the OIDC provider:
	// the deployment the distribution no longer waits for.
	IssuerServed = Latency{Seconds: 300, Kind: Qualitative,
		Basis:  "the distribution's deployment, as the distribution's own row above: 5 minutes taken",
		Source: "https://docs.aws.amazon.com/cli/latest/reference/cloudfront/wait/distribution-deployed.html"}
	// Checks: configuration, machine configurations and the AWS lookups
	// before the first resource.
	Checks = Latency{Seconds: 10, Kind: Estimate,
		Basis:  "STS, zones, AMIs and quotas reads, every machine configuration rendered (the mocked program evaluates in under a second)",
		Source: "program/checks.go"}
)
