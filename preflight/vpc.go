package preflight

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

// VPCDescription is what the preflight reads of an existing VPC
// (DescribeVPC) and judges (CheckVPC). A read that failed is recorded
// beside what it was for (ReadError), so every problem comes out at once.
type VPCDescription struct {
	ID        string
	ReadError string
	// CIDRBlocks are the VPC's IPv4 blocks in state "associated", the
	// primary first.
	CIDRBlocks         []string
	EnableDNSSupport   bool
	EnableDNSHostnames bool
	// DHCPOptionsID is the VPC's DHCP option set; "default" is none.
	DHCPOptionsID string
	DHCP          *DHCPOptions
	// MainRouteTableID takes every subnet without a table of its own.
	MainRouteTableID string
	// Subnets are network.privateSubnetIds, then network.publicSubnetIds,
	// in the configured order.
	Subnets []Subnet
	// RouteTables by ID.
	RouteTables map[string]RouteTable
	// Endpoints by service name (com.amazonaws.<region>.<service>), read
	// only when a private subnet has no default route (EndpointsRead).
	Endpoints     map[string]Endpoint
	EndpointsRead bool
}

// Subnet is one configured subnet as EC2 describes it.
type Subnet struct {
	ID string
	// Path is the configuration key that names it
	// (network.privateSubnetIds[0]).
	Path      string
	Public    bool
	ReadError string
	VPCID     string
	AZ        string
	CIDR      string
	State     string
	// AvailableIPs is AvailableIpAddressCount.
	AvailableIPs        int
	MapPublicIPOnLaunch bool
	// HostnameType is PrivateDnsHostnameTypeOnLaunch: ip-name or
	// resource-name.
	HostnameType string
	Tags         map[string]string
	// RouteTableID is the table the subnet uses: its own association, else
	// the VPC's main table.
	RouteTableID string
}

// RouteTable is a route table's routes. The provider's read leaves out
// the local route, routes propagated from a virtual private gateway and
// gateway endpoints' prefix-list routes (terraform-provider-aws
// vpc_route_table_data_source.go, dataSourceRoutesRead).
type RouteTable struct {
	ID        string
	ReadError string
	Routes    []Route
}

// Route is one route: its IPv4 destination and its one target.
type Route struct {
	Destination         string
	NATGatewayID        string
	TransitGatewayID    string
	GatewayID           string // igw-… or vgw-…
	InstanceID          string
	NetworkInterfaceID  string
	VPCPeeringID        string
	VPCEndpointID       string // a Gateway Load Balancer endpoint
	CoreNetworkARN      string
	LocalGatewayID      string
	CarrierGatewayID    string
	EgressOnlyGatewayID string
}

// Target names the route's target for messages.
func (r Route) Target() string {
	for _, t := range []string{r.NATGatewayID, r.TransitGatewayID, r.GatewayID, r.InstanceID, r.NetworkInterfaceID,
		r.VPCPeeringID, r.VPCEndpointID, r.CoreNetworkARN, r.LocalGatewayID, r.CarrierGatewayID, r.EgressOnlyGatewayID} {
		if t != "" {
			return t
		}
	}
	return "no target"
}

// DHCPOptions is the VPC's DHCP option set.
type DHCPOptions struct {
	ID                string
	ReadError         string
	DomainName        string
	DomainNameServers []string
}

// Endpoint is one VPC endpoint of a service, or why none was found.
type Endpoint struct {
	ServiceName string
	Found       bool
	// Multiple: more than one endpoint of the service (the provider's
	// single-endpoint read refuses to pick one); present, not described.
	Multiple          bool
	ReadError         string
	ID                string
	Type              string // Interface or Gateway
	State             string
	PrivateDNSEnabled bool
	SubnetIDs         []string
	RouteTableIDs     []string
}

// AmazonProvidedDNS is the DHCP name of the VPC's Route 53 Resolver.
const AmazonProvidedDNS = "AmazonProvidedDNS"

// HostnameIPName is the hostname type the node names assume.
const HostnameIPName = "ip-name"

// MinNLBFreeAddresses is what a subnet needs free for a Network Load
// Balancer to be created in it: "the subnets that you specify must have at
// least 8 available IP addresses" (internet-facing, and internal ones
// whose address AWS picks; ELB Network Load Balancers guide,
// availability-zones.html). The NLB keeps one of them.
const MinNLBFreeAddresses = 8

