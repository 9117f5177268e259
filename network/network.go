// Package network builds the VPC, subnets, gateways, routes and both network
// load balancers of a Talos cluster.
package network

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/ports"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
	"github.com/talos-aws/talos-aws/internal/tags"
)

// Args configure the network stage.
type Args struct {
	ClusterName  string
	VPCCIDR      string
	AZs          []string
	NATStrategy  string
	AdminCIDRs   []string
	IngressCIDRs []string
	// Tags go on every resource; they must include the cluster tag.
	Tags map[string]string
	// PrivateAPI serves the Kubernetes API (6443) and the Talos API (50000)
	// on the internal load balancer only, to AdminCIDRs; PrivateIngress
	// serves HTTPS ingress (443) there, to IngressCIDRs. A public load
	// balancer exists only for what stays public.
	PrivateAPI, PrivateIngress bool
	// StableZone, when set, is the Route 53 private hosted zone of the
	// stable cluster endpoint: its "api" record aliases the internal load
	// balancer (config.StableHost).
	StableZone string
	// PublicName, in the user's public hosted zone PublicZoneID, aliases the
	// public load balancer.
	PublicName, PublicZoneID string
	// Existing, when set, is the user's VPC: nothing of it is created.
	Existing *Existing
	// JumpHost, with PrivateAPI, adds the SSM jump host (jumphost.go) in
	// Region.
	JumpHost bool
	Region   string
}

// Existing is a VPC and subnets the stack deploys into (network in
// config), as the preflight read them.
type Existing struct {
	VPCID, CIDR                       string
	PrivateSubnetIDs, PublicSubnetIDs []string
	PrivateSubnetCIDRs                []string
	// SubnetTags are the tags the stack adds, by subnet ID
	// (preflight.SharedSubnetTags).
	SubnetTags map[string]map[string]string
}

// Network is the network stage's component resource.
type Network struct {
	pulumi.ResourceState

	VPCID              pulumi.StringOutput
	VpcCIDR            string
	AZs                []string
	PublicSubnetIDs    pulumi.StringArrayOutput
	PrivateSubnetIDs   pulumi.StringArrayOutput
	PrivateSubnetCIDRs []string
	NATGatewayIDs      pulumi.StringArrayOutput

	InternalLBDNSName pulumi.StringOutput
	// JumpHostID is the SSM jump host's instance ID (jumpHost), else the
	// zero output.
	JumpHostID pulumi.StringOutput
	// PublicLBDNSName is "" when nothing is public.
	PublicLBDNSName pulumi.StringOutput
	// APIHost is the host clients outside the nodes (kubectl, talosctl, the
	// bootstrap, the readiness waits) reach the APIs by: the public name,
	// else the public load balancer's DNS name, or with a private API the
	// internal one's.
	APIHost pulumi.StringOutput
	// ControlPlaneTargetGroupARNs and IngressTargetGroupARNs are the target
	// groups the control-plane and worker groups register in.
	ControlPlaneTargetGroupARNs pulumi.StringArray
	IngressTargetGroupARNs      pulumi.StringArray
	// Security groups of the internal and public NLBs; node groups admit
	// load-balancer traffic from these.
	InternalLBSecurityGroupID pulumi.StringOutput
	PublicLBSecurityGroupID   pulumi.StringOutput
	// Control-plane target groups (client IP preservation off).
	InternalAPITargetGroupARN    pulumi.StringOutput
	InternalTrustdTargetGroupARN pulumi.StringOutput
	PublicAPITargetGroupARN      pulumi.StringOutput
	PublicTalosTargetGroupARN    pulumi.StringOutput
	// Worker target group for HTTPS ingress.
	IngressTargetGroupARN pulumi.StringOutput
	// CIAccessSecurityGroupID is the rule-less group on the public NLB that
	// CI workflows add their runner's /32 to for the length of a run.
	CIAccessSecurityGroupID pulumi.StringOutput
	// PrivateEgress are the private route tables and their associations:
	// nodes booted before them have no route to the NAT gateways.
	PrivateEgress []pulumi.Resource
}

