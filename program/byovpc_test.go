package program

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/testkit"
)

// byoConfig is the HA stack deployed into testkit.HealthyVPC.
func byoConfig(t *testing.T) map[string]string {
	t.Helper()
	cfg := haConfig(t)
	b, err := json.Marshal(map[string]any{"vpcId": testkit.HealthyVPC().ID,
		"privateSubnetIds": testkit.HealthyVPCPrivateSubnets, "publicSubnetIds": testkit.HealthyVPCPublicSubnets})
	if err != nil {
		t.Fatal(err)
	}
	cfg["network"] = string(b)
	return cfg
}

// Deploying into an existing VPC creates no VPC, subnet, gateway, route or
// route table; tags the user's subnets with this cluster's shared tag and,
// where the owner has none, their role tag; puts nodes and load balancers in
// the given subnets; and records the tags it added for the next run, which
// keeps managing exactly those.
func TestBringYourOwnVPC(t *testing.T) {
	m := &testkit.Mocks{ControlPlaneInstances: cpInstances(), VPC: testkit.HealthyVPC()}
	outs := evaluate(t, m, byoConfig(t))
	for _, typ := range []string{"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
		"aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/route:Route"} {
		if rs := m.ByType(typ); len(rs) > 0 {
			t.Errorf("%d %s created in the user's VPC", len(rs), typ)
		}
	}
	tags := map[string]map[string]string{}
	for _, tg := range m.ByType("aws:ec2/tag:Tag") {
		id := str(tg, "resourceId")
		if tags[id] == nil {
			tags[id] = map[string]string{}
		}
		tags[id][str(tg, "key")] = str(tg, "value")
	}
	for _, id := range testkit.HealthyVPCPrivateSubnets {
		if tags[id]["kubernetes.io/cluster/prod"] != "shared" || tags[id]["kubernetes.io/role/internal-elb"] != "1" {
			t.Errorf("private subnet %s tagged %v", id, tags[id])
		}
	}
	// Each subnet lists what the stack adds to it, and the list is tagged
	// before the rest: a failed `up` leaves no tag the list does not name.
	for _, tg := range m.ByType("aws:ec2/tag:Tag") {
		id, key := str(tg, "resourceId"), str(tg, "key")
		marker := "network-" + id + "-talos-aws-prod-added-tags"
		if key != "talos-aws/prod/added-tags" && !dependsOn(tg, "aws:ec2/tag:Tag", marker) {
			t.Errorf("%s (%s) is not tagged after %s", tg.Name, key, marker)
		}
		if key != "talos-aws/prod/added-tags" && !slices.Contains(strings.Fields(tags[id]["talos-aws/prod/added-tags"]), key) {
			t.Errorf("%s: %s is not in the subnet's list %q", id, key, tags[id]["talos-aws/prod/added-tags"])
		}
	}
	for _, id := range testkit.HealthyVPCPublicSubnets {
		// The owner set the public role tag: the stack does not take it over.
		if tags[id]["kubernetes.io/cluster/prod"] != "shared" || tags[id]["kubernetes.io/role/elb"] != "" {
			t.Errorf("public subnet %s tagged %v", id, tags[id])
		}
	}
	for _, lb := range m.ByType("aws:lb/loadBalancer:LoadBalancer") {
		want := testkit.HealthyVPCPublicSubnets
		if lb.Inputs["internal"].BoolValue() {
			want = testkit.HealthyVPCPrivateSubnets
		}
		if got := testkit.Strings(lb.Inputs["subnets"]); !slices.Equal(got, want) {
			t.Errorf("%s in %v, want %v", lb.Name, got, want)
		}
	}
	for _, asg := range m.ByType("aws:autoscaling/group:Group") {
		if got := testkit.Strings(asg.Inputs["vpcZoneIdentifiers"]); !slices.Equal(got, testkit.HealthyVPCPrivateSubnets) {
			t.Errorf("%s in %v", asg.Name, got)
		}
	}
	for _, sg := range m.ByType("aws:ec2/securityGroup:SecurityGroup") {
		if str(sg, "vpcId") != testkit.HealthyVPC().ID {
			t.Errorf("%s in VPC %q", sg.Name, str(sg, "vpcId"))
		}
	}
	rec, ok := outs["sharedSubnetTags"].Value.(map[string]any)
	if !ok || len(rec) != 6 {
		t.Fatalf("recorded tags %v", outs["sharedSubnetTags"].Value)
	}

	// The next run, once the private role tags it added are there: it
	// keeps them (destroy would remove them), and still leaves the owner's.
	v := testkit.HealthyVPC()
	for _, id := range testkit.HealthyVPCPrivateSubnets {
		s := v.Subnets[id]
		s.Tags = map[string]string{"Name": s.Tags["Name"], "kubernetes.io/cluster/prod": "shared", "kubernetes.io/role/internal-elb": "1"}
		v.Subnets[id] = s
	}
	m2 := &testkit.Mocks{ControlPlaneInstances: cpInstances(), VPC: v, LastUp: map[string]any{"clusterEndpoint": "https://api.prod.talos.internal:6443", "sharedSubnetTags": rec}}
	evaluate(t, m2, byoConfig(t))
	if a, b := len(m.ByType("aws:ec2/tag:Tag")), len(m2.ByType("aws:ec2/tag:Tag")); a != b {
		t.Errorf("the second run manages %d tags, the first %d", b, a)
	}
}