// GuardENIs is the etcd guard Lambda's share of each private subnet: one
// Hyperplane ENI per subnet and security group (Lambda developer guide,
// configuration-vpc).
const GuardENIs = 1

// MaxTagsPerSubnet is AWS's limit of tags on one resource.
const MaxTagsPerSubnet = config.MaxTagsPerResource

// DefaultDomainName is the domain AWS's default DHCP option set gives a
// region's instances, and the domain of their private DNS names: ec2.internal
// in us-east-1, <region>.compute.internal elsewhere (Amazon VPC user guide,
// DHCP option set concepts).
func DefaultDomainName(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// PrivateAZs are the private subnets' zones in configured order: the zones
// the nodes, the internal load balancer and the guard use.
func (d VPCDescription) PrivateAZs() []string {
	var out []string
	for _, s := range d.Subnets {
		if !s.Public {
			out = append(out, s.AZ)
		}
	}
	return out
}

// GroupPeak is one node group's most nodes at once: a worker pool at
// maxSize during its instance refresh, the control plane during its roll.
type GroupPeak struct {
	Path  string
	Nodes int
}

// NodePeaks are the node groups' peaks with the surge quota.go plans for
// (PlanQuotas' ceiling: maxSize plus WorkerSurge, the control plane plus
// ControlPlaneRollExtra).
func NodePeaks(cfg *config.Config) []GroupPeak {
	peaks := []GroupPeak{{"controlPlane", cfg.ControlPlane.Count + ControlPlaneRollExtra}}
	for i, p := range cfg.WorkerPools {
		peaks = append(peaks, GroupPeak{fmt.Sprintf("workerPools[%d] (%s)", i, p.Name), p.MaxSize + WorkerSurge(p.MaxSize)})
	}
	return peaks
}

// PrivateSubnetNeed is how many free addresses each of zones private
// subnets needs, and how that adds up: each group's peak spread evenly
// over the zones (rounded up per group: an Auto Scaling group balances its
// zones), the internal NLB's floor and the guard's interface. Load
// balancers the cloud controller manager makes for internal Services come
// on top and are not counted.
func PrivateSubnetNeed(cfg *config.Config, zones int) (int, string) {
	if zones < 1 {
		zones = 1
	}
	need := 0
	var parts []string
	for _, g := range NodePeaks(cfg) {
		share := (g.Nodes + zones - 1) / zones
		need += share
		parts = append(parts, fmt.Sprintf("%s %d nodes / %d zone(s) = %d", g.Path, g.Nodes, zones, share))
	}
	need += MinNLBFreeAddresses + GuardENIs
	parts = append(parts, fmt.Sprintf("the internal NLB %d (AWS requires %d free to create it)", MinNLBFreeAddresses, MinNLBFreeAddresses),
		fmt.Sprintf("the etcd guard Lambda's interface %d", GuardENIs))
	return need, strings.Join(parts, " + ")
}

// EndpointNeed is an AWS service the cluster calls from its private
// subnets, and who calls it: what a private subnet without a route to
// NAT needs as a VPC endpoint instead.
type EndpointNeed struct {
	Service string // the endpoint service's last part: ec2, s3, ...
	Gateway bool   // a gateway endpoint (route table), not an interface
	Callers []string
}

// NoNATEndpoints are the endpoints the stack's callers in the private
// subnets need when there is no route to NAT, for this configuration.
// Each caller is named with where its calls are granted or made. Nodes
// themselves call no AWS API (Talos reads only the instance metadata
// service); what calls AWS runs in pods on them or in the guard Lambda.
func NoNATEndpoints(cfg *config.Config) []EndpointNeed {
	a := cfg.Addons
	var out []EndpointNeed
	add := func(svc string, gateway bool, callers ...string) {
		var cs []string
		for _, c := range callers {
			if c != "" {
				cs = append(cs, c)
			}
		}
		if len(cs) > 0 {
			out = append(out, EndpointNeed{Service: svc, Gateway: gateway, Callers: cs})
		}
	}
	when := func(on bool, s string) string {
		if on {
			return s
		}
		return ""
	}
	autoscaled := slices.ContainsFunc(cfg.WorkerPools, func(p config.WorkerPool) bool { return p.Autoscaled })
	ccm := a.CloudControllerManager.Enabled
	ebs := a.EBSCSI.Enabled
	nth := a.NodeTerminationHandler.Enabled
	ca := autoscaled && cfg.WorkloadIdentity
	add("ec2", false,
		when(ccm, "AWS cloud controller manager (compute/iam.go AddCCMPermissions)"),
		when(ebs, "EBS CSI controller (compute/iam.go AddEBSCSIPermissions)"),
		when(ca, "cluster autoscaler (compute/iam.go AddAutoscalerPermissions)"),
		when(nth, "node termination handler (drain/plan.go HandlerPolicy)"),
		"etcd guard Lambda (etcdguard/lambda/awsapi/ec2query.go)")
	add("elasticloadbalancing", false, when(ccm, "AWS cloud controller manager, Services of type LoadBalancer (compute/iam.go AddCCMPermissions)"))
	add("autoscaling", false,
		when(ca, "cluster autoscaler (compute/iam.go AddAutoscalerPermissions)"),
		when(nth, "node termination handler, lifecycle actions (drain/plan.go HandlerPolicy)"),
		"etcd guard Lambda, lifecycle actions (etcdguard/lambda/main.go)")
	add("sqs", false, when(nth, "node termination handler, queue mode (drain/plan.go HandlerPolicy)"))
	add("sts", false, when(cfg.WorkloadIdentity && (ebs || nth || ca || len(cfg.ServiceAccountRoles) > 0),
		"pods with workload identity: AssumeRoleWithWebIdentity at the regional endpoint (the pod identity webhook sets AWS_STS_REGIONAL_ENDPOINTS)"))
	add("secretsmanager", false, "etcd guard Lambda, its talosconfig (etcdguard/lambda/main.go)")
	jump := when(cfg.HasJumpHost(), "the jump host's SSM agent, its heartbeat (network/jumphost.go JumpHostPolicy)")
	add("ssm", false, "etcd guard Lambda, its suspects parameter (etcdguard/lambda/main.go)", jump)
	add("ssmmessages", false, when(jump != "", "the jump host's SSM agent, its session channels (network/jumphost.go JumpHostPolicy)"))
	add("monitoring", false, "etcd guard Lambda, PutMetricData (etcdguard/lambda/main.go)")
	cpECR, workersECR := cfg.RunsExtension(images.ECRCredentialProvider)
	ecr := when(cpECR || workersECR, "nodes running the ECR credential provider extension: its registry token (compute/iam.go AddECRPullPermissions)")
	add("ecr.api", false, ecr)
	add("ecr.dkr", false, when(ecr != "", "nodes running the ECR credential provider extension: image pulls from ECR"))
	add("s3", true, when(config.BackupsOn(cfg), "etcd guard Lambda, etcd snapshots (etcdguard/lambda/awsapi/s3.go)"),
		when(ecr != "", "nodes pulling from ECR: ECR serves image layers from S3"))
	return out
}

// EndpointServiceName is a service's VPC endpoint service name in a
// region.
func EndpointServiceName(region, service string) string {
	if strings.HasPrefix(region, "cn-") {
		return "cn.com.amazonaws." + region + "." + service
	}
	return "com.amazonaws." + region + "." + service
}

// PublicRegistries are where the nodes pull their images from, none of
// which a VPC endpoint serves: Talos v1.13.9's own (pkg/machinery/constants
// KubeletImage, EtcdImage, the control-plane and CoreDNS images) and the
// add-on charts' defaults.
var PublicRegistries = []string{
	"ghcr.io (kubelet, Talos CCM)",
	"registry.k8s.io (etcd, kube-apiserver and the other control-plane images, CoreDNS, AWS CCM, metrics-server, cluster autoscaler)",
	"quay.io (Cilium, Argo CD)",
	"public.ecr.aws (EBS CSI driver, node termination handler)",
}

// egress classifies a private subnet's default route: ok, or why not.
func egress(r Route) (bool, string) {
	switch {
	case r.NATGatewayID != "", r.TransitGatewayID != "", r.CoreNetworkARN != "",
		r.InstanceID != "", r.NetworkInterfaceID != "", r.VPCEndpointID != "":
		// NAT gateway; transit gateway or Cloud WAN to shared egress; a
		// NAT instance or appliance; a Gateway Load Balancer endpoint.
		return true, ""
	case strings.HasPrefix(r.GatewayID, "vgw-"):
		// Egress through the VPN or Direct Connect: the far side's to
		// provide.
		return true, ""
	case strings.HasPrefix(r.GatewayID, "igw-"):
		return false, "an internet gateway: this is a public subnet, and the nodes get no public address (MapPublicIpOnLaunch off, launch templates ask for none), so nothing leaves through it"
	case r.VPCPeeringID != "":
		return false, "a VPC peering connection: AWS does not route to the internet or a NAT gateway through a peering connection (no edge-to-edge routing)"
	default:
		return false, "a target this stack does not support for node egress"
	}
}

func defaultRoute(t RouteTable) (Route, bool) {
	for _, r := range t.Routes {
		if r.Destination == "0.0.0.0/0" {
			return r, true
		}
	}
	return Route{}, false
}

// CheckVPC judges an existing VPC's description against the
// configuration: every problem, each at the configuration key that names
// the AWS object, with the attribute and what breaks. It is pure.
func CheckVPC(d VPCDescription, cfg *config.Config) config.ErrorList {
	var errs config.ErrorList
	vpcPath := "network.vpcId"
	if d.ReadError != "" {
		errs.Invalid(vpcPath, d.ID, fmt.Sprintf("cannot be read in %s (DescribeVpcs): %s", cfg.Region, d.ReadError))
	} else {
		checkVPCAttributes(d, cfg, &errs)
	}

	var private []Subnet
	firstInAZ := map[string]string{}
	publicAZ := map[string]string{}
	for _, s := range d.Subnets {
		if s.ReadError != "" {
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("cannot be read in %s (DescribeSubnets): %s", cfg.Region, s.ReadError))
			continue
		}
		if d.ID != "" && s.VPCID != d.ID {
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("VpcId is %s, not network.vpcId %s: every subnet must be in that VPC", s.VPCID, d.ID))
		}
		if s.State != "" && s.State != "available" {
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("State is %s, not available", s.State))
		}
		seen := firstInAZ
		if s.Public {
			seen = publicAZ
		}
		if first, dup := seen[s.AZ]; dup {
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("AvailabilityZone %s is also %s's: give one subnet per availability zone", s.AZ, first))
		} else {
			seen[s.AZ] = s.Path
		}
		checkSubnetTags(s, cfg, &errs)
		if s.Public {
			checkPublicSubnet(s, d, &errs)
			continue
		}
		private = append(private, s)
		if s.MapPublicIPOnLaunch {
			errs.Invalid(s.Path, s.ID, "MapPublicIpOnLaunch is true: a private subnet gives its instances no public address; nodes and the internal load balancer must not be reachable from the internet this way")
		}
		if s.HostnameType != HostnameIPName {
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("PrivateDnsHostnameTypeOnLaunch is %q, not %q: the launch templates leave the hostname type to the subnet, and this stack supports IP-based node names only "+
				"(ip-10-0-1-5.%s, the EC2 private DNS name): the AWS cloud controller manager finds such a node's instance by private-dns-name, "+
				"the CSR approver finds the Node by its serving certificate's first DNS name, which the kubelet takes from the addresses the CCM sets (InternalDNS = PrivateDnsName), "+
				"and the node termination handler drains the Node named after PrivateDnsName. With resource-name, nodes are named i-….%s; cloud-provider-aws v1.35.0 maps that to the instance ID itself, "+
				"but the approver and the termination handler are unverified with it. Set the subnet's hostname type to ip-name (aws ec2 modify-subnet-attribute --private-dns-hostname-type-on-launch ip-name; it applies to new launches)",
				s.HostnameType, HostnameIPName, DefaultDomainName(cfg.Region), DefaultDomainName(cfg.Region)))
		}
	}
	if !slices.ContainsFunc(d.Subnets, func(s Subnet) bool { return s.ReadError != "" }) {
		// Zones are compared only among subnets that could all be read.
		checkZones(private, d.Subnets, &errs)
	}
	checkAddresses(private, cfg, &errs)
	checkEgress(private, d, cfg, &errs)
	return errs
}

