package preflight

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
)

// DescribeVPC reads the existing VPC of network (config.Network), its
// subnets, their route tables, its DHCP option set and, when a private
// subnet has no default route, the VPC endpoints NoNATEndpoints names:
// read-only invokes of pulumi-aws v6.83.4 data sources, through the
// stack's AWS provider (opts), before any resource. A failed read is
// recorded in the description for CheckVPC to report at its key; the
// error is only for a configuration without network.
//
// AWS calls made (for the runner's IAM policy): ec2:DescribeVpcs,
// ec2:DescribeVpcAttribute (the provider reads enableDnsSupport and
// enableDnsHostnames with it), ec2:DescribeDhcpOptions,
// ec2:DescribeSubnets, ec2:DescribeRouteTables, ec2:DescribeVpcEndpoints,
// ec2:DescribePrefixLists (the endpoint read) and
// ec2:DescribeNetworkInterfaces (the route table read, for routes to an
// interface).
func DescribeVPC(ctx *pulumi.Context, cfg *config.Config, opts ...pulumi.InvokeOption) (VPCDescription, error) {
	n := cfg.Network
	if !n.Set() {
		return VPCDescription{}, errors.New("preflight: DescribeVPC needs network.vpcId and network.privateSubnetIds")
	}
	d := VPCDescription{ID: n.VPCID, RouteTables: map[string]RouteTable{}}

	var wg sync.WaitGroup
	var mu sync.Mutex
	// The VPC and every subnet are independent reads: run them together.
	wg.Add(1)
	go func() {
		defer wg.Done()
		readVPC(ctx, &d, opts)
	}()
	type ref struct {
		id, path string
		public   bool
	}
	var refs []ref
	for i, id := range n.PrivateSubnetIDs {
		refs = append(refs, ref{id, fmt.Sprintf("network.privateSubnetIds[%d]", i), false})
	}
	for i, id := range n.PublicSubnetIDs {
		refs = append(refs, ref{id, fmt.Sprintf("network.publicSubnetIds[%d]", i), true})
	}
	d.Subnets = make([]Subnet, len(refs))
	for i, r := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := readSubnet(ctx, r.id, opts)
			s.Path, s.Public = r.path, r.public
			mu.Lock()
			d.Subnets[i] = s
			mu.Unlock()
		}()
	}
	wg.Wait()
	if d.DHCPOptionsID != "" && d.DHCPOptionsID != "default" {
		d.DHCP = readDHCP(ctx, d.DHCPOptionsID, opts)
	}
	readRouteTables(ctx, &d, opts)

	needEndpoints := false
	for _, s := range d.Subnets {
		if t, ok := d.RouteTables[s.RouteTableID]; !s.Public && ok && t.ReadError == "" {
			if _, found := defaultRoute(t); !found {
				needEndpoints = true
			}
		}
	}
	if needEndpoints {
		d.Endpoints = map[string]Endpoint{}
		for _, e := range NoNATEndpoints(cfg) {
			name := EndpointServiceName(cfg.Region, e.Service)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ep := readEndpoint(ctx, d.ID, name, opts)
				mu.Lock()
				d.Endpoints[name] = ep
				mu.Unlock()
			}()
		}
		wg.Wait()
		d.EndpointsRead = true
	}
	return d, nil
}

func readVPC(ctx *pulumi.Context, d *VPCDescription, opts []pulumi.InvokeOption) {
	id := d.ID
	v, err := ec2.LookupVpc(ctx, &ec2.LookupVpcArgs{Id: &id}, opts...)
	if err != nil {
		d.ReadError = firstLine(err.Error())
		return
	}
	d.EnableDNSSupport, d.EnableDNSHostnames = v.EnableDnsSupport, v.EnableDnsHostnames
	d.DHCPOptionsID, d.MainRouteTableID = v.DhcpOptionsId, v.MainRouteTableId
	d.CIDRBlocks = []string{v.CidrBlock}
	for _, a := range v.CidrBlockAssociations {
		if a.State == "associated" && a.CidrBlock != v.CidrBlock {
			d.CIDRBlocks = append(d.CIDRBlocks, a.CidrBlock)
		}
	}
}

func readSubnet(ctx *pulumi.Context, id string, opts []pulumi.InvokeOption) Subnet {
	s := Subnet{ID: id}
	r, err := ec2.LookupSubnet(ctx, &ec2.LookupSubnetArgs{Id: &id}, opts...)
	if err != nil {
		s.ReadError = firstLine(err.Error())
		return s
	}
	s.VPCID, s.AZ, s.CIDR, s.State = r.VpcId, r.AvailabilityZone, r.CidrBlock, r.State
	s.AvailableIPs, s.MapPublicIPOnLaunch, s.HostnameType = r.AvailableIpAddressCount, r.MapPublicIpOnLaunch, r.PrivateDnsHostnameTypeOnLaunch
	s.Tags = r.Tags
	return s
}