// New creates the network stage.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Network, error) {
	n := &Network{VpcCIDR: args.VPCCIDR, AZs: args.AZs}
	if err := ctx.RegisterComponentResource("talos-aws:network:Network", name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	tag := func(resName string, extra map[string]string) pulumi.StringMap {
		return tags.For(args.Tags, args.ClusterName+"-"+resName, extra)
	}
	var v *vpcParts
	var err error
	if args.Existing != nil {
		v, err = existingVPC(ctx, name, args, parent)
	} else {
		v, err = newVPC(ctx, name, args, tag, parent)
	}
	if err != nil {
		return nil, err
	}
	n.VpcCIDR, n.PrivateSubnetCIDRs, n.PrivateEgress = v.cidr, v.privateCIDRs, v.egress
	vpc, publicIDs, privateIDs, natIDs := v, v.publicIDs, v.privateIDs, v.natIDs

	lbs, err := newLoadBalancers(ctx, name, args, n.PrivateSubnetCIDRs, vpc.ID(), publicIDs, privateIDs, v.igw, tag, parent)
	if err != nil {
		return nil, err
	}
	if err := newDNS(ctx, name, args, vpc.ID(), lbs, tag, parent); err != nil {
		return nil, err
	}

	n.VPCID = vpc.ID().ToStringOutput()
	n.PublicSubnetIDs = publicIDs.ToStringArrayOutput()
	n.PrivateSubnetIDs = privateIDs.ToStringArrayOutput()
	n.NATGatewayIDs = natIDs.ToStringArrayOutput()
	n.InternalLBDNSName = lbs.internal.DnsName
	n.PublicLBDNSName = pulumi.String("").ToStringOutput()
	n.PublicLBSecurityGroupID = pulumi.String("").ToStringOutput()
	if lbs.public != nil {
		n.PublicLBDNSName = lbs.public.DnsName
		n.PublicLBSecurityGroupID = lbs.publicSG.ID().ToStringOutput()
	}
	n.InternalLBSecurityGroupID = lbs.internalSG.ID().ToStringOutput()
	n.InternalAPITargetGroupARN = lbs.internalAPI.Arn
	n.InternalTrustdTargetGroupARN = lbs.internalTrustd.Arn
	// In the order the control-plane group has always listed them.
	n.ControlPlaneTargetGroupARNs = pulumi.StringArray{lbs.internalAPI.Arn, lbs.internalTrustd.Arn}
	if args.PrivateAPI {
		n.ControlPlaneTargetGroupARNs = append(n.ControlPlaneTargetGroupARNs, lbs.internalTalos.Arn)
		n.APIHost = lbs.internal.DnsName
	} else {
		n.PublicAPITargetGroupARN = lbs.publicAPI.Arn
		n.PublicTalosTargetGroupARN = lbs.publicTalos.Arn
		n.ControlPlaneTargetGroupARNs = append(n.ControlPlaneTargetGroupARNs, lbs.publicAPI.Arn, lbs.publicTalos.Arn)
		n.APIHost = lbs.public.DnsName
		if args.PublicName != "" {
			n.APIHost = pulumi.String(args.PublicName).ToStringOutput()
		}
	}
	n.IngressTargetGroupARN = lbs.ingress.Arn
	n.IngressTargetGroupARNs = pulumi.StringArray{lbs.ingress.Arn}
	n.CIAccessSecurityGroupID = lbs.ciSG.ID().ToStringOutput()
	if args.JumpHost && args.PrivateAPI {
		jump, err := newJumpHost(ctx, name, args, v, lbs, tag, parent)
		if err != nil {
			return nil, err
		}
		n.JumpHostID = jump.ID().ToStringOutput()
	}

	outs := pulumi.Map{
		"vpcId":                        n.VPCID,
		"publicSubnetIds":              n.PublicSubnetIDs,
		"privateSubnetIds":             n.PrivateSubnetIDs,
		"internalLbDnsName":            n.InternalLBDNSName,
		"publicLbDnsName":              n.PublicLBDNSName,
		"internalLbSecurityGroupId":    n.InternalLBSecurityGroupID,
		"publicLbSecurityGroupId":      n.PublicLBSecurityGroupID,
		"internalApiTargetGroupArn":    n.InternalAPITargetGroupARN,
		"internalTrustdTargetGroupArn": n.InternalTrustdTargetGroupARN,
		"ingressTargetGroupArn":        n.IngressTargetGroupARN,
		"ciAccessSecurityGroupId":      n.CIAccessSecurityGroupID,
	}
	if n.JumpHostID != (pulumi.StringOutput{}) {
		outs["jumpHostId"] = n.JumpHostID
	}
	if !args.PrivateAPI {
		outs["publicApiTargetGroupArn"] = n.PublicAPITargetGroupARN
		outs["publicTalosTargetGroupArn"] = n.PublicTalosTargetGroupARN
	}
	if err := ctx.RegisterResourceOutputs(n, outs); err != nil {
		return nil, err
	}
	return n, nil
}