func checkVPCAttributes(d VPCDescription, cfg *config.Config, errs *config.ErrorList) {
	vpcPath := "network.vpcId"
	if !d.EnableDNSSupport {
		errs.Invalid(vpcPath, d.ID, "EnableDnsSupport is false: the nodes resolve the cluster endpoint's private hosted zone, each other's private DNS names and the AWS API endpoints through the VPC's Route 53 Resolver, which answers only with DNS support on; "+
			"turn it on (aws ec2 modify-vpc-attribute --enable-dns-support) or ask the VPC's owner")
	}
	if !d.EnableDNSHostnames {
		errs.Invalid(vpcPath, d.ID, "EnableDnsHostnames is false: Route 53 private hosted zones (the cluster endpoint's) and interface endpoints' private DNS need both DNS hostnames and DNS support on; "+
			"turn it on (aws ec2 modify-vpc-attribute --enable-dns-hostnames) or ask the VPC's owner")
	}
	switch {
	case d.DHCPOptionsID == "" || d.DHCPOptionsID == "default":
		errs.Invalid(vpcPath, d.ID, "DhcpOptionsId is default (no DHCP option set): instances get no DNS server and no domain name over DHCP; associate an option set with domain-name-servers AmazonProvidedDNS and domain-name "+DefaultDomainName(cfg.Region))
	case d.DHCP == nil:
	case d.DHCP.ReadError != "":
		errs.Invalid(vpcPath, d.ID, fmt.Sprintf("its DHCP option set %s cannot be read (DescribeDhcpOptions): %s", d.DHCPOptionsID, d.DHCP.ReadError))
	default:
		domain, _, _ := strings.Cut(strings.TrimSpace(d.DHCP.DomainName), " ")
		if want := DefaultDomainName(cfg.Region); domain != want {
			errs.Invalid(vpcPath, d.ID, fmt.Sprintf("its DHCP option set %s has domain-name %q, not %q: Talos takes the node's hostname and domain from the DHCP lease, over the instance's private DNS name from instance metadata "+
				"(talos v1.13.9 network/operator/dhcp4.go and configlayer.go: the operator layer outranks the platform's), so node names would end in %q and no longer be the EC2 private DNS names the cloud controller manager, "+
				"the CSR approver and the node termination handler look nodes up by; use an option set with domain-name %s", d.DHCPOptionsID, d.DHCP.DomainName, want, domain, want))
		}
	}
	var vpcNets []netip.Prefix
	for _, c := range d.CIDRBlocks {
		if p, err := netip.ParsePrefix(c); err == nil {
			vpcNets = append(vpcNets, p)
		}
	}
	for _, k := range []struct{ key, cidr string }{{"podCidr", cfg.PodCIDR}, {"serviceCidr", cfg.ServiceCIDR}} {
		p, err := netip.ParsePrefix(k.cidr)
		if err != nil {
			continue // config reported it
		}
		for _, v := range vpcNets {
			if p.Overlaps(v) {
				errs.Invalid(k.key, k.cidr, fmt.Sprintf("overlaps %s's CIDR block %s: the nodes would route that range to the cluster, not the VPC; choose a %s outside every block of the VPC (%s)",
					d.ID, v, k.key, strings.Join(d.CIDRBlocks, ", ")))
			}
		}
	}
}