func readDHCP(ctx *pulumi.Context, id string, opts []pulumi.InvokeOption) *DHCPOptions {
	o := &DHCPOptions{ID: id}
	r, err := ec2.LookupVpcDhcpOptions(ctx, &ec2.LookupVpcDhcpOptionsArgs{DhcpOptionsId: &id}, opts...)
	if err != nil {
		o.ReadError = firstLine(err.Error())
		return o
	}
	o.DomainName, o.DomainNameServers = r.DomainName, r.DomainNameServers
	return o
}

// readRouteTables finds each subnet's table: the one associated with it,
// else the VPC's main table (a subnet without an association of its own
// uses the main table; the provider's by-subnet read finds only explicit
// associations, so each subnet's association is listed, then each table
// read by ID).
func readRouteTables(ctx *pulumi.Context, d *VPCDescription, opts []pulumi.InvokeOption) {
	if d.ReadError != "" {
		return
	}
	vpc := d.ID
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range d.Subnets {
		if d.Subnets[i].ReadError != "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := d.Subnets[i].ID
			listed, err := ec2.GetRouteTables(ctx, &ec2.GetRouteTablesArgs{
				VpcId:   &vpc,
				Filters: []ec2.GetRouteTablesFilter{{Name: "association.subnet-id", Values: []string{id}}},
			}, opts...)
			table := d.MainRouteTableID
			var readErr string
			switch {
			case err != nil:
				table, readErr = "(association of "+id+")", firstLine(err.Error())
			case len(listed.Ids) > 0:
				table = listed.Ids[0] // a subnet has at most one association
			}
			mu.Lock()
			defer mu.Unlock()
			d.Subnets[i].RouteTableID = table
			if readErr != "" {
				d.RouteTables[table] = RouteTable{ID: table, ReadError: readErr}
			}
		}()
	}
	wg.Wait()
	var tables []string
	for _, s := range d.Subnets {
		if _, done := d.RouteTables[s.RouteTableID]; s.RouteTableID != "" && !done && !slices.Contains(tables, s.RouteTableID) {
			tables = append(tables, s.RouteTableID)
		}
	}
	for _, id := range tables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := readRouteTable(ctx, id, opts)
			mu.Lock()
			d.RouteTables[id] = t
			mu.Unlock()
		}()
	}
	wg.Wait()
}

func readRouteTable(ctx *pulumi.Context, id string, opts []pulumi.InvokeOption) RouteTable {
	t := RouteTable{ID: id}
	r, err := ec2.LookupRouteTable(ctx, &ec2.LookupRouteTableArgs{RouteTableId: &id}, opts...)
	if err != nil {
		t.ReadError = firstLine(err.Error())
		return t
	}
	for _, x := range r.Routes {
		if x.CidrBlock == "" {
			continue // IPv6 and prefix-list destinations
		}
		t.Routes = append(t.Routes, Route{
			Destination: x.CidrBlock, NATGatewayID: x.NatGatewayId, TransitGatewayID: x.TransitGatewayId, GatewayID: x.GatewayId,
			InstanceID: x.InstanceId, NetworkInterfaceID: x.NetworkInterfaceId, VPCPeeringID: x.VpcPeeringConnectionId,
			VPCEndpointID: x.VpcEndpointId, CoreNetworkARN: x.CoreNetworkArn, LocalGatewayID: x.LocalGatewayId,
			CarrierGatewayID: x.CarrierGatewayId, EgressOnlyGatewayID: x.EgressOnlyGatewayId,
		})
	}
	return t
}

// readEndpoint finds the VPC's endpoint of one service. The provider's
// read wants exactly one match: "no matching EC2 VPC Endpoint found" is
// none, "multiple EC2 VPC Endpoints matched" more than one
// (terraform-provider-aws internal/tfresource SingularDataSourceFindError).
func readEndpoint(ctx *pulumi.Context, vpcID, service string, opts []pulumi.InvokeOption) Endpoint {
	e := Endpoint{ServiceName: service}
	r, err := ec2.LookupVpcEndpoint(ctx, &ec2.LookupVpcEndpointArgs{VpcId: &vpcID, ServiceName: &service}, opts...)
	switch {
	case err != nil && strings.Contains(err.Error(), "no matching"):
		return e
	case err != nil && strings.Contains(err.Error(), "multiple"):
		e.Found, e.Multiple = true, true
		return e
	case err != nil:
		e.ReadError = firstLine(err.Error())
		return e
	}
	e.Found = true
	e.ID, e.Type, e.State, e.PrivateDNSEnabled = r.Id, r.VpcEndpointType, r.State, r.PrivateDnsEnabled
	e.SubnetIDs, e.RouteTableIDs = r.SubnetIds, r.RouteTableIds
	return e
}