type loadBalancers struct {
	// public and publicSG are nil when nothing is public.
	internal, public           *lb.LoadBalancer
	internalSG, publicSG, ciSG *ec2.SecurityGroup
	// internalTalos with a private API; publicAPI and publicTalos with a
	// public one; ingress on whichever load balancer serves 443.
	internalAPI, internalTrustd, internalTalos, publicAPI, publicTalos, ingress *lb.TargetGroup
}

type tagger func(resName string, extra map[string]string) pulumi.StringMap

// lbRule is one security-group rule of a load balancer, kept as data so the
// whole matrix is visible at a glance and testable.
type lbRule struct {
	name  string
	dir   string // ingress | egress
	port  int
	cidrs []string
}

// lbRules returns the security-group rules of the internal and public NLBs.
// Egress only reaches the private subnets, where every target lives. What
// the public one serves with a public API and ingress, the internal one
// serves when they are private, to the same CIDRs.
func lbRules(args Args, privateCIDRs []string) (internal, public []lbRule) {
	internal = []lbRule{
		{"api-in", "ingress", ports.KubeAPI, privateCIDRs},
		{"api-out", "egress", ports.KubeAPI, privateCIDRs},
		{"trustd-in", "ingress", ports.Trustd, privateCIDRs},
		{"trustd-out", "egress", ports.Trustd, privateCIDRs},
	}
	apiRules := []lbRule{
		{"api-in", "ingress", ports.KubeAPI, args.AdminCIDRs},
		{"talos-in", "ingress", ports.TalosAPI, args.AdminCIDRs},
		{"api-out", "egress", ports.KubeAPI, privateCIDRs},
		{"talos-out", "egress", ports.TalosAPI, privateCIDRs},
	}
	ingressRules := []lbRule{{"ingress-out", "egress", ports.IngressHTTPS, privateCIDRs}}
	if len(args.IngressCIDRs) > 0 {
		ingressRules = append(ingressRules, lbRule{"https-in", "ingress", ports.HTTPS, args.IngressCIDRs})
	}
	if args.PrivateAPI {
		// Admins' rules beside the nodes' on the internal group (the
		// nodes' api-out already covers 6443).
		internal = append(internal,
			lbRule{"admin-api-in", "ingress", ports.KubeAPI, args.AdminCIDRs},
			lbRule{"admin-talos-in", "ingress", ports.TalosAPI, args.AdminCIDRs},
			lbRule{"talos-out", "egress", ports.TalosAPI, privateCIDRs})
	} else {
		public = append(public, apiRules...)
	}
	if args.PrivateIngress {
		internal = append(internal, ingressRules...)
	} else {
		public = append(public, ingressRules...)
	}
	return internal, public
}