// A VPC the stack cannot use stops the preview before any resource, every
// problem at its key, naming the AWS attribute.
func TestBringYourOwnVPCRejected(t *testing.T) {
	v := testkit.HealthyVPC()
	v.EnableDNSHostnames = false
	s := v.Subnets[testkit.HealthyVPCPrivateSubnets[1]]
	s.AvailableIPs = 3
	v.Subnets[testkit.HealthyVPCPrivateSubnets[1]] = s
	m := &testkit.Mocks{VPC: v, Preview: true}
	_, err := testkit.Run(t, m, byoConfig(t), program)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"network.vpcId", "EnableDnsHostnames", "network.privateSubnetIds[1]", "AvailableIpAddressCount"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, r := range m.Resources {
		if !strings.HasPrefix(r.Type, "pulumi:providers:") && r.Type != testkit.StackReference {
			t.Errorf("registered %s %s before failing", r.Type, r.Name)
		}
	}
	// Public access needs public subnets.
	cfg := byoConfig(t)
	b, _ := json.Marshal(map[string]any{"vpcId": testkit.HealthyVPC().ID, "privateSubnetIds": testkit.HealthyVPCPrivateSubnets})
	cfg["network"] = string(b)
	if _, err := testkit.Run(t, &testkit.Mocks{VPC: testkit.HealthyVPC(), Preview: true}, cfg, program); err == nil || !strings.Contains(err.Error(), "network.publicSubnetIds") {
		t.Errorf("public access without public subnets: %v", err)
	}
}

// In an existing VPC the jump host goes in the user's first private
// subnet and forwards to the private subnets' own CIDRs (where the
// internal load balancer's interfaces are); the stack creates no route
// for it, so it waits for none.
func TestJumpHostInAnExistingVPC(t *testing.T) {
	cfg := byoConfig(t)
	cfg["apiAccess"], cfg["ingressAccess"], cfg["jumpHost"] = "private", "private", "true"
	lastProbes = &fakeProbes{}
	m := &testkit.Mocks{ControlPlaneInstances: cpInstances(), VPC: testkit.HealthyVPC()}
	evaluate(t, m, cfg)
	inst := one(t, m, "aws:ec2/instance:Instance", "network-jump")
	if got := str(inst, "subnetId"); got != testkit.HealthyVPCPrivateSubnets[0] {
		t.Errorf("jump host in %q, want %s", got, testkit.HealthyVPCPrivateSubnets[0])
	}
	forwards := 0
	for _, r := range m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
		if str(r, "securityGroupId") != "network-jump_id" || num(r, "fromPort") == 443 {
			continue
		}
		forwards++
		if got := testkit.Strings(r.Inputs["cidrBlocks"]); !slices.Equal(got, []string{"10.20.0.0/20", "10.20.16.0/20", "10.20.32.0/20"}) {
			t.Errorf("%s forwards to %v, not the user's private subnets", r.Name, got)
		}
	}
	if forwards != 2 {
		t.Errorf("%d forwarding rules, want 6443 and 50000", forwards)
	}
}