// checkSubnetTags: subnets another cluster is tagged on, and room for the
// tags this stack adds.
func checkSubnetTags(s Subnet, cfg *config.Config, errs *config.ErrorList) {
	mine := tagkeys.Cluster(cfg.ClusterName)
	for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
		v := s.Tags[k]
		switch {
		case k == mine && v == "owned":
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("tag %s=owned: the subnet belongs to a cluster of this name created elsewhere (owned resources are deleted with their cluster); use subnets it does not own", k))
		case strings.HasPrefix(k, tagkeys.ClusterPrefix) && k != mine:
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("tag %s=%s: the subnet is tagged for cluster %q, whose load balancers and nodes draw on the same addresses this preflight counts "+
				"(and, with owned, whose tooling deletes the subnet with that cluster); the AWS cloud controller manager uses a subnet tagged for another cluster only once this cluster's tag is added too "+
				"(cloud-provider-aws v1.35.0 aws.go findSubnets); use subnets no other cluster is tagged on",
				k, v, strings.TrimPrefix(k, tagkeys.ClusterPrefix)))
		case k == "KubernetesCluster" && v != cfg.ClusterName:
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("tag KubernetesCluster=%s: the legacy cluster tag of another cluster; use subnets no other cluster is tagged on", v))
		}
	}
	n := len(s.Tags)
	for k := range subnetTagsToAdd(s, cfg.ClusterName, nil) {
		if _, ok := s.Tags[k]; !ok {
			n++
		}
	}
	if n > MaxTagsPerSubnet {
		errs.Invalid(s.Path, s.ID, fmt.Sprintf("has %d tags; with the %d this stack adds it would have %d, over AWS's %d per resource", len(s.Tags), n-len(s.Tags), n, MaxTagsPerSubnet))
	}
}

