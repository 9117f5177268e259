package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The plan cuts the VPC into eight equal blocks. Blocks 0-5 are the private
// subnets of up to six AZs (1/8 of the VPC each: room for nodes, and for pods
// should the CNI ever take VPC addresses). Block 6 is kept free for growth.
// Block 7 is cut into eight public subnets (1/64 of the VPC each), which only
// hold NAT gateways and load balancer interfaces. A zone's subnets depend only
// on its index, so adding an AZ never renumbers existing subnets.
const (
	blockBits   = 3
	publicBlock = 7
	maxZones    = 6
)

// Subnet is one planned subnet.
type Subnet struct {
	AZ   string
	CIDR string
}

// Plan is the public and private subnet per AZ, in AZ order.
type Plan struct {
	Public  []Subnet
	Private []Subnet
}

// PlanSubnets computes the subnets for a VPC CIDR and its AZs. It is pure and
// deterministic: the same input always yields the same plan.
func PlanSubnets(vpcCIDR string, azs []string) (Plan, error) {
	vpc, err := netip.ParsePrefix(vpcCIDR)
	if err != nil || !vpc.Addr().Is4() || vpc.Masked() != vpc {
		return Plan{}, fmt.Errorf("vpcCidr %q: not an IPv4 network CIDR", vpcCIDR)
	}
	if len(azs) == 0 || len(azs) > maxZones {
		return Plan{}, fmt.Errorf("need 1 to %d availability zones, got %d", maxZones, len(azs))
	}
	// Public subnets are 2*blockBits longer than the VPC; AWS's smallest subnet is /28.
	if vpc.Bits()+2*blockBits > 28 {
		return Plan{}, fmt.Errorf("vpcCidr %s is too small: public subnets would be /%d, AWS allows at most /28", vpcCIDR, vpc.Bits()+2*blockBits)
	}
	public := nthSubnet(vpc, blockBits, publicBlock)
	var plan Plan
	for i, az := range azs {
		plan.Private = append(plan.Private, Subnet{AZ: az, CIDR: nthSubnet(vpc, blockBits, i).String()})
		plan.Public = append(plan.Public, Subnet{AZ: az, CIDR: nthSubnet(public, blockBits, i).String()})
	}
	return plan, nil
}

// nthSubnet returns the n-th subnet of p that is newBits longer.
func nthSubnet(p netip.Prefix, newBits, n int) netip.Prefix {
	bits := p.Bits() + newBits
	base := p.Addr().As4()
	v := binary.BigEndian.Uint32(base[:]) | uint32(n)<<(32-bits) //nolint:gosec // n < 2^newBits <= 8, checked by the caller
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], v)
	return netip.PrefixFrom(netip.AddrFrom4(out), bits)
}
