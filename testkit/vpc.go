package testkit

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// FakeVPC is an existing VPC as the pulumi-aws v6.83.4 data sources
// describe it (getVpc, getSubnet, getRouteTables, getRouteTable,
// getVpcDhcpOptions, getVpcEndpoint), answered in their output shapes.
type FakeVPC struct {
	ID string
	// CIDRBlocks: the primary first; each is "associated".
	CIDRBlocks         []string
	EnableDNSSupport   bool
	EnableDNSHostnames bool
	DHCPOptionsID      string
	DomainName         string
	DomainNameServers  []string
	MainRouteTableID   string
	Subnets            map[string]FakeSubnet
	RouteTables        map[string]FakeRouteTable
	// Endpoints by service name (com.amazonaws.<region>.<service>).
	Endpoints map[string]FakeEndpoint
	// Errors fail a read with the message given, keyed by what is read:
	// the VPC's, a subnet's, a route table's or a DHCP option set's ID, a
	// service name, or "routeTables" for the listing.
	Errors map[string]string
}

// FakeSubnet is a subnet's data-source attributes.
type FakeSubnet struct {
	VPCID, AZ, CIDR, State string
	AvailableIPs           int
	MapPublicIPOnLaunch    bool
	// HostnameType is privateDnsHostnameTypeOnLaunch.
	HostnameType string
	Tags         map[string]string
}

// FakeRouteTable is a route table: the subnets explicitly associated
// with it, and its routes in the data source's shape ({"cidrBlock":
// "0.0.0.0/0", "natGatewayId": "nat-…"}).
type FakeRouteTable struct {
	Subnets []string
	Routes  []map[string]any
}

// FakeEndpoint is a VPC endpoint; Multiple makes the read find several.
type FakeEndpoint struct {
	ID, Type, State   string
	PrivateDNSEnabled bool
	Multiple          bool
}