func checkPublicSubnet(s Subnet, d VPCDescription, errs *config.ErrorList) {
	if s.AvailableIPs < MinNLBFreeAddresses {
		errs.Invalid(s.Path, s.ID, fmt.Sprintf("AvailableIpAddressCount is %d: an internet-facing Network Load Balancer needs at least %d free addresses in each of its subnets (ELB Network Load Balancers guide)",
			s.AvailableIPs, MinNLBFreeAddresses))
	}
	if s.RouteTableID == "" {
		return // the VPC could not be read: reported once, at network.vpcId
	}
	t, ok := d.RouteTables[s.RouteTableID]
	switch {
	case !ok:
		errs.Invalid(s.Path, s.ID, fmt.Sprintf("its route table %s was not read", s.RouteTableID))
	case t.ReadError != "":
		errs.Invalid(s.Path, s.ID, fmt.Sprintf("its route table %s cannot be read (DescribeRouteTables): %s", t.ID, t.ReadError))
	default:
		if r, ok := defaultRoute(t); !ok || !strings.HasPrefix(r.GatewayID, "igw-") {
			target := "no route"
			if ok {
				target = "a route to " + r.Target()
			}
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("its route table %s has %s for 0.0.0.0/0, not an internet gateway: an internet-facing load balancer in it cannot be reached from the internet (a public subnet's default route goes to an igw-)", t.ID, target))
		}
	}
}