func newLoadBalancers(ctx *pulumi.Context, name string, args Args, privateCIDRs []string, vpcID pulumi.IDOutput,
	publicIDs, privateIDs pulumi.StringArray, igw *ec2.InternetGateway, tag tagger, parent pulumi.ResourceOption) (*loadBalancers, error) {
	names := config.NamesFor(args.ClusterName)
	internalRules, publicRules := lbRules(args, privateCIDRs)
	out := &loadBalancers{}
	needsPublic := !args.PrivateAPI || !args.PrivateIngress
	var err error
	if out.internalSG, err = newLBSecurityGroup(ctx, name+"-int-lb", "int-lb", "internal API load balancer", vpcID, internalRules, tag, parent); err != nil {
		return nil, err
	}
	if needsPublic {
		if out.publicSG, err = newLBSecurityGroup(ctx, name+"-pub-lb", "pub-lb", "public load balancer", vpcID, publicRules, tag, parent); err != nil {
			return nil, err
		}
	}
	// The CI group has no rules Pulumi knows of: workflows add the runner's
	// /32 before `pulumi up` and remove it after. Its ingress and egress are
	// never managed here (no inline rules, no rule resources, and ignored),
	// so a run started while a rule exists does not revert it. The
	// bridged aws_security_group revokes AWS's default allow-all egress on
	// create; egress to the targets comes from the load balancer's own
	// group. It sits on whichever load balancer serves the APIs.
	if out.ciSG, err = ec2.NewSecurityGroup(ctx, name+"-ci-access", &ec2.SecurityGroupArgs{
		VpcId:       vpcID,
		Description: pulumi.String("talos-aws CI runner access to the public NLB; rules are added and removed by CI, not Pulumi"),
		// Guarded: no node role may change it (compute.ControlPlanePolicy).
		Tags: tag("ci-access", map[string]string{tagkeys.CIAccess: args.ClusterName, tagkeys.Guarded: "true"}),
	}, parent, pulumi.IgnoreChanges([]string{"ingress", "egress"})); err != nil {
		return nil, err
	}
	internalSGs := []*ec2.SecurityGroup{out.internalSG}
	if args.PrivateAPI {
		internalSGs = append(internalSGs, out.ciSG)
	}
	if out.internal, err = newNLB(ctx, name+"-int", names.InternalLB, true, privateIDs, internalSGs, tag, parent); err != nil {
		return nil, err
	}
	if needsPublic {
		publicSGs := []*ec2.SecurityGroup{out.publicSG}
		if !args.PrivateAPI {
			publicSGs = append(publicSGs, out.ciSG)
		}
		// An internet-facing load balancer cannot be created in a VPC
		// without an attached internet gateway ("InvalidSubnet: VPC ... has
		// no internet gateway"); nothing else orders the two, so say it.
		var after []pulumi.ResourceOption
		if igw != nil { // an existing VPC has its own
			after = append(after, pulumi.DependsOn([]pulumi.Resource{igw}))
		}
		if out.public, err = newNLB(ctx, name+"-pub", names.PublicLB, false, publicIDs, publicSGs, tag, parent, after...); err != nil {
			return nil, err
		}
	}
	type listener struct {
		res    string
		tgName string
		lb     *lb.LoadBalancer
		port   int
		target int
		dst    **lb.TargetGroup
	}
	listeners := []listener{
		{name + "-int-api", names.InternalAPITG, out.internal, ports.KubeAPI, ports.KubeAPI, &out.internalAPI},
		{name + "-trustd", names.InternalTrustdTG, out.internal, ports.Trustd, ports.Trustd, &out.internalTrustd},
	}
	if args.PrivateAPI {
		listeners = append(listeners, listener{name + "-int-talos", names.InternalTalosTG, out.internal, ports.TalosAPI, ports.TalosAPI, &out.internalTalos})
	} else {
		listeners = append(listeners,
			listener{name + "-api", names.PublicAPITG, out.public, ports.KubeAPI, ports.KubeAPI, &out.publicAPI},
			listener{name + "-talos", names.PublicTalosTG, out.public, ports.TalosAPI, ports.TalosAPI, &out.publicTalos})
	}
	if args.PrivateIngress {
		listeners = append(listeners, listener{name + "-int-ingress", names.InternalIngressTG, out.internal, ports.HTTPS, ports.IngressHTTPS, &out.ingress})
	} else {
		listeners = append(listeners, listener{name + "-ingress", names.PublicIngressTG, out.public, ports.HTTPS, ports.IngressHTTPS, &out.ingress})
	}
	for _, l := range listeners {
		tg, err := lb.NewTargetGroup(ctx, l.res, &lb.TargetGroupArgs{
			Name:       pulumi.String(l.tgName),
			Port:       pulumi.Int(l.target),
			Protocol:   pulumi.String("TCP"),
			TargetType: pulumi.String("instance"),
			VpcId:      vpcID,
			// Off everywhere: a node that calls a load balancer it is a target
			// of can be routed to itself, and with the client IP preserved the
			// kernel drops that hairpin connection. Targets see the NLB's IP.
			PreserveClientIp:    pulumi.String("false"),
			DeregistrationDelay: pulumi.Int(15),
			HealthCheck: &lb.TargetGroupHealthCheckArgs{
				Protocol:           pulumi.String("TCP"),
				Port:               pulumi.String("traffic-port"),
				Interval:           pulumi.Int(10),
				HealthyThreshold:   pulumi.Int(2),
				UnhealthyThreshold: pulumi.Int(2),
			},
			Tags: tag(l.tgName, nil),
		}, parent)
		if err != nil {
			return nil, err
		}
		*l.dst = tg
		if _, err := lb.NewListener(ctx, l.res, &lb.ListenerArgs{
			LoadBalancerArn: l.lb.Arn,
			Port:            pulumi.Int(l.port),
			Protocol:        pulumi.String("TCP"),
			DefaultActions: lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{
				Type:           pulumi.String("forward"),
				TargetGroupArn: tg.Arn,
			}},
			Tags: tag(l.tgName, nil),
		}, parent); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func newLBSecurityGroup(ctx *pulumi.Context, name, short, what string, vpcID pulumi.IDOutput, rules []lbRule, tag tagger, parent pulumi.ResourceOption) (*ec2.SecurityGroup, error) {
	sg, err := ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
		VpcId:       vpcID,
		Description: pulumi.String("talos-aws " + what),
		// Guarded: no node role may change it (compute.ControlPlanePolicy),
		// so no pod opens the API beyond adminCidrs or closes it.
		Tags: tag(short, map[string]string{tagkeys.Guarded: "true"}),
	}, parent)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if _, err := ec2.NewSecurityGroupRule(ctx, name+"-"+r.name, &ec2.SecurityGroupRuleArgs{
			SecurityGroupId: sg.ID(),
			Type:            pulumi.String(r.dir),
			Protocol:        pulumi.String("tcp"),
			FromPort:        pulumi.Int(r.port),
			ToPort:          pulumi.Int(r.port),
			CidrBlocks:      pulumi.ToStringArray(r.cidrs),
			Description:     pulumi.String(r.name + " " + strconv.Itoa(r.port)),
		}, parent); err != nil {
			return nil, err
		}
	}
	return sg, nil
}

