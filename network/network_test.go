package network_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/internal/ports"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
	"github.com/talos-aws/talos-aws/network"
	"github.com/talos-aws/talos-aws/testkit"
)

var azs = []string{"ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"}

func runNetwork(t *testing.T, args network.Args) *testkit.Mocks {
	t.Helper()
	m := &testkit.Mocks{}
	_, err := testkit.Run(t, m, nil, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		_, err := network.New(ctx, "network", args)
		return nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func baseArgs() network.Args {
	return network.Args{
		ClusterName:  "demo",
		VPCCIDR:      "10.0.0.0/16",
		AZs:          azs,
		NATStrategy:  "perAz",
		AdminCIDRs:   []string{"203.0.113.10/32"},
		IngressCIDRs: []string{"0.0.0.0/0"},
		Tags:         map[string]string{"kubernetes.io/cluster/demo": "owned", "team": "platform"},
	}
}

func str(r testkit.Resource, k string) string {
	v := r.Inputs[resource.PropertyKey(k)]
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func TestSubnetsRoutesAndNAT(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		nats     int
	}{{"perAz", 3}, {"single", 1}} {
		t.Run(tc.strategy, func(t *testing.T) {
			args := baseArgs()
			args.NATStrategy = tc.strategy
			m := runNetwork(t, args)

			vpc := m.ByType("aws:ec2/vpc:Vpc")
			if len(vpc) != 1 || str(vpc[0], "cidrBlock") != "10.0.0.0/16" ||
				!vpc[0].Inputs["enableDnsSupport"].BoolValue() || !vpc[0].Inputs["enableDnsHostnames"].BoolValue() {
				t.Fatalf("vpc: %+v", vpc)
			}
			subnets := map[string]testkit.Resource{}
			for _, s := range m.ByType("aws:ec2/subnet:Subnet") {
				subnets[s.Name] = s
				if s.Inputs["mapPublicIpOnLaunch"].BoolValue() {
					t.Errorf("%s maps public IPs", s.Name)
				}
			}
			if len(subnets) != 6 {
				t.Fatalf("want 6 subnets, got %d", len(subnets))
			}
			wantPriv := []string{"10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"}
			wantPub := []string{"10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"}
			for i, az := range azs {
				priv, pub := subnets["network-private-"+az], subnets["network-public-"+az]
				if str(priv, "cidrBlock") != wantPriv[i] || str(priv, "availabilityZone") != az {
					t.Errorf("private %s: %s in %s", az, str(priv, "cidrBlock"), str(priv, "availabilityZone"))
				}
				if str(pub, "cidrBlock") != wantPub[i] || str(pub, "availabilityZone") != az {
					t.Errorf("public %s: %s in %s", az, str(pub, "cidrBlock"), str(pub, "availabilityZone"))
				}
				if tags := priv.Inputs["tags"].ObjectValue(); tags["kubernetes.io/role/internal-elb"].StringValue() != "1" ||
					tags["kubernetes.io/cluster/demo"].StringValue() != "owned" {
					t.Errorf("private subnet tags: %v", tags)
				}
				if tags := pub.Inputs["tags"].ObjectValue(); tags["kubernetes.io/role/elb"].StringValue() != "1" ||
					tags["kubernetes.io/cluster/demo"].StringValue() != "owned" {
					t.Errorf("public subnet tags: %v", tags)
				}
			}
			nats := m.ByType("aws:ec2/natGateway:NatGateway")
			if len(nats) != tc.nats || len(m.ByType("aws:ec2/eip:Eip")) != tc.nats {
				t.Fatalf("want %d NAT gateways and EIPs, got %d", tc.nats, len(nats))
			}
			for _, n := range nats {
				if sub := str(n, "subnetId"); sub[:len("network-public-")] != "network-public-" {
					t.Errorf("NAT %s not in a public subnet: %s", n.Name, sub)
				}
			}
			for _, az := range azs {
				rt, _ := m.ByName("network-private-" + az)
				for _, r := range m.ByType("aws:ec2/routeTable:RouteTable") {
					if r.Name == "network-private-"+az {
						rt = r
					}
				}
				routes := rt.Inputs["routes"].ArrayValue()
				if len(routes) != 1 || routes[0].ObjectValue()["cidrBlock"].StringValue() != "0.0.0.0/0" {
					t.Fatalf("private route table %s: %v", az, routes)
				}
				want := "network-nat-" + azs[0] + "_id"
				if tc.strategy == "perAz" {
					want = "network-nat-" + az + "_id"
				}
				if got := routes[0].ObjectValue()["natGatewayId"].StringValue(); got != want {
					t.Errorf("private %s routes via %s, want %s", az, got, want)
				}
			}
			for _, r := range m.ByType("aws:ec2/routeTable:RouteTable") {
				if r.Name == "network-public" {
					if gw := r.Inputs["routes"].ArrayValue()[0].ObjectValue()["gatewayId"].StringValue(); gw != "network-igw_id" {
						t.Errorf("public route via %s", gw)
					}
				}
			}
		})
	}
}

func TestLoadBalancers(t *testing.T) {
	m := runNetwork(t, baseArgs())
	lbs := map[string]testkit.Resource{}
	for _, l := range m.ByType("aws:lb/loadBalancer:LoadBalancer") {
		lbs[l.Name] = l
		if str(l, "loadBalancerType") != "network" || !l.Inputs["enableCrossZoneLoadBalancing"].BoolValue() {
			t.Errorf("%s: not a cross-zone NLB", l.Name)
		}
		// The internal NLB: its own group; the public one: its own and the
		// CI access group (TestCIAccessGroupIsRulelessAndOnlyOnThePublicNLB).
		want := map[string]int{"network-int": 1, "network-pub": 2}[l.Name]
		if n := len(l.Inputs["securityGroups"].ArrayValue()); n != want {
			t.Errorf("%s: %d security groups, want %d", l.Name, n, want)
		}
	}
	internal, public := lbs["network-int"], lbs["network-pub"]
	if !internal.Inputs["internal"].BoolValue() || public.Inputs["internal"].BoolValue() {
		t.Fatal("schemes: want internal and internet-facing")
	}
	if str(internal, "name") != "demo-int" || str(public, "name") != "demo-pub" {
		t.Errorf("names: %s %s", str(internal, "name"), str(public, "name"))
	}
	sortedSubnets := func(l testkit.Resource) []string {
		s := testkit.Strings(l.Inputs["subnets"])
		sort.Strings(s)
		return s
	}
	if got := sortedSubnets(internal); !reflect.DeepEqual(got, []string{"network-private-ap-southeast-1a_id", "network-private-ap-southeast-1b_id", "network-private-ap-southeast-1c_id"}) {
		t.Errorf("internal NLB subnets: %v", got)
	}
	if got := sortedSubnets(public); !reflect.DeepEqual(got, []string{"network-public-ap-southeast-1a_id", "network-public-ap-southeast-1b_id", "network-public-ap-southeast-1c_id"}) {
		t.Errorf("public NLB subnets: %v", got)
	}

	tgs := map[string]testkit.Resource{}
	for _, tg := range m.ByType("aws:lb/targetGroup:TargetGroup") {
		tgs[str(tg, "arn")+tg.Name] = tg
		tgs[tg.Name] = tg
		if str(tg, "preserveClientIp") != "false" {
			t.Errorf("%s: client IP preservation must be off", tg.Name)
		}
		hc := tg.Inputs["healthCheck"].ObjectValue()
		if hc["protocol"].StringValue() != "TCP" {
			t.Errorf("%s: health check %v", tg.Name, hc)
		}
		if tg.Inputs["deregistrationDelay"].NumberValue() > 30 {
			t.Errorf("%s: long deregistration delay", tg.Name)
		}
	}
	// listener → (load balancer, target group, target port)
	want := map[string]struct {
		lb     string
		port   float64
		tg     string
		target float64
	}{
		"network-int-api": {"network-int", 6443, "network-int-api", 6443},
		"network-trustd":  {"network-int", 50001, "network-trustd", 50001},
		"network-api":     {"network-pub", 6443, "network-api", 6443},
		"network-talos":   {"network-pub", 50000, "network-talos", 50000},
		"network-ingress": {"network-pub", 443, "network-ingress", ports.IngressHTTPS},
	}
	listeners := m.ByType("aws:lb/listener:Listener")
	if len(listeners) != len(want) {
		t.Fatalf("want %d listeners, got %d", len(want), len(listeners))
	}
	for _, l := range listeners {
		w, ok := want[l.Name]
		if !ok {
			t.Fatalf("unexpected listener %s", l.Name)
		}
		lbARN := str(l, "loadBalancerArn")
		if lbARN != "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:loadbalancer/net/"+str(lbs[w.lb], "name") {
			t.Errorf("%s on %s, want %s", l.Name, lbARN, w.lb)
		}
		if l.Inputs["port"].NumberValue() != w.port {
			t.Errorf("%s port %v", l.Name, l.Inputs["port"])
		}
		action := l.Inputs["defaultActions"].ArrayValue()[0].ObjectValue()
		tg := tgs[w.tg]
		if action["targetGroupArn"].StringValue() != "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/"+str(tg, "name") {
			t.Errorf("%s forwards to %s", l.Name, action["targetGroupArn"].StringValue())
		}
		if tg.Inputs["port"].NumberValue() != w.target {
			t.Errorf("%s target port %v, want %v", w.tg, tg.Inputs["port"], w.target)
		}
	}
	for _, r := range m.Resources {
		if r.Custom && r.Type != "aws:ec2/securityGroupRule:SecurityGroupRule" && r.Type != "aws:ec2/routeTableAssociation:RouteTableAssociation" {
			if tags := r.Inputs["tags"]; !tags.IsObject() || tags.ObjectValue()["kubernetes.io/cluster/demo"].StringValue() != "owned" || tags.ObjectValue()["team"].StringValue() != "platform" {
				t.Errorf("%s (%s) lacks the cluster and user tags", r.Name, r.Type)
			}
		}
		if r.Parent == "" {
			t.Errorf("%s has no parent", r.Name)
		}
	}
}

type rule struct {
	sg, dir string
	port    float64
	cidrs   string
}

func sgRules(m *testkit.Mocks) []rule {
	var out []rule
	for _, r := range m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
		cidrs := testkit.Strings(r.Inputs["cidrBlocks"])
		sort.Strings(cidrs)
		out = append(out, rule{str(r, "securityGroupId"), str(r, "type"), r.Inputs["fromPort"].NumberValue(), joinCIDRs(cidrs)})
	}
	sortRules(out)
	return out
}

// Registration order under mocks is concurrent: compare as sets.
func sortRules(r []rule) {
	sort.Slice(r, func(i, j int) bool {
		a, b := r[i], r[j]
		if a.sg != b.sg {
			return a.sg < b.sg
		}
		if a.dir != b.dir {
			return a.dir < b.dir
		}
		return a.port < b.port
	})
}

func joinCIDRs(c []string) string {
	s := ""
	for i, x := range c {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}

func TestSecurityGroupRules(t *testing.T) {
	m := runNetwork(t, baseArgs())
	private := "10.0.0.0/19,10.0.32.0/19,10.0.64.0/19"
	want := []rule{
		{"network-int-lb_id", "ingress", 6443, private},
		{"network-int-lb_id", "egress", 6443, private},
		{"network-int-lb_id", "ingress", 50001, private},
		{"network-int-lb_id", "egress", 50001, private},
		{"network-pub-lb_id", "ingress", 6443, "203.0.113.10/32"},
		{"network-pub-lb_id", "ingress", 50000, "203.0.113.10/32"},
		{"network-pub-lb_id", "egress", 6443, private},
		{"network-pub-lb_id", "egress", 50000, private},
		{"network-pub-lb_id", "egress", ports.IngressHTTPS, private},
		{"network-pub-lb_id", "ingress", 443, "0.0.0.0/0"},
	}
	sortRules(want)
	if got := sgRules(m); !reflect.DeepEqual(got, want) {
		t.Errorf("rules:\n got %v\nwant %v", got, want)
	}
	for _, r := range sgRules(m) {
		if r.cidrs == "0.0.0.0/0" && r.port != 443 {
			t.Errorf("0.0.0.0/0 allowed on %v", r)
		}
	}

	// Ingress restricted: no rule from anywhere at all.
	args := baseArgs()
	args.IngressCIDRs = []string{"198.51.100.0/24"}
	for _, r := range sgRules(runNetwork(t, args)) {
		if r.cidrs == "0.0.0.0/0" {
			t.Errorf("0.0.0.0/0 allowed although ingress CIDRs are restricted: %v", r)
		}
		if r.port == 443 && r.cidrs != "198.51.100.0/24" {
			t.Errorf("443 from %s", r.cidrs)
		}
	}
}

func hasDep(r testkit.Resource, typ, name string) bool {
	for _, d := range r.Dependencies {
		if strings.HasSuffix(d, "::"+name) && strings.Contains(d, typ) {
			return true
		}
	}
	return false
}

// CI runners open their own /32 on a group Pulumi never manages rules of.
func TestCIAccessGroupIsRulelessAndOnlyOnThePublicNLB(t *testing.T) {
	m := runNetwork(t, baseArgs())
	sg, ok := m.ByName("network-ci-access")
	if !ok {
		t.Fatal("no CI access security group")
	}
	if _, ok := sg.Inputs["ingress"]; ok {
		t.Error("the CI group must not declare ingress: Pulumi would revert the runner's rule")
	}
	if _, ok := sg.Inputs["egress"]; ok {
		t.Error("the CI group must not declare egress")
	}
	for _, k := range []string{"ingress", "egress"} {
		if !slices.Contains(sg.IgnoreChanges, k) {
			t.Errorf("the CI group must ignore %s changes made outside Pulumi: %v", k, sg.IgnoreChanges)
		}
	}
	if tags := sg.Inputs["tags"].ObjectValue(); tags[tagkeys.CIAccess].StringValue() != "demo" {
		t.Errorf("CI group tags %v: workflows find it by %s=<cluster>", tags, tagkeys.CIAccess)
	}
	for _, r := range m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
		if str(r, "securityGroupId") == "network-ci-access_id" {
			t.Errorf("rule %s on the CI group: its rules belong to CI", r.Name)
		}
	}
	lbs := map[string][]string{}
	for _, lb := range m.ByType("aws:lb/loadBalancer:LoadBalancer") {
		lbs[lb.Name] = testkit.Strings(lb.Inputs["securityGroups"])
	}
	if !slices.Contains(lbs["network-pub"], "network-ci-access_id") || len(lbs["network-pub"]) != 2 {
		t.Errorf("public NLB groups %v: want its own and the CI group", lbs["network-pub"])
	}
	if slices.Contains(lbs["network-int"], "network-ci-access_id") {
		t.Error("the internal NLB must not carry the CI group")
	}
}

// AWS rejects an internet-facing load balancer in a VPC without an attached
// internet gateway; nodes need their route to NAT before they boot.
func TestOrderingOnRealAWS(t *testing.T) {
	m := runNetwork(t, baseArgs())
	pub, _ := m.ByName("network-pub")
	if !hasDep(pub, "aws:ec2/internetGateway:InternetGateway", "network-igw") {
		t.Errorf("public NLB must wait for the internet gateway: %v", pub.Dependencies)
	}
	var tables, assocs int
	_, err := testkit.Run(t, &testkit.Mocks{}, nil, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		n, err := network.New(ctx, "network", baseArgs())
		if err != nil {
			return nil, err
		}
		for _, r := range n.PrivateEgress {
			switch r.(type) {
			case *ec2.RouteTable:
				tables++
			case *ec2.RouteTableAssociation:
				assocs++
			default:
				t.Errorf("%T in PrivateEgress", r)
			}
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tables != len(azs) || assocs != len(azs) {
		t.Errorf("private egress: %d route tables and %d associations, want %d each", tables, assocs, len(azs))
	}
}

func TestCIAccessPolicyTouchesOnlyTheTaggedGroup(t *testing.T) {
	var doc struct {
		Statement []struct {
			Action    []string
			Resource  any
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(network.CIAccessPolicy("prod")), &doc); err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			granted[a] = true
			if strings.HasPrefix(a, "ec2:Describe") {
				continue
			}
			if a != "ec2:AuthorizeSecurityGroupIngress" && a != "ec2:RevokeSecurityGroupIngress" {
				t.Errorf("unexpected action %s", a)
			}
			if s.Condition["StringEquals"]["aws:ResourceTag/"+tagkeys.CIAccess] != "prod" {
				t.Errorf("%s without the cluster's tag condition: %v", a, s.Condition)
			}
		}
	}
	if !granted["ec2:AuthorizeSecurityGroupIngress"] || !granted["ec2:RevokeSecurityGroupIngress"] {
		t.Errorf("the policy must let CI open and close its rule: %v", granted)
	}
	script, err := os.ReadFile("../scripts/ci-access.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "Name=tag:"+tagkeys.CIAccess+",") {
		t.Error("scripts/ci-access.sh must find the group by the tag the stack sets")
	}
	for _, p := range network.CIAccessPorts {
		if !strings.Contains(string(script), fmt.Sprint(p)) {
			t.Errorf("scripts/ci-access.sh does not open %d", p)
		}
	}
}

// The jump host's heartbeat grant names the region's partition: in China
// and GovCloud an "arn:aws:" resource matches nothing, the agent never
// registers and every session fails with TargetNotConnected.
func TestJumpHostPolicyPartition(t *testing.T) {
	for region, want := range map[string]string{
		"ap-southeast-1": "arn:aws:ec2:ap-southeast-1:*:instance/*",
		"cn-north-1":     "arn:aws-cn:ec2:cn-north-1:*:instance/*",
		"us-gov-west-1":  "arn:aws-us-gov:ec2:us-gov-west-1:*:instance/*",
	} {
		d := network.JumpHostPolicy(region)
		if got := d.Statement[0].Resource; got != want || d.Statement[0].Action.([]string)[0] != "ssm:UpdateInstanceInformation" {
			t.Errorf("%s: heartbeat on %v, want %s", region, got, want)
		}
	}
}