// checkZones: public subnets, when given, in exactly the private subnets'
// zones, so the internet-facing load balancer has a node in each zone it
// serves, and each zone's nodes a load balancer node beside them.
func checkZones(private, all []Subnet, errs *config.ErrorList) {
	privAZ := map[string]bool{}
	for _, s := range private {
		privAZ[s.AZ] = true
	}
	pubAZ := map[string]bool{}
	anyPublic := false
	for _, s := range all {
		if !s.Public || s.ReadError != "" {
			continue
		}
		anyPublic = true
		pubAZ[s.AZ] = true
		if !privAZ[s.AZ] {
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("AvailabilityZone %s has no private subnet in network.privateSubnetIds: public subnets must be in the private subnets' zones", s.AZ))
		}
	}
	if !anyPublic {
		return
	}
	for _, s := range private {
		if !pubAZ[s.AZ] {
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("AvailabilityZone %s has no public subnet in network.publicSubnetIds: give one public subnet in each private subnet's zone", s.AZ))
		}
	}
}

// addressShortfalls are the private subnets with fewer free addresses
// than the stack needs there, and why: the jump host (jumpHost) takes one
// more in the first.
func addressShortfalls(private []Subnet, cfg *config.Config) map[int]string {
	need, how := PrivateSubnetNeed(cfg, len(private))
	out := map[int]string{}
	for i, s := range private {
		n, h := need, how
		if i == 0 && cfg.HasJumpHost() {
			n, h = n+1, h+" + the jump host 1"
		}
		if s.AvailableIPs < n {
			out[i] = fmt.Sprintf("AvailableIpAddressCount is %d; each private subnet needs %d (%s)", s.AvailableIPs, n, h)
		}
	}
	return out
}