// HealthyVPC is an existing VPC in ap-southeast-1 that passes every
// preflight check for the dev and HA stacks: three zones, a private and
// a public subnet in each, private egress through a NAT gateway per
// zone, AWS's default DHCP options. Tests break one thing at a time.
func HealthyVPC() *FakeVPC {
	v := &FakeVPC{
		ID: "vpc-0fa1e0000000000a1", CIDRBlocks: []string{"10.20.0.0/16"},
		EnableDNSSupport: true, EnableDNSHostnames: true,
		DHCPOptionsID: "dopt-0fa1e0000000000d1", DomainName: "ap-southeast-1.compute.internal", DomainNameServers: []string{"AmazonProvidedDNS"},
		MainRouteTableID: "rtb-0fa1e000000000000",
		Subnets:          map[string]FakeSubnet{}, RouteTables: map[string]FakeRouteTable{
			"rtb-0fa1e000000000000": {},
			"rtb-0fa1e0000000000b0": {Routes: []map[string]any{{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-0fa1e0000000000f1"}}},
		},
		Endpoints: map[string]FakeEndpoint{},
	}
	public := v.RouteTables["rtb-0fa1e0000000000b0"]
	for i, z := range []string{"a", "b", "c"} {
		priv, pub := fmt.Sprintf("subnet-0fa1e00000000000%d", i+1), fmt.Sprintf("subnet-0fa1e0000000000b%d", i+1)
		v.Subnets[priv] = FakeSubnet{VPCID: v.ID, AZ: "ap-southeast-1" + z, CIDR: fmt.Sprintf("10.20.%d.0/20", 16*i), State: "available",
			AvailableIPs: 4000, HostnameType: "ip-name", Tags: map[string]string{"Name": "shared-private-" + z}}
		v.Subnets[pub] = FakeSubnet{VPCID: v.ID, AZ: "ap-southeast-1" + z, CIDR: fmt.Sprintf("10.20.%d.0/24", 200+i), State: "available",
			AvailableIPs: 250, MapPublicIPOnLaunch: true, HostnameType: "ip-name", Tags: map[string]string{"Name": "shared-public-" + z, "kubernetes.io/role/elb": "1"}}
		v.RouteTables[fmt.Sprintf("rtb-0fa1e0000000000a%d", i+1)] = FakeRouteTable{Subnets: []string{priv},
			Routes: []map[string]any{{"cidrBlock": "0.0.0.0/0", "natGatewayId": fmt.Sprintf("nat-0fa1e0000000000c%d", i+1)}}}
		public.Subnets = append(public.Subnets, pub)
	}
	v.RouteTables["rtb-0fa1e0000000000b0"] = public
	return v
}

// HealthyVPCPrivateSubnets and HealthyVPCPublicSubnets are HealthyVPC's
// subnets in zone order.
var (
	HealthyVPCPrivateSubnets = []string{"subnet-0fa1e000000000001", "subnet-0fa1e000000000002", "subnet-0fa1e000000000003"}
	HealthyVPCPublicSubnets  = []string{"subnet-0fa1e0000000000b1", "subnet-0fa1e0000000000b2", "subnet-0fa1e0000000000b3"}
)

func (v *FakeVPC) fail(key string) error {
	if msg, ok := v.Errors[key]; ok {
		return fmt.Errorf("%s", msg)
	}
	return nil
}

func str(args resource.PropertyMap, k string) string {
	if p := args[resource.PropertyKey(k)]; p.IsString() {
		return p.StringValue()
	}
	return ""
}

// call answers one data-source invoke as the provider would, with its
// own "no matching …" errors for what does not exist.
func (v *FakeVPC) call(token string, args resource.PropertyMap) (resource.PropertyMap, error) {
	switch token {
	case "aws:ec2/getVpc:getVpc":
		id := str(args, "id")
		if err := v.fail(id); err != nil {
			return nil, err
		}
		if id != v.ID {
			return nil, fmt.Errorf("no matching EC2 VPC found")
		}
		var assoc []any
		for i, c := range v.CIDRBlocks {
			assoc = append(assoc, map[string]any{"associationId": fmt.Sprintf("vpc-cidr-assoc-%d", i), "cidrBlock": c, "state": "associated"})
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": v.ID, "cidrBlock": v.CIDRBlocks[0], "cidrBlockAssociations": assoc,
			"enableDnsSupport": v.EnableDNSSupport, "enableDnsHostnames": v.EnableDNSHostnames,
			"dhcpOptionsId": v.DHCPOptionsID, "mainRouteTableId": v.MainRouteTableID, "state": "available",
		}), nil
	case "aws:ec2/getSubnet:getSubnet":
		id := str(args, "id")
		if err := v.fail(id); err != nil {
			return nil, err
		}
		s, ok := v.Subnets[id]
		if !ok {
			return nil, fmt.Errorf("no matching EC2 Subnet found")
		}
		tags := map[string]any{}
		for k, t := range s.Tags {
			tags[k] = t
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": id, "vpcId": s.VPCID, "availabilityZone": s.AZ, "cidrBlock": s.CIDR, "state": s.State,
			"availableIpAddressCount": s.AvailableIPs, "mapPublicIpOnLaunch": s.MapPublicIPOnLaunch,
			"privateDnsHostnameTypeOnLaunch": s.HostnameType, "tags": tags,
		}), nil
	case "aws:ec2/getRouteTables:getRouteTables":
		if err := v.fail("routeTables"); err != nil {
			return nil, err
		}
		var want []string
		for _, f := range args["filters"].ArrayValue() {
			if f.ObjectValue()["name"].StringValue() == "association.subnet-id" {
				for _, x := range f.ObjectValue()["values"].ArrayValue() {
					want = append(want, x.StringValue())
				}
			}
		}
		ids := []any{}
		for _, id := range slices.Sorted(maps.Keys(v.RouteTables)) {
			if slices.ContainsFunc(v.RouteTables[id].Subnets, func(s string) bool { return slices.Contains(want, s) }) {
				ids = append(ids, id)
			}
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": "ap-southeast-1", "ids": ids}), nil
	case "aws:ec2/getRouteTable:getRouteTable":
		id := str(args, "routeTableId")
		if err := v.fail(id); err != nil {
			return nil, err
		}
		t, ok := v.RouteTables[id]
		if !ok {
			return nil, fmt.Errorf("query returned no results. Please change your search criteria and try again")
		}
		var assoc []any
		if id == v.MainRouteTableID {
			assoc = append(assoc, map[string]any{"main": true, "routeTableId": id})
		}
		subnets := append([]string(nil), t.Subnets...)
		sort.Strings(subnets)
		for _, s := range subnets {
			assoc = append(assoc, map[string]any{"main": false, "routeTableId": id, "subnetId": s})
		}
		var routes []any
		for _, r := range t.Routes {
			routes = append(routes, r)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": id, "routeTableId": id, "routes": routes, "associations": assoc, "vpcId": v.ID}), nil
	case "aws:ec2/getVpcDhcpOptions:getVpcDhcpOptions":
		id := str(args, "dhcpOptionsId")
		if err := v.fail(id); err != nil {
			return nil, err
		}
		if id != v.DHCPOptionsID {
			return nil, fmt.Errorf("no matching EC2 DHCP Options Set found")
		}
		var servers []any
		for _, s := range v.DomainNameServers {
			servers = append(servers, s)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": id, "dhcpOptionsId": id, "domainName": v.DomainName, "domainNameServers": servers}), nil
	case "aws:ec2/getVpcEndpoint:getVpcEndpoint":
		name := str(args, "serviceName")
		if err := v.fail(name); err != nil {
			return nil, err
		}
		e, ok := v.Endpoints[name]
		switch {
		case !ok || str(args, "vpcId") != v.ID:
			return nil, fmt.Errorf("no matching EC2 VPC Endpoint found")
		case e.Multiple:
			return nil, fmt.Errorf("multiple EC2 VPC Endpoints matched; use additional constraints to reduce matches to a single EC2 VPC Endpoint")
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": e.ID, "serviceName": name, "vpcEndpointType": e.Type, "state": e.State,
			"privateDnsEnabled": e.PrivateDNSEnabled, "vpcId": v.ID}), nil
	}
	return resource.PropertyMap{}, nil
}