func newNLB(ctx *pulumi.Context, res, lbName string, internal bool, subnets pulumi.StringArray, sgs []*ec2.SecurityGroup, tag tagger, parent pulumi.ResourceOption, opts ...pulumi.ResourceOption) (*lb.LoadBalancer, error) {
	var ids pulumi.StringArray
	for _, sg := range sgs {
		ids = append(ids, sg.ID())
	}
	return lb.NewLoadBalancer(ctx, res, &lb.LoadBalancerArgs{
		Name:                         pulumi.String(lbName),
		Internal:                     pulumi.Bool(internal),
		LoadBalancerType:             pulumi.String("network"),
		Subnets:                      subnets,
		SecurityGroups:               ids,
		EnableCrossZoneLoadBalancing: pulumi.Bool(true),
		Tags:                         tag(lbName, nil),
	}, append([]pulumi.ResourceOption{parent}, opts...)...)
}

// vpcParts is the VPC the cluster lives in, created or existing.
type vpcParts struct {
	id                    pulumi.IDOutput
	cidr                  string
	publicIDs, privateIDs pulumi.StringArray
	natIDs                pulumi.StringArray
	privateCIDRs          []string
	igw                   *ec2.InternetGateway // nil in an existing VPC
	egress                []pulumi.Resource
}

// ID is the VPC's ID.
func (v *vpcParts) ID() pulumi.IDOutput { return v.id }