// checkAddresses refuses a new stack's subnets that are short of
// addresses. A running cluster's own nodes, load balancer and guard are
// already missing from AvailableIpAddressCount, so there a shortfall is
// only a warning (VPCWarnings): an error would block every `up` of a
// cluster that fits.
func checkAddresses(private []Subnet, cfg *config.Config, errs *config.ErrorList) {
	if cfg.DeployedBefore() {
		return
	}
	for i, why := range addressShortfalls(private, cfg) {
		errs.Invalid(private[i].Path, private[i].ID, why+": a roll or a scale-up would fail to launch nodes there; use a larger subnet or lower workerPools[].maxSize")
	}
}

func checkEgress(private []Subnet, d VPCDescription, cfg *config.Config, errs *config.ErrorList) {
	noRoute := false
	for _, s := range private {
		if s.RouteTableID == "" {
			continue // the VPC could not be read: reported once, at network.vpcId
		}
		t, ok := d.RouteTables[s.RouteTableID]
		switch {
		case !ok:
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("its route table %s was not read", s.RouteTableID))
			continue
		case t.ReadError != "":
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("its route table %s cannot be read (DescribeRouteTables): %s", t.ID, t.ReadError))
			continue
		}
		r, found := defaultRoute(t)
		if !found {
			noRoute = true
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("its route table %s has no default route (0.0.0.0/0; routes propagated from a virtual private gateway are not visible to this check): "+
				"the nodes pull every image from public registries and the etcd guard calls AWS APIs; route 0.0.0.0/0 to a NAT gateway, a transit gateway or a NAT instance", t.ID))
			continue
		}
		if ok, why := egress(r); !ok {
			errs.Invalid(s.Path, s.ID, fmt.Sprintf("its route table %s sends 0.0.0.0/0 to %s, %s; route it to a NAT gateway, a transit gateway or a NAT instance", t.ID, r.Target(), why))
		}
	}
	if noRoute {
		errs.Invalid("network.privateSubnetIds", nil, noNATDetail(d, cfg))
	}
}

// noNATDetail says what a private subnet without a default route lacks:
// the registries no endpoint serves, and the endpoints the stack's AWS
// callers would need, with those missing from the VPC.
func noNATDetail(d VPCDescription, cfg *config.Config) string {
	var missing, present []string
	for _, n := range NoNATEndpoints(cfg) {
		name := EndpointServiceName(cfg.Region, n.Service)
		kind := "interface"
		if n.Gateway {
			kind = "gateway"
		}
		label := fmt.Sprintf("%s (%s; %s)", name, kind, strings.Join(n.Callers, "; "))
		e, ok := d.Endpoints[name]
		switch {
		case !d.EndpointsRead:
			missing = append(missing, label+": not read")
		case ok && e.ReadError != "":
			missing = append(missing, fmt.Sprintf("%s: cannot be read (DescribeVpcEndpoints): %s", label, e.ReadError))
		case !ok || !e.Found:
			missing = append(missing, label)
		case e.Multiple:
			present = append(present, name)
		case e.State != "available":
			missing = append(missing, fmt.Sprintf("%s: %s is %s, not available", label, e.ID, e.State))
		case !n.Gateway && !e.PrivateDNSEnabled:
			missing = append(missing, fmt.Sprintf("%s: %s has private DNS off, so the SDKs' regional hostnames do not reach it", label, e.ID))
		default:
			present = append(present, name)
		}
	}
	msg := "no default route: this stack cannot run without egress, because the nodes pull their images from public registries no VPC endpoint serves (" +
		strings.Join(PublicRegistries, "; ") + ") and Talos' discovery service is discovery.talos.dev; besides a registry mirror, a private-only VPC would need these endpoints"
	if len(missing) > 0 {
		msg += ", missing here: " + strings.Join(missing, "; ")
	}
	if len(present) > 0 {
		msg += "; present: " + strings.Join(present, ", ")
	}
	return msg
}

