package config

import (
	"fmt"
	"regexp"

	"github.com/talos-aws/talos-aws/internal/fielddoc"
)

// Network is an existing VPC to deploy into ("bring your own VPC"): its ID
// and the subnets the nodes and the internal load balancer use, one per
// availability zone, and optionally public subnets for the internet-facing
// load balancer. Unset (the default), the stack creates its own VPC from
// vpcCidr. The preflight (preflight.CheckVPC) checks the VPC itself; this
// package checks only the shapes.
type Network struct {
	VPCID            string   `json:"vpcId,omitempty"`
	PrivateSubnetIDs []string `json:"privateSubnetIds,omitempty"`
	PublicSubnetIDs  []string `json:"publicSubnetIds,omitempty"`
}

// FieldDocs documents the fields for the configuration reference; the
// shapes are validateBYO's, the VPC itself the preflight's.
func (Network) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"vpcId": {Doc: "The existing VPC.", Allowed: "a VPC ID, vpc- and 8 or 17 hex digits; required with network"},
		"privateSubnetIds": {Doc: "Private subnets, one per availability zone: the nodes, the internal load balancer and the etcd guard. Their zones are the cluster's.",
			Allowed: fmt.Sprintf("1-%d subnet IDs (subnet- and 8 or 17 hex digits), one per zone, unique", MaxAZs)},
		"publicSubnetIds": {Doc: "Public subnets (routed to an internet gateway) for the internet-facing load balancer, in exactly the private subnets' zones; required unless apiAccess and ingressAccess are both private.",
			Allowed: fmt.Sprintf("at most %d subnet IDs, one per zone of privateSubnetIds", MaxAZs)},
	}
}

// DefaultNetwork is no existing VPC: the stack creates one. It marshals to
// {}, so Pulumi.yaml's default and an existing stack's parsed configuration
// stay what they were.
func DefaultNetwork() Network { return Network{} }

// Set reports whether any part of an existing VPC is configured.
func (n Network) Set() bool {
	return n.VPCID != "" || len(n.PrivateSubnetIDs) > 0 || len(n.PublicSubnetIDs) > 0
}

// BringYourOwnVPC reports whether the stack deploys into an existing VPC.
func (c *Config) BringYourOwnVPC() bool { return c.Network.Set() }

// DeployedBefore reports whether the stack's last `up` recorded a
// cluster (ParseDeployed): what AWS reports as in use then includes it.
func (c *Config) DeployedBefore() bool { return c.deployed.Exists }

// Resource ids as EC2 makes them: a prefix and 8 (older) or 17 hex digits.
var (
	vpcIDRe    = regexp.MustCompile(`^vpc-[0-9a-f]{8}([0-9a-f]{9})?$`)
	subnetIDRe = regexp.MustCompile(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

// networkExclusive are the keys that describe the VPC the stack creates;
// with network set they mean nothing, and a value other than the default
// says the user expects something this stack will not do. Pulumi gives the
// program every key Pulumi.yaml declares with a default, set or not
// (sdk/go/common/workspace, mergeConfig), so "set" can only be told by a
// value that differs from the default.
var networkExclusive = []struct{ key, why string }{
	{"vpcCidr", "the VPC's own CIDR blocks are used (the preflight checks podCidr and serviceCidr against them)"},
	{"azCount", "the zones are those of network.privateSubnetIds, one subnet per zone"},
	{"availabilityZones", "the zones are those of network.privateSubnetIds, one subnet per zone"},
	{"natStrategy", "the stack creates no NAT gateway in an existing VPC: the private subnets' own default route is the egress (the preflight checks it)"},
}

// validateBYO checks the network object's shapes and that no key of the
// stack-created VPC is set beside it; every error at its own path.
func validateBYO(c *Config, errs *ErrorList) {
	n := c.Network
	if n.VPCID == "" {
		errs.Required("network.vpcId", "the ID of the existing VPC (vpc-...) the subnets belong to; or remove network to let the stack create its VPC")
	} else if !vpcIDRe.MatchString(n.VPCID) {
		errs.Invalid("network.vpcId", n.VPCID, "must be a VPC ID like vpc-0123456789abcdef0")
	}
	if len(n.PrivateSubnetIDs) == 0 {
		errs.Required("network.privateSubnetIds", "the private subnets (subnet-...) for the nodes and the internal load balancer, one per availability zone: "+
			"run `pulumi config set --path 'network.privateSubnetIds[0]' subnet-...`")
	}
	if len(n.PrivateSubnetIDs) > MaxAZs {
		errs.TooLong("network.privateSubnetIds", len(n.PrivateSubnetIDs), fmt.Sprintf("at most %d subnets, one per availability zone", MaxAZs))
	}
	if len(n.PublicSubnetIDs) > MaxAZs {
		errs.TooLong("network.publicSubnetIds", len(n.PublicSubnetIDs), fmt.Sprintf("at most %d subnets, one per availability zone", MaxAZs))
	}
	seen := map[string]string{}
	for _, list := range []struct {
		key string
		ids []string
	}{{"network.privateSubnetIds", n.PrivateSubnetIDs}, {"network.publicSubnetIds", n.PublicSubnetIDs}} {
		for i, id := range list.ids {
			path := fmt.Sprintf("%s[%d]", list.key, i)
			if !subnetIDRe.MatchString(id) {
				errs.Invalid(path, id, "must be a subnet ID like subnet-0123456789abcdef0")
				continue
			}
			if first, dup := seen[id]; dup {
				errs.Duplicate(path, id, first)
				continue
			}
			seen[id] = path
		}
	}
	for _, k := range networkExclusive {
		if networkKeyChanged(c, k.key) {
			errs.Forbidden(k.key, fmt.Sprintf("network is set, so %s does not apply: %s; remove it (`pulumi config rm %s`)", k.key, k.why, k.key))
		}
	}
}

// networkKeyChanged reports whether a key of the stack-created VPC holds
// anything but its default.
func networkKeyChanged(c *Config, key string) bool {
	switch key {
	case "vpcCidr":
		return c.VPCCIDR != schemaDefault(key)
	case "azCount":
		return c.AZCount != schemaDefault(key)
	case "availabilityZones":
		return len(c.AvailabilityZones) > 0
	case "natStrategy":
		return c.NATStrategy != schemaDefault(key)
	}
	return false
}

// ZoneCount is how many availability zones the nodes spread over: the
// private subnets of an existing VPC, else availabilityZones or azCount.
func (c *Config) ZoneCount() int {
	switch {
	case c.BringYourOwnVPC():
		return len(c.Network.PrivateSubnetIDs)
	case len(c.AvailabilityZones) > 0:
		return len(c.AvailabilityZones)
	}
	return c.AZCount
}