// newVPC creates the cluster's own VPC: per zone a public and a private
// subnet, the internet gateway, NAT gateways and routes.
func newVPC(ctx *pulumi.Context, name string, args Args, tag tagger, parent pulumi.ResourceOption) (*vpcParts, error) {
	plan, err := PlanSubnets(args.VPCCIDR, args.AZs)
	if err != nil {
		return nil, err
	}
	out := &vpcParts{cidr: args.VPCCIDR}
	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(args.VPCCIDR),
		EnableDnsSupport:   pulumi.Bool(true),
		EnableDnsHostnames: pulumi.Bool(true),
		Tags:               tag("vpc", nil),
	}, parent)
	if err != nil {
		return nil, err
	}
	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  tag("igw", nil),
	}, parent)
	if err != nil {
		return nil, err
	}

	publicRT, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{
			CidrBlock: pulumi.String("0.0.0.0/0"),
			GatewayId: igw.ID(),
		}},
		Tags: tag("public", nil),
	}, parent)
	if err != nil {
		return nil, err
	}

	var publicIDs, privateIDs, natIDs pulumi.StringArray
	var nats []*ec2.NatGateway
	for i, az := range args.AZs {
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%s", name, az), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			AvailabilityZone:    pulumi.String(az),
			CidrBlock:           pulumi.String(plan.Public[i].CIDR),
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags:                tag("public-"+az, map[string]string{"kubernetes.io/role/elb": "1"}),
		}, parent)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%s", name, az), &ec2.RouteTableAssociationArgs{
			SubnetId:     pub.ID(),
			RouteTableId: publicRT.ID(),
		}, parent); err != nil {
			return nil, err
		}
		publicIDs = append(publicIDs, pub.ID())

		if args.NATStrategy == config.NATPerAZ || i == 0 {
			eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%s", name, az), &ec2.EipArgs{
				Domain: pulumi.String("vpc"),
				Tags:   tag("nat-"+az, nil),
			}, parent)
			if err != nil {
				return nil, err
			}
			nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%s", name, az), &ec2.NatGatewayArgs{
				AllocationId: eip.ID(),
				SubnetId:     pub.ID(),
				Tags:         tag("nat-"+az, nil),
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
			if err != nil {
				return nil, err
			}
			nats = append(nats, nat)
			natIDs = append(natIDs, nat.ID())
		}
	}

	for i, az := range args.AZs {
		// Under perAz each private subnet leaves through the NAT in its own AZ,
		// so losing one AZ does not cut the others off.
		nat := nats[0]
		if args.NATStrategy == config.NATPerAZ {
			nat = nats[i]
		}
		rt, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-%s", name, az), &ec2.RouteTableArgs{
			VpcId: vpc.ID(),
			Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{
				CidrBlock:    pulumi.String("0.0.0.0/0"),
				NatGatewayId: nat.ID(),
			}},
			Tags: tag("private-"+az, nil),
		}, parent)
		if err != nil {
			return nil, err
		}
		priv, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%s", name, az), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			AvailabilityZone:    pulumi.String(az),
			CidrBlock:           pulumi.String(plan.Private[i].CIDR),
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags:                tag("private-"+az, map[string]string{"kubernetes.io/role/internal-elb": "1"}),
		}, parent)
		if err != nil {
			return nil, err
		}
		assoc, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%s", name, az), &ec2.RouteTableAssociationArgs{
			SubnetId:     priv.ID(),
			RouteTableId: rt.ID(),
		}, parent)
		if err != nil {
			return nil, err
		}
		out.egress = append(out.egress, rt, assoc)
		privateIDs = append(privateIDs, priv.ID())
		out.privateCIDRs = append(out.privateCIDRs, plan.Private[i].CIDR)
	}

	out.id, out.igw = vpc.ID(), igw
	out.publicIDs, out.privateIDs, out.natIDs = publicIDs, privateIDs, natIDs
	return out, nil
}

// existingVPC takes the user's VPC and subnets as they are (the preflight
// checked them): it creates nothing in them but this cluster's tags, one
// ec2.Tag per key, which change nothing else on a subnet and go with a
// destroy.
func existingVPC(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption) (*vpcParts, error) {
	e := args.Existing
	out := &vpcParts{id: pulumi.ID(e.VPCID).ToIDOutput(), cidr: e.CIDR, privateCIDRs: e.PrivateSubnetCIDRs}
	for _, id := range e.PrivateSubnetIDs {
		out.privateIDs = append(out.privateIDs, pulumi.String(id))
	}
	for _, id := range e.PublicSubnetIDs {
		out.publicIDs = append(out.publicIDs, pulumi.String(id))
	}
	ids := make([]string, 0, len(e.SubnetTags))
	for id := range e.SubnetTags {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		tag := func(k string, opts ...pulumi.ResourceOption) (*ec2.Tag, error) {
			return ec2.NewTag(ctx, fmt.Sprintf("%s-%s-%s", name, id, tagResourceKey(k)), &ec2.TagArgs{
				ResourceId: pulumi.String(id), Key: pulumi.String(k), Value: pulumi.String(e.SubnetTags[id][k]),
			}, append([]pulumi.ResourceOption{parent}, opts...)...)
		}
		// The list of what the stack adds goes first: a failed `up` leaves
		// no tag of its own that the subnet does not name
		// (preflight.SharedSubnetTags).
		var after []pulumi.ResourceOption
		marker := tagkeys.AddedTags(args.ClusterName)
		if _, ok := e.SubnetTags[id][marker]; ok {
			m, err := tag(marker)
			if err != nil {
				return nil, err
			}
			after = append(after, pulumi.DependsOn([]pulumi.Resource{m}))
		}
		keys := make([]string, 0, len(e.SubnetTags[id]))
		for k := range e.SubnetTags[id] {
			if k != marker {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, err := tag(k, after...); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// tagResourceKey is a tag key as part of a resource name.
func tagResourceKey(k string) string {
	return strings.NewReplacer("/", "-", ".", "-", ":", "-").Replace(k)
}