// VPCWarnings are what works but deserves a look: what the preflight
// cannot verify.
func VPCWarnings(d VPCDescription, cfg *config.Config) config.Warnings {
	var w config.Warnings
	if d.DHCP != nil && d.DHCP.ReadError == "" && !slices.Contains(d.DHCP.DomainNameServers, AmazonProvidedDNS) {
		w.Add("network.vpcId", "%s: its DHCP option set %s has domain-name-servers %s, not AmazonProvidedDNS: the nodes resolve through those servers, which must answer the cluster endpoint's Route 53 private hosted zone, "+
			"the %s names and the AWS API endpoints (interface endpoints' private zones included) by forwarding to the VPC's Route 53 Resolver; the preflight cannot check that",
			d.ID, d.DHCP.ID, strings.Join(d.DHCP.DomainNameServers, ", "), DefaultDomainName(cfg.Region))
	}
	if cfg.DeployedBefore() {
		var private []Subnet
		for _, s := range d.Subnets {
			if !s.Public && s.ReadError == "" {
				private = append(private, s)
			}
		}
		shortfalls := addressShortfalls(private, cfg)
		for i := range private {
			if why, ok := shortfalls[i]; ok {
				w.Add(private[i].Path, "%s: %s, counting what this cluster already holds there as still needed (AWS's count leaves it out), so the real shortfall is smaller; "+
					"check that a roll's surge and every pool at maxSize fit", private[i].ID, why)
			}
		}
	}
	// A pod or service range that a private route table sends elsewhere:
	// pods could not reach those destinations.
	seen := map[string]bool{}
	for _, s := range d.Subnets {
		t, ok := d.RouteTables[s.RouteTableID]
		if s.Public || !ok || seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		for _, r := range t.Routes {
			dst, err := netip.ParsePrefix(r.Destination)
			if err != nil || dst.Bits() == 0 {
				continue
			}
			for _, k := range []struct{ key, cidr string }{{"podCidr", cfg.PodCIDR}, {"serviceCidr", cfg.ServiceCIDR}} {
				if p, err := netip.ParsePrefix(k.cidr); err == nil && p.Overlaps(dst) {
					w.Add(k.key, "%s overlaps %s, which route table %s sends to %s: pods cannot reach addresses in the overlap", k.cidr, r.Destination, t.ID, r.Target())
				}
			}
		}
	}
	return w
}

// Subnet role tags the cloud controller manager picks load balancer
// subnets by (cloud-provider-aws v1.35.0 aws.go TagNameSubnetPublicELB,
// TagNameSubnetInternalELB).
const (
	RoleELBTag         = "kubernetes.io/role/elb"
	RoleInternalELBTag = "kubernetes.io/role/internal-elb"
)

// SharedSubnetTags are the tags the stack puts on each existing subnet, by
// subnet ID, for one ec2.Tag resource per key (which changes nothing else
// on the subnet and deletes its key on destroy): this cluster's tag with
// value "shared" (the subnet is not the cluster's to delete) and the
// subnet's role tag (kubernetes.io/role/internal-elb on private subnets,
// kubernetes.io/role/elb on public ones), each unless the VPC's owner
// already set it, whatever its value (the CCM looks at the key only, and
// takes a subnet tagged "shared" for this cluster as the stack would tag
// it); and tagkeys.AddedTags, listing the keys it adds (space-separated:
// the characters AWS allows in tag values everywhere have no comma). A key is the
// stack's when that list on the subnet, or added (what the stack's last
// `up` recorded; nil on a first `up`), names it: a tag the stack added is
// present on later runs and stays managed, even after a failed `up`; one
// the owner set is never taken over, so destroy removes only what the
// stack added.
func SharedSubnetTags(d VPCDescription, clusterName string, added map[string]map[string]string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, s := range d.Subnets {
		if s.ReadError != "" {
			continue
		}
		out[s.ID] = subnetTagsToAdd(s, clusterName, added[s.ID])
	}
	return out
}

func subnetTagsToAdd(s Subnet, clusterName string, added map[string]string) map[string]string {
	marker := tagkeys.AddedTags(clusterName)
	ours := map[string]bool{}
	for k := range added {
		ours[k] = true
	}
	for _, k := range strings.Fields(s.Tags[marker]) {
		ours[k] = true
	}
	role := RoleInternalELBTag
	if s.Public {
		role = RoleELBTag
	}
	tags := map[string]string{}
	var keys []string
	for k, v := range map[string]string{tagkeys.Cluster(clusterName): "shared", role: "1"} {
		if _, present := s.Tags[k]; !present || ours[k] {
			tags[k] = v
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		tags[marker] = strings.Join(keys, " ")
	}
	return tags
}
