package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const byoNetwork = `{"vpcId":"vpc-0123456789abcdef0",
 "privateSubnetIds":["subnet-0aaaaaaaaaaaaaaa1","subnet-0aaaaaaaaaaaaaaa2","subnet-0aaaaaaaaaaaaaaa3"],
 "publicSubnetIds":["subnet-0bbbbbbbbbbbbbbb1","subnet-0bbbbbbbbbbbbbbb2","subnet-0bbbbbbbbbbbbbbb3"]}`

// fieldErrors parses kv and returns every error's text, sorted.
func fieldErrors(t *testing.T, kv map[string]string) []string {
	t.Helper()
	_, _, err := Parse(src(kv))
	var ve *ValidationError
	if err == nil {
		return nil
	}
	if !errors.As(err, &ve) {
		t.Fatalf("not a validation error: %v", err)
	}
	return ve.Errors.Strings()
}

// A stack that sets no network parses as it always did: no existing VPC,
// the zones from azCount, and the key's Pulumi.yaml default is {}.
func TestNetworkDefaultIsTheStacksOwnVPC(t *testing.T) {
	cfg, _, err := Parse(src(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BringYourOwnVPC() || !reflect.DeepEqual(cfg.Network, Network{}) || cfg.ZoneCount() != 3 {
		t.Errorf("default network %+v, zones %d", cfg.Network, cfg.ZoneCount())
	}
	decls, err := ProjectDeclarations()
	if err != nil {
		t.Fatal(err)
	}
	if d := decls["network"]; d.Type != "object" || !reflect.DeepEqual(d.Default, map[string]any{}) {
		t.Errorf("Pulumi.yaml declaration of network: %+v", d)
	}
	// Pulumi hands the program the declared default as the key's value.
	cfg2, _, err := Parse(src(map[string]string{"network": `{}`}))
	if err != nil || !reflect.DeepEqual(cfg2, cfg) {
		t.Errorf("network {} parses differently from no network: %v", err)
	}
}

func TestNetworkExistingVPC(t *testing.T) {
	cfg, w, err := Parse(src(map[string]string{"network": byoNetwork}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.BringYourOwnVPC() || cfg.Network.VPCID != "vpc-0123456789abcdef0" || len(cfg.Network.PrivateSubnetIDs) != 3 || cfg.ZoneCount() != 3 {
		t.Errorf("network %+v zones %d", cfg.Network, cfg.ZoneCount())
	}
	if len(w) != 0 {
		t.Errorf("warnings %v", w)
	}
	// The default vpcCidr is no VPC of this stack's: a pod range inside it
	// is the preflight's to judge against the real VPC, not an error here.
	if errs := fieldErrors(t, map[string]string{"network": byoNetwork, "podCidr": "10.0.0.0/16"}); errs != nil {
		t.Errorf("podCidr inside the unused vpcCidr: %v", errs)
	}
	// One private subnet for three control-plane nodes: the zone warning
	// counts the subnets.
	_, w, err = Parse(src(map[string]string{"network": `{"vpcId":"vpc-0123456789abcdef0","privateSubnetIds":["subnet-0aaaaaaaaaaaaaaa1"],"publicSubnetIds":["subnet-0bbbbbbbbbbbbbbb1"]}`}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(w, func(s string) bool {
		return strings.HasPrefix(s, "controlPlane.count: 3 control-plane nodes in 1 availability zone(s)")
	}) {
		t.Errorf("zone warning: %v", w)
	}
}

// Every shape error of the network object, and every key of the stack's
// own VPC set beside it, at its own path, in one pass.
func TestNetworkErrorsByPath(t *testing.T) {
	got := fieldErrors(t, map[string]string{
		"network": `{"privateSubnetIds":["subnet-0aaaaaaaaaaaaaaa1","subnet-xyz","subnet-0aaaaaaaaaaaaaaa1"],
		             "publicSubnetIds":["subnet-0aaaaaaaaaaaaaaa1","sg-0123456789abcdef0"]}`,
		"vpcCidr":           "10.1.0.0/16",
		"azCount":           "2",
		"availabilityZones": `["ap-southeast-1a"]`,
		"natStrategy":       "single",
	})
	want := []string{
		`availabilityZones: Forbidden: network is set, so availabilityZones does not apply: the zones are those of network.privateSubnetIds, one subnet per zone; remove it (` + "`pulumi config rm availabilityZones`)",
		`azCount: Forbidden: network is set, so azCount does not apply: the zones are those of network.privateSubnetIds, one subnet per zone; remove it (` + "`pulumi config rm azCount`)",
		`natStrategy: Forbidden: network is set, so natStrategy does not apply: the stack creates no NAT gateway in an existing VPC: the private subnets' own default route is the egress (the preflight checks it); remove it (` + "`pulumi config rm natStrategy`)",
		`network.privateSubnetIds[1]: Invalid value: "subnet-xyz": must be a subnet ID like subnet-0123456789abcdef0`,
		`network.privateSubnetIds[2]: Duplicate value: "subnet-0aaaaaaaaaaaaaaa1": same as network.privateSubnetIds[0]`,
		`network.publicSubnetIds[0]: Duplicate value: "subnet-0aaaaaaaaaaaaaaa1": same as network.privateSubnetIds[0]`,
		`network.publicSubnetIds[1]: Invalid value: "sg-0123456789abcdef0": must be a subnet ID like subnet-0123456789abcdef0`,
		`network.vpcId: Required value: the ID of the existing VPC (vpc-...) the subnets belong to; or remove network to let the stack create its VPC`,
		`vpcCidr: Forbidden: network is set, so vpcCidr does not apply: the VPC's own CIDR blocks are used (the preflight checks podCidr and serviceCidr against them); remove it (` + "`pulumi config rm vpcCidr`)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors\n got %q\nwant %q", got, want)
	}

	for _, tc := range []struct {
		name, network, want string
	}{
		{"bad VPC id", `{"vpcId":"vpc-123","privateSubnetIds":["subnet-0aaaaaaaaaaaaaaa1"]}`,
			`network.vpcId: Invalid value: "vpc-123": must be a VPC ID like vpc-0123456789abcdef0`},
		{"no private subnets", `{"vpcId":"vpc-0123456789abcdef0","publicSubnetIds":["subnet-0bbbbbbbbbbbbbbb1"]}`,
			"network.privateSubnetIds: Required value"},
		{"seven zones", `{"vpcId":"vpc-0123456789abcdef0","privateSubnetIds":["subnet-01111111","subnet-02222222","subnet-03333333","subnet-04444444","subnet-05555555","subnet-06666666","subnet-07777777"]}`,
			"network.privateSubnetIds: Too long: 7: at most 6 subnets, one per availability zone"},
		{"typo", `{"vpcID":"vpc-0123456789abcdef0"}`, `network.vpcID: Invalid value: unknown key; did you mean "vpcId"?`},
		{"not a list", `{"vpcId":"vpc-0123456789abcdef0","privateSubnetIds":"subnet-0aaaaaaaaaaaaaaa1"}`,
			"network.privateSubnetIds: Invalid value: expected a list, got"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := fieldErrors(t, map[string]string{"network": tc.network})
			if !slices.ContainsFunc(errs, func(s string) bool { return strings.HasPrefix(s, tc.want) }) {
				t.Errorf("want %q in %q", tc.want, errs)
			}
		})
	}
}
