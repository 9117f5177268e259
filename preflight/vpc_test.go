package preflight_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/backups"
	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/drain"
	"github.com/talos-aws/talos-aws/etcdguard"
	"github.com/talos-aws/talos-aws/internal/iampolicy"
	"github.com/talos-aws/talos-aws/network"
	"github.com/talos-aws/talos-aws/preflight"
	"github.com/talos-aws/talos-aws/testkit"
)

// byoConfig is the HA example stack deployed into testkit.HealthyVPC.
func byoConfig(t *testing.T, extra map[string]string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse(config.MapSource(byoRaw(t, extra)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// byoRaw is byoConfig's configuration before parsing.
func byoRaw(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	raw, err := testkit.LoadStackFile("../Pulumi.ha.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw["adminCidrs"] = `["203.0.113.10/32"]`
	delete(raw, "azCount")
	delete(raw, "natStrategy")
	n, err := json.Marshal(config.Network{VPCID: testkit.HealthyVPC().ID,
		PrivateSubnetIDs: testkit.HealthyVPCPrivateSubnets, PublicSubnetIDs: testkit.HealthyVPCPublicSubnets})
	if err != nil {
		t.Fatal(err)
	}
	raw["network"] = string(n)
	maps.Copy(raw, extra)
	return raw
}

// describe runs DescribeVPC under the mocks against v.
func describe(t *testing.T, v *testkit.FakeVPC, cfg *config.Config) (preflight.VPCDescription, *testkit.Mocks) {
	t.Helper()
	m := &testkit.Mocks{VPC: v}
	var d preflight.VPCDescription
	_, err := testkit.Run(t, m, nil, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		var err error
		d, err = preflight.DescribeVPC(ctx, cfg)
		return nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

func TestDescribeVPCReadsWhatTheChecksJudge(t *testing.T) {
	cfg := byoConfig(t, nil)
	d, m := describe(t, testkit.HealthyVPC(), cfg)
	if d.ReadError != "" || !d.EnableDNSSupport || !d.EnableDNSHostnames || !slices.Equal(d.CIDRBlocks, []string{"10.20.0.0/16"}) {
		t.Errorf("VPC read: %+v", d)
	}
	if d.DHCP == nil || d.DHCP.DomainName != "ap-southeast-1.compute.internal" || !slices.Equal(d.DHCP.DomainNameServers, []string{"AmazonProvidedDNS"}) {
		t.Errorf("DHCP read: %+v", d.DHCP)
	}
	if got := d.PrivateAZs(); !slices.Equal(got, []string{"ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"}) {
		t.Errorf("private zones %v", got)
	}
	wantTables := []string{"rtb-0fa1e0000000000a1", "rtb-0fa1e0000000000a2", "rtb-0fa1e0000000000a3", "rtb-0fa1e0000000000b0", "rtb-0fa1e0000000000b0", "rtb-0fa1e0000000000b0"}
	var tables []string
	for i, s := range d.Subnets {
		tables = append(tables, s.RouteTableID)
		if s.HostnameType != "ip-name" || s.AvailableIPs == 0 || s.VPCID != d.ID || s.Public != (i >= 3) {
			t.Errorf("subnet %d read: %+v", i, s)
		}
	}
	if !slices.Equal(tables, wantTables) {
		t.Errorf("route tables %v", tables)
	}
	if r := d.RouteTables["rtb-0fa1e0000000000a2"].Routes; len(r) != 1 || r[0].NATGatewayID != "nat-0fa1e0000000000c2" {
		t.Errorf("private routes %+v", r)
	}
	// With a default route everywhere, no endpoint is read.
	for _, c := range m.Calls {
		if c.Token == "aws:ec2/getVpcEndpoint:getVpcEndpoint" {
			t.Error("endpoints read although every private subnet has a default route")
		}
	}
	if errs := preflight.CheckVPC(d, cfg); errs != nil {
		t.Errorf("a healthy VPC fails: %v", errs.Strings())
	}
	if w := preflight.VPCWarnings(d, cfg); w != nil {
		t.Errorf("a healthy VPC warns: %v", w)
	}
	// The dev stack (one pool of three, one control-plane node) fits it too.
	dev, err := testkit.LoadStackFile("../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dev["adminCidrs"] = `["203.0.113.10/32"]`
	delete(dev, "azCount")
	delete(dev, "natStrategy")
	dev["network"] = `{"vpcId":"vpc-0fa1e0000000000a1","privateSubnetIds":["subnet-0fa1e000000000001"],"publicSubnetIds":["subnet-0fa1e0000000000b1"]}`
	devCfg, _, err := config.Parse(config.MapSource(dev))
	if err != nil {
		t.Fatal(err)
	}
	if dd, _ := describe(t, testkit.HealthyVPC(), devCfg); preflight.CheckVPC(dd, devCfg) != nil {
		t.Errorf("dev in a healthy VPC: %v", preflight.CheckVPC(dd, devCfg).Strings())
	}
}

// A subnet with no association of its own uses the VPC's main table.
func TestDescribeVPCMainRouteTable(t *testing.T) {
	v := testkit.HealthyVPC()
	delete(v.RouteTables, "rtb-0fa1e0000000000a3")
	v.RouteTables[v.MainRouteTableID] = testkit.FakeRouteTable{Routes: []map[string]any{{"cidrBlock": "0.0.0.0/0", "transitGatewayId": "tgw-0fa1e0000000000e1"}}}
	d, _ := describe(t, v, byoConfig(t, nil))
	if got := d.Subnets[2].RouteTableID; got != v.MainRouteTableID {
		t.Errorf("third private subnet's table %s, want the main table", got)
	}
	if errs := preflight.CheckVPC(d, byoConfig(t, nil)); errs != nil {
		t.Errorf("egress through a transit gateway is enough: %v", errs.Strings())
	}
}

// Every rule of the preflight, one broken attribute at a time: each error
// at the key that names the AWS object, with the attribute.
func TestCheckVPCEveryError(t *testing.T) {
	const vpc = `"vpc-0fa1e0000000000a1"`
	priv := func(i int) string { return testkit.HealthyVPCPrivateSubnets[i] }
	pub := func(i int) string { return testkit.HealthyVPCPublicSubnets[i] }
	setSubnet := func(v *testkit.FakeVPC, id string, f func(*testkit.FakeSubnet)) {
		s := v.Subnets[id]
		f(&s)
		v.Subnets[id] = s
	}
	setRoute := func(v *testkit.FakeVPC, table string, route map[string]any) {
		t := v.RouteTables[table]
		t.Routes = []map[string]any{route}
		v.RouteTables[table] = t
	}
	for _, tc := range []struct {
		name   string
		break_ func(*testkit.FakeVPC)
		extra  map[string]string
		// want are the errors, each a prefix of one error's text.
		want []string
	}{
		{"DNS support off", func(v *testkit.FakeVPC) { v.EnableDNSSupport = false },
			nil, []string{`network.vpcId: Invalid value: ` + vpc + `: EnableDnsSupport is false: the nodes resolve the cluster endpoint's private hosted zone`}},
		{"DNS hostnames off", func(v *testkit.FakeVPC) { v.EnableDNSHostnames = false },
			nil, []string{`network.vpcId: Invalid value: ` + vpc + `: EnableDnsHostnames is false: Route 53 private hosted zones`}},
		{"no DHCP option set", func(v *testkit.FakeVPC) { v.DHCPOptionsID = "default" },
			nil, []string{`network.vpcId: Invalid value: ` + vpc + `: DhcpOptionsId is default (no DHCP option set): instances get no DNS server and no domain name over DHCP; associate an option set with domain-name-servers AmazonProvidedDNS and domain-name ap-southeast-1.compute.internal`}},
		{"custom DHCP domain", func(v *testkit.FakeVPC) { v.DomainName = "corp.example.com" },
			nil, []string{`network.vpcId: Invalid value: ` + vpc + `: its DHCP option set dopt-0fa1e0000000000d1 has domain-name "corp.example.com", not "ap-southeast-1.compute.internal": Talos takes the node's hostname and domain from the DHCP lease`}},
		{"DHCP unreadable", func(v *testkit.FakeVPC) {
			v.Errors = map[string]string{"dopt-0fa1e0000000000d1": "UnauthorizedOperation: ec2:DescribeDhcpOptions"}
		},
			nil, []string{`network.vpcId: Invalid value: ` + vpc + `: its DHCP option set dopt-0fa1e0000000000d1 cannot be read (DescribeDhcpOptions): UnauthorizedOperation`}},
		{"VPC not found", func(v *testkit.FakeVPC) { v.ID = "vpc-0000000000000000f" },
			nil, []string{
				`network.vpcId: Invalid value: ` + vpc + `: cannot be read in ap-southeast-1 (DescribeVpcs): no matching EC2 VPC found`,
				// Its subnets say they are in another VPC: the configured one
				// is not the subnets' either.
			}},
		{"pod range in a secondary block", func(v *testkit.FakeVPC) { v.CIDRBlocks = append(v.CIDRBlocks, "10.244.0.0/16") },
			nil, []string{`podCidr: Invalid value: "10.244.0.0/16": overlaps vpc-0fa1e0000000000a1's CIDR block 10.244.0.0/16`}},
		{"service range in the VPC", nil, map[string]string{"serviceCidr": "10.20.0.0/16"},
			[]string{`serviceCidr: Invalid value: "10.20.0.0/16": overlaps vpc-0fa1e0000000000a1's CIDR block 10.20.0.0/16`}},
		{"subnet not found", func(v *testkit.FakeVPC) { delete(v.Subnets, priv(1)) },
			nil, []string{`network.privateSubnetIds[1]: Invalid value: "` + priv(1) + `": cannot be read in ap-southeast-1 (DescribeSubnets): no matching EC2 Subnet found`}},
		{"subnet of another VPC", func(v *testkit.FakeVPC) {
			setSubnet(v, pub(2), func(s *testkit.FakeSubnet) { s.VPCID = "vpc-0ther000000000001" })
		},
			nil, []string{`network.publicSubnetIds[2]: Invalid value: "` + pub(2) + `": VpcId is vpc-0ther000000000001, not network.vpcId vpc-0fa1e0000000000a1`}},
		{"subnet pending", func(v *testkit.FakeVPC) { setSubnet(v, priv(0), func(s *testkit.FakeSubnet) { s.State = "pending" }) },
			nil, []string{`network.privateSubnetIds[0]: Invalid value: "` + priv(0) + `": State is pending, not available`}},
		{"two private subnets in one zone", func(v *testkit.FakeVPC) {
			setSubnet(v, priv(1), func(s *testkit.FakeSubnet) { s.AZ = "ap-southeast-1a" })
		}, nil, []string{
			`network.privateSubnetIds[1]: Invalid value: "` + priv(1) + `": AvailabilityZone ap-southeast-1a is also network.privateSubnetIds[0]'s: give one subnet per availability zone`,
			`network.publicSubnetIds[1]: Invalid value: "` + pub(1) + `": AvailabilityZone ap-southeast-1b has no private subnet in network.privateSubnetIds`,
		}},
		{"public subnet in a zone without nodes", func(v *testkit.FakeVPC) {
			setSubnet(v, pub(2), func(s *testkit.FakeSubnet) { s.AZ = "ap-southeast-1d" })
		}, nil, []string{
			`network.privateSubnetIds[2]: Invalid value: "` + priv(2) + `": AvailabilityZone ap-southeast-1c has no public subnet in network.publicSubnetIds`,
			`network.publicSubnetIds[2]: Invalid value: "` + pub(2) + `": AvailabilityZone ap-southeast-1d has no private subnet in network.privateSubnetIds`,
		}},
		{"private subnet maps public addresses", func(v *testkit.FakeVPC) {
			setSubnet(v, priv(2), func(s *testkit.FakeSubnet) { s.MapPublicIPOnLaunch = true })
		}, nil, []string{`network.privateSubnetIds[2]: Invalid value: "` + priv(2) + `": MapPublicIpOnLaunch is true`}},
		{"resource-name hostnames", func(v *testkit.FakeVPC) {
			setSubnet(v, priv(0), func(s *testkit.FakeSubnet) { s.HostnameType = "resource-name" })
		}, nil, []string{`network.privateSubnetIds[0]: Invalid value: "` + priv(0) + `": PrivateDnsHostnameTypeOnLaunch is "resource-name", not "ip-name"`}},
		// HA: control plane 3+1, general 9+9, arm-spot 10+10 over three
		// zones: 2 + 6 + 7 = 15 nodes per subnet, + 8 for the NLB + 1 guard.
		{"private subnet short of addresses", func(v *testkit.FakeVPC) {
			setSubnet(v, priv(1), func(s *testkit.FakeSubnet) { s.AvailableIPs = 23 })
		}, nil, []string{`network.privateSubnetIds[1]: Invalid value: "` + priv(1) + `": AvailableIpAddressCount is 23; each private subnet needs 24 (controlPlane 4 nodes / 3 zone(s) = 2 + workerPools[0] (general) 18 nodes / 3 zone(s) = 6 + workerPools[1] (arm-spot) 20 nodes / 3 zone(s) = 7 + the internal NLB 8 (AWS requires 8 free to create it) + the etcd guard Lambda's interface 1)`}},
		{"public subnet short of addresses", func(v *testkit.FakeVPC) {
			setSubnet(v, pub(0), func(s *testkit.FakeSubnet) { s.AvailableIPs = 7 })
		}, nil, []string{`network.publicSubnetIds[0]: Invalid value: "` + pub(0) + `": AvailableIpAddressCount is 7: an internet-facing Network Load Balancer needs at least 8`}},
		{"public subnet without an internet gateway", func(v *testkit.FakeVPC) {
			setRoute(v, "rtb-0fa1e0000000000b0", map[string]any{"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-0fa1e0000000000c1"})
		}, nil, []string{
			`network.publicSubnetIds[0]: Invalid value: "` + pub(0) + `": its route table rtb-0fa1e0000000000b0 has a route to nat-0fa1e0000000000c1 for 0.0.0.0/0, not an internet gateway`,
			`network.publicSubnetIds[1]: Invalid value: "` + pub(1) + `": its route table rtb-0fa1e0000000000b0 has a route to nat-0fa1e0000000000c1`,
			`network.publicSubnetIds[2]: Invalid value: "` + pub(2) + `": its route table rtb-0fa1e0000000000b0 has a route to nat-0fa1e0000000000c1`,
		}},
		{"private default route to the internet gateway", func(v *testkit.FakeVPC) {
			setRoute(v, "rtb-0fa1e0000000000a1", map[string]any{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-0fa1e0000000000f1"})
		}, nil, []string{`network.privateSubnetIds[0]: Invalid value: "` + priv(0) + `": its route table rtb-0fa1e0000000000a1 sends 0.0.0.0/0 to igw-0fa1e0000000000f1, an internet gateway: this is a public subnet`}},
		{"private default route through peering", func(v *testkit.FakeVPC) {
			setRoute(v, "rtb-0fa1e0000000000a2", map[string]any{"cidrBlock": "0.0.0.0/0", "vpcPeeringConnectionId": "pcx-0fa1e0000000000e2"})
		}, nil, []string{`network.privateSubnetIds[1]: Invalid value: "` + priv(1) + `": its route table rtb-0fa1e0000000000a2 sends 0.0.0.0/0 to pcx-0fa1e0000000000e2, a VPC peering connection`}},
		{"no default route", func(v *testkit.FakeVPC) {
			setRoute(v, "rtb-0fa1e0000000000a3", map[string]any{"cidrBlock": "10.0.0.0/8", "transitGatewayId": "tgw-0fa1e0000000000e1"})
			v.Endpoints["com.amazonaws.ap-southeast-1.ec2"] = testkit.FakeEndpoint{ID: "vpce-0fa1e000000000001", Type: "Interface", State: "available", PrivateDNSEnabled: true}
			v.Endpoints["com.amazonaws.ap-southeast-1.sqs"] = testkit.FakeEndpoint{ID: "vpce-0fa1e000000000002", Type: "Interface", State: "available"}
			v.Endpoints["com.amazonaws.ap-southeast-1.s3"] = testkit.FakeEndpoint{Multiple: true}
		}, nil, []string{
			`network.privateSubnetIds: Invalid value: no default route: this stack cannot run without egress, because the nodes pull their images from public registries no VPC endpoint serves (ghcr.io`,
			`network.privateSubnetIds[2]: Invalid value: "` + priv(2) + `": its route table rtb-0fa1e0000000000a3 has no default route (0.0.0.0/0; routes propagated from a virtual private gateway are not visible to this check)`,
		}},
		{"route tables unreadable", func(v *testkit.FakeVPC) {
			v.Errors = map[string]string{"rtb-0fa1e0000000000a1": "UnauthorizedOperation"}
		},
			nil, []string{`network.privateSubnetIds[0]: Invalid value: "` + priv(0) + `": its route table rtb-0fa1e0000000000a1 cannot be read (DescribeRouteTables): UnauthorizedOperation`}},
		{"tagged for another cluster", func(v *testkit.FakeVPC) {
			setSubnet(v, priv(0), func(s *testkit.FakeSubnet) { s.Tags = map[string]string{"kubernetes.io/cluster/payments": "shared"} })
		}, nil, []string{`network.privateSubnetIds[0]: Invalid value: "` + priv(0) + `": tag kubernetes.io/cluster/payments=shared: the subnet is tagged for cluster "payments"`}},
		{"owned by a namesake", func(v *testkit.FakeVPC) {
			setSubnet(v, pub(1), func(s *testkit.FakeSubnet) { s.Tags = map[string]string{"kubernetes.io/cluster/prod": "owned"} })
		}, nil, []string{`network.publicSubnetIds[1]: Invalid value: "` + pub(1) + `": tag kubernetes.io/cluster/prod=owned: the subnet belongs to a cluster of this name created elsewhere`}},
		{"legacy cluster tag", func(v *testkit.FakeVPC) {
			setSubnet(v, priv(1), func(s *testkit.FakeSubnet) { s.Tags = map[string]string{"KubernetesCluster": "old"} })
		}, nil, []string{`network.privateSubnetIds[1]: Invalid value: "` + priv(1) + `": tag KubernetesCluster=old: the legacy cluster tag of another cluster`}},
		{"no room for the tags", func(v *testkit.FakeVPC) {
			setSubnet(v, priv(2), func(s *testkit.FakeSubnet) {
				s.Tags = map[string]string{}
				for i := range 49 {
					s.Tags[strings.Repeat("k", i+1)] = "v"
				}
			})
		}, nil, []string{`network.privateSubnetIds[2]: Invalid value: "` + priv(2) + `": has 49 tags; with the 3 this stack adds it would have 52, over AWS's 50 per resource`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := testkit.HealthyVPC()
			if tc.break_ != nil {
				tc.break_(v)
			}
			cfg := byoConfig(t, tc.extra)
			d, _ := describe(t, v, cfg)
			got := preflight.CheckVPC(d, cfg).Strings()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("error %d\n got %s\nwant %s…", i, got[i], w)
				}
			}
		})
	}
}

// Without a default route the preflight says which endpoints the callers
// would need and which of those the VPC has.
func TestNoDefaultRouteListsEndpoints(t *testing.T) {
	v := testkit.HealthyVPC()
	for _, id := range []string{"rtb-0fa1e0000000000a1", "rtb-0fa1e0000000000a2", "rtb-0fa1e0000000000a3"} {
		v.RouteTables[id] = testkit.FakeRouteTable{Subnets: v.RouteTables[id].Subnets}
	}
	v.Endpoints["com.amazonaws.ap-southeast-1.ec2"] = testkit.FakeEndpoint{ID: "vpce-0fa1e000000000001", Type: "Interface", State: "available", PrivateDNSEnabled: true}
	v.Endpoints["com.amazonaws.ap-southeast-1.sqs"] = testkit.FakeEndpoint{ID: "vpce-0fa1e000000000002", Type: "Interface", State: "available"}
	v.Endpoints["com.amazonaws.ap-southeast-1.s3"] = testkit.FakeEndpoint{Multiple: true}
	cfg := byoConfig(t, nil)
	d, m := describe(t, v, cfg)
	var services []string
	for _, c := range m.Calls {
		if c.Token == "aws:ec2/getVpcEndpoint:getVpcEndpoint" {
			services = append(services, c.Args["serviceName"].StringValue())
		}
	}
	slices.Sort(services)
	want := []string{"autoscaling", "ec2", "elasticloadbalancing", "monitoring", "s3", "secretsmanager", "sqs", "ssm", "sts"}
	for i := range want {
		want[i] = "com.amazonaws.ap-southeast-1." + want[i]
	}
	if !slices.Equal(services, want) {
		t.Errorf("endpoints read %v, want %v", services, want)
	}
	var detail string
	for _, e := range preflight.CheckVPC(d, cfg) {
		if e.Path == "network.privateSubnetIds" {
			detail = e.Detail
		}
	}
	for _, s := range []string{
		"com.amazonaws.ap-southeast-1.sqs (interface; node termination handler, queue mode (drain/plan.go HandlerPolicy)): vpce-0fa1e000000000002 has private DNS off",
		"com.amazonaws.ap-southeast-1.elasticloadbalancing (interface; AWS cloud controller manager",
		"com.amazonaws.ap-southeast-1.sts (interface; pods with workload identity",
		"present: com.amazonaws.ap-southeast-1.ec2, com.amazonaws.ap-southeast-1.s3",
		"public.ecr.aws (EBS CSI driver, node termination handler)",
		"discovery.talos.dev",
	} {
		if !strings.Contains(detail, s) {
			t.Errorf("no-NAT detail lacks %q:\n%s", s, detail)
		}
	}
}

func TestVPCWarnings(t *testing.T) {
	v := testkit.HealthyVPC()
	v.DomainNameServers = []string{"10.20.0.10", "10.20.16.10"}
	tgw := map[string]any{"cidrBlock": "10.96.0.0/11", "transitGatewayId": "tgw-0fa1e0000000000e1"}
	rt := v.RouteTables["rtb-0fa1e0000000000a1"]
	rt.Routes = append(rt.Routes, tgw)
	v.RouteTables["rtb-0fa1e0000000000a1"] = rt
	cfg := byoConfig(t, nil)
	d, _ := describe(t, v, cfg)
	if errs := preflight.CheckVPC(d, cfg); errs != nil {
		t.Errorf("warnings only, got errors %v", errs.Strings())
	}
	w := preflight.VPCWarnings(d, cfg)
	want := []string{
		"network.vpcId: vpc-0fa1e0000000000a1: its DHCP option set dopt-0fa1e0000000000d1 has domain-name-servers 10.20.0.10, 10.20.16.10, not AmazonProvidedDNS",
		"serviceCidr: 10.96.0.0/12 overlaps 10.96.0.0/11, which route table rtb-0fa1e0000000000a1 sends to tgw-0fa1e0000000000e1",
	}
	if len(w) != len(want) {
		t.Fatalf("warnings %q", w)
	}
	for i := range want {
		if !strings.HasPrefix(w[i], want[i]) {
			t.Errorf("warning %d\n got %s\nwant %s…", i, w[i], want[i])
		}
	}
}

// The tags the stack adds: its cluster tag and a role tag, each only where
// the VPC's owner has none, and the list of what it added (first, on the
// subnet); on the next `up` what it added is still its own, whether its
// outputs recorded it or, after a failed `up`, only the list did; what the
// owner set, the cluster tag included, is never taken over, so destroy
// leaves it.
func TestSharedSubnetTags(t *testing.T) {
	cfg := byoConfig(t, nil)
	d, _ := describe(t, testkit.HealthyVPC(), cfg)
	first := preflight.SharedSubnetTags(d, cfg.ClusterName, nil)
	const marker = "talos-aws/prod/added-tags"
	for _, id := range testkit.HealthyVPCPrivateSubnets {
		if want := map[string]string{"kubernetes.io/cluster/prod": "shared", "kubernetes.io/role/internal-elb": "1",
			marker: "kubernetes.io/cluster/prod kubernetes.io/role/internal-elb"}; !reflect.DeepEqual(first[id], want) {
			t.Errorf("%s: %v, want %v", id, first[id], want)
		}
	}
	for _, id := range testkit.HealthyVPCPublicSubnets {
		// HealthyVPC's owner tagged the public subnets kubernetes.io/role/elb.
		if want := map[string]string{"kubernetes.io/cluster/prod": "shared", marker: "kubernetes.io/cluster/prod"}; !reflect.DeepEqual(first[id], want) {
			t.Errorf("%s: %v, want %v", id, first[id], want)
		}
	}
	// After the first `up`: the subnets carry what the stack added.
	v := testkit.HealthyVPC()
	for id, tags := range first {
		s := v.Subnets[id]
		maps.Copy(s.Tags, tags)
		v.Subnets[id] = s
	}
	d2, _ := describe(t, v, cfg)
	if second := preflight.SharedSubnetTags(d2, cfg.ClusterName, first); !reflect.DeepEqual(second, first) {
		t.Errorf("second up manages %v, first %v", second, first)
	}
	// A failed first `up` recorded nothing: the list on the subnet says
	// the tags are the stack's, so the next run keeps them (no delete and
	// re-add).
	if again := preflight.SharedSubnetTags(d2, cfg.ClusterName, nil); !reflect.DeepEqual(again, first) {
		t.Errorf("after a failed first up: %v, want %v", again, first)
	}
	// A stack deployed before the list existed: its record says what it
	// added; the list is added beside.
	old := testkit.HealthyVPC()
	for id, tags := range first {
		s := old.Subnets[id]
		for k, val := range tags {
			if k != marker {
				s.Tags[k] = val
			}
		}
		old.Subnets[id] = s
	}
	d3, _ := describe(t, old, cfg)
	recorded := map[string]map[string]string{}
	for id, tags := range first {
		recorded[id] = maps.Clone(tags)
		delete(recorded[id], marker)
	}
	if kept := preflight.SharedSubnetTags(d3, cfg.ClusterName, recorded); !reflect.DeepEqual(kept, first) {
		t.Errorf("an earlier stack's tags: %v, want %v", kept, first)
	}
	// The owner's own tags, the cluster's included: nothing to add on
	// that subnet, not even the list.
	owned := testkit.HealthyVPC()
	priv0 := testkit.HealthyVPCPrivateSubnets[0]
	s := owned.Subnets[priv0]
	s.Tags["kubernetes.io/cluster/prod"], s.Tags["kubernetes.io/role/internal-elb"] = "shared", "1"
	owned.Subnets[priv0] = s
	d4, _ := describe(t, owned, cfg)
	if got := preflight.SharedSubnetTags(d4, cfg.ClusterName, nil)[priv0]; len(got) != 0 {
		t.Errorf("took over the owner's tags: %v", got)
	}
}

// Every AWS service a policy of the stack grants to a caller in the
// private subnets is in the no-NAT endpoint list, or is called by AWS on
// the caller's behalf.
func TestNoNATEndpointsCoverThePolicies(t *testing.T) {
	// Every grant on: the nodes run the ECR credential provider too.
	cfg := byoConfig(t, map[string]string{"image": `{"extensions":["siderolabs/ecr-credential-provider"]}`,
		"apiAccess": "private", "ingressAccess": "private", "jumpHost": "true"})
	region := cfg.Region
	addons := config.AddonsFor(cfg.KubernetesVersion)
	docs := []iampolicy.Document{
		compute.ControlPlanePolicy(cfg.ClusterName, region, addons.CCMImage, true, compute.ControlPlanePullsFromECR(cfg)),
		compute.WorkerPolicy(region, compute.WorkersPullFromECR(cfg)),
		compute.EBSCSIPolicy(cfg.ClusterName, region),
		compute.AutoscalerPolicy(cfg.ClusterName, addons.Autoscaler()),
		etcdguard.Policy(etcdguard.ARNs{Region: region, Secret: "arn:aws:secretsmanager:x", Key: "arn:aws:kms:x", Parameter: "arn:aws:ssm:x", LogGroup: "arn:aws:logs:x"}),
		drain.HandlerPolicy("arn:aws:sqs:x", []string{"arn:aws:autoscaling:x"}),
		backups.WriterPolicy("arn:aws:s3:::b", "arn:aws:kms:x", cfg.ClusterName),
		network.JumpHostPolicy(region),
	}
	// IAM prefix to endpoint service; "" for actions AWS performs for the
	// caller (KMS through EBS, S3 and Secrets Manager) or that the Lambda
	// service runs itself (network interfaces, logs).
	endpointOf := map[string]string{"ec2": "ec2", "elasticloadbalancing": "elasticloadbalancing", "autoscaling": "autoscaling",
		"sqs": "sqs", "secretsmanager": "secretsmanager", "ssm": "ssm", "cloudwatch": "monitoring", "s3": "s3", "kms": "", "logs": "", "ecr": "ecr.api",
		"ssmmessages": "ssmmessages"}
	have := map[string]bool{}
	for _, n := range preflight.NoNATEndpoints(cfg) {
		have[n.Service] = true
	}
	for _, doc := range docs {
		for _, st := range doc.Statement {
			if st.Effect != "Allow" {
				continue
			}
			for _, a := range st.Actions() {
				prefix, _, _ := strings.Cut(a, ":")
				svc, known := endpointOf[prefix]
				if !known {
					t.Errorf("%s: no endpoint mapping for %q", a, prefix)
					continue
				}
				if svc != "" && !have[svc] {
					t.Errorf("%s is granted but no %s endpoint is listed", a, svc)
				}
			}
		}
	}
	// Off by configuration, off the list.
	none := byoConfig(t, map[string]string{"workloadIdentity": "false", "backups": `{"enabled":false}`,
		"addons": `{"nodeTerminationHandler":{"enabled":false},"awsCloudControllerManager":{"enabled":false}}`})
	var got []string
	for _, n := range preflight.NoNATEndpoints(none) {
		got = append(got, n.Service)
	}
	if want := []string{"ec2", "autoscaling", "secretsmanager", "ssm", "monitoring"}; !slices.Equal(got, want) {
		t.Errorf("minimal endpoints %v, want %v", got, want)
	}
}

// In an existing VPC the stack makes no VPC, Internet gateway, NAT gateway
// or Elastic IP: none is a quota need or a cost.
func TestExistingVPCNeedsNoNetworkQuotas(t *testing.T) {
	cfg := byoConfig(t, nil)
	for _, n := range preflight.PlanQuotas(cfg, 3).Needs {
		switch n.Quota.Code {
		case preflight.VPCs.Code, preflight.InternetGateways.Code, preflight.NATGatewaysPerAZ.Code, preflight.ElasticIPs.Code:
			t.Errorf("quota need %s in an existing VPC", n.Quota.Name)
		}
	}
	for _, l := range preflight.EstimateCost(cfg, 3, preflight.Prices).Lines {
		if l.Item == preflight.ItemNAT || l.Item == preflight.ItemNATData {
			t.Errorf("cost line %s in an existing VPC", l.Item)
		}
	}
}

// AvailableIpAddressCount leaves out what the subnet already holds: on a
// running cluster its own nodes, load balancer and guard are missing from
// it, so the shortfall a new stack is refused for is only a warning there
// (an error would block every `up` of a cluster that fits). The jump host
// takes one more address in the first private subnet.
func TestAddressShortfallOnARunningCluster(t *testing.T) {
	v := testkit.HealthyVPC()
	first := testkit.HealthyVPCPrivateSubnets[0]
	s := v.Subnets[first]
	s.AvailableIPs = 24 // the HA stack's need per subnet, exactly
	v.Subnets[first] = s

	cfg := byoConfig(t, nil)
	d, _ := describe(t, v, cfg)
	if errs := preflight.CheckVPC(d, cfg); errs != nil {
		t.Fatalf("24 free of 24 needed: %v", errs.Strings())
	}
	jump := byoConfig(t, map[string]string{"apiAccess": "private", "ingressAccess": "private", "jumpHost": "true"})
	errs := preflight.CheckVPC(d, jump).Strings()
	if len(errs) != 1 || !strings.Contains(errs[0], "network.privateSubnetIds[0]") || !strings.Contains(errs[0], "needs 25 (") || !strings.Contains(errs[0], "+ the jump host 1)") {
		t.Errorf("with the jump host: %v", errs)
	}

	raw := byoRaw(t, map[string]string{"apiAccess": "private", "ingressAccess": "private", "jumpHost": "true"})
	running, _, err := config.ParseDeployed(config.MapSource(raw), config.Deployed{Exists: true, TalosVersion: "v1.13.13", KubernetesVersion: "1.36.3", ClusterEndpoint: "https://api.prod.talos.internal:6443"})
	if err != nil {
		t.Fatal(err)
	}
	if errs := preflight.CheckVPC(d, running); errs != nil {
		t.Errorf("a running cluster's shortfall is an error: %v", errs.Strings())
	}
	w := preflight.VPCWarnings(d, running)
	if len(w) != 1 || !strings.Contains(w[0], "network.privateSubnetIds[0]") || !strings.Contains(w[0], "AWS's count leaves it out") {
		t.Errorf("a running cluster's shortfall: warnings %v", w)
	}
}
