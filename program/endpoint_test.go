package program

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/network"
	"github.com/talos-aws/talos-aws/testkit"
)

// listeners are the load balancer listeners by the load balancer they are
// on ("int"/"pub") and port.
func listeners(m *testkit.Mocks) map[string][]int {
	out := map[string][]int{}
	lbByARN := map[string]string{}
	for _, lb := range m.ByType("aws:lb/loadBalancer:LoadBalancer") {
		kind := "pub"
		if lb.Inputs["internal"].BoolValue() {
			kind = "int"
		}
		lbByARN["arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:loadbalancer/net/"+str(lb, "name")] = kind
	}
	for _, l := range m.ByType("aws:lb/listener:Listener") {
		kind := lbByARN[str(l, "loadBalancerArn")]
		out[kind] = append(out[kind], int(num(l, "port")))
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// Who dials whom in each mode, on the graph: which load balancer serves
// 6443, 50000 and 443, where the CI access group sits, what the kubeconfig
// and talosconfig point at, and what `up` probes before the bootstrap.
func TestAccessModes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		set           map[string]string
		int, pub      []int
		ciOn          string // the load balancer kind the CI group is on
		clientOn      string // where kubectl and talosctl go
		probed        bool
		noPublicNames bool
	}{
		{"public", nil, []int{6443, 50001}, []int{443, 6443, 50000}, "pub", "pub", false, false},
		{"private API", map[string]string{"apiAccess": "private"}, []int{6443, 50000, 50001}, []int{443}, "int", "int", true, false},
		{"private API and ingress", map[string]string{"apiAccess": "private", "ingressAccess": "private"}, []int{443, 6443, 50000, 50001}, nil, "int", "int", true, true},
		{"private ingress", map[string]string{"ingressAccess": "private"}, []int{443, 6443, 50001}, []int{6443, 50000}, "pub", "pub", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := haConfig(t)
			maps.Copy(cfg, tc.set)
			lastProbes = &fakeProbes{}
			m := &testkit.Mocks{ControlPlaneInstances: cpInstances()}
			outs := evaluate(t, m, cfg)
			got := listeners(m)
			if !slices.Equal(got["int"], tc.int) || !slices.Equal(got["pub"], tc.pub) {
				t.Errorf("internal listeners %v, public %v; want %v, %v", got["int"], got["pub"], tc.int, tc.pub)
			}
			if tc.noPublicNames && len(m.ByType("aws:lb/loadBalancer:LoadBalancer")) != 1 {
				t.Error("a public load balancer with nothing public")
			}
			// The CI access group is on the load balancer that serves the APIs.
			ci := one(t, m, "aws:ec2/securityGroup:SecurityGroup", "network-ci-access")
			for _, lb := range m.ByType("aws:lb/loadBalancer:LoadBalancer") {
				kind := "pub"
				if lb.Inputs["internal"].BoolValue() {
					kind = "int"
				}
				has := slices.Contains(testkit.Strings(lb.Inputs["securityGroups"]), ci.Name+"_id")
				if has != (kind == tc.ciOn) {
					t.Errorf("CI access group on the %s load balancer: %v", kind, has)
				}
			}
			host := "prod-pub-0123456789abcdef.elb.ap-southeast-1.amazonaws.com"
			if tc.clientOn == "int" {
				host = "prod-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com"
			}
			if got := outs["apiEndpoint"].Value; got != "https://"+host+":6443" {
				t.Errorf("apiEndpoint %v, want the %s load balancer", got, tc.clientOn)
			}
			if _, ok := outs["publicEndpoint"]; ok == tc.probed {
				t.Errorf("publicEndpoint output with a private API: %v", ok)
			}
			boot := one(t, m, "talos:machine/bootstrap:Bootstrap", "talos-bootstrap")
			if str(boot, "endpoint") != host {
				t.Errorf("bootstrap through %s, want %s", str(boot, "endpoint"), host)
			}
			probed := slices.Contains(lastProbes.reached, host+" [6443 50000]")
			if probed != tc.probed {
				t.Errorf("probed %v before the bootstrap: %v", lastProbes.reached, probed)
			}
		})
	}
}

// A private API with no route from this machine fails `up` before the
// bootstrap, with the three ways that work; a preview probes nothing.
func TestPrivateProbeFailsFast(t *testing.T) {
	cfg := haConfig(t)
	cfg["apiAccess"] = "private"
	lastProbes = &fakeProbes{failReach: errors.New("timed out after 2m0s waiting for a route to the private API endpoint")}
	defer func() { lastProbes = &fakeProbes{} }()
	_, err := testkit.Run(t, &testkit.Mocks{ControlPlaneInstances: cpInstances()}, cfg, program)
	if err == nil {
		t.Fatal("up went on without a route")
	}
	for _, want := range []string{"prod-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com", "inside the VPC",
		"aws ssm start-session --region ap-southeast-1 --target <jump-instance-id> --document-name AWS-StartPortForwardingSessionToRemoteHost",
		`"portNumber":["6443"]`, "/etc/hosts", "VPN or Transit Gateway"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	lastProbes = &fakeProbes{failReach: errors.New("no route")}
	evaluate(t, &testkit.Mocks{ControlPlaneInstances: cpInstances(), DryRun: true}, cfg)
	if len(lastProbes.reached)+len(lastProbes.issuers) != 0 {
		t.Errorf("a preview probed %v %v", lastProbes.reached, lastProbes.issuers)
	}
}

// The issuer's documents are served before IAM reads them: `up` probes the
// issuer before the OIDC provider; a new stack's distribution does not wait
// for CloudFront to deploy, an existing one's keeps the provider's default.
func TestIssuerServedBeforeTheProvider(t *testing.T) {
	for _, existing := range []bool{false, true} {
		lastProbes = &fakeProbes{}
		cfg := haConfig(t)
		m := &testkit.Mocks{ControlPlaneInstances: cpInstances()}
		if existing {
			m.LastUp = legacyLastUp(cfg)
		}
		evaluate(t, m, cfg)
		if !slices.Equal(lastProbes.issuers, []string{issuer}) {
			t.Errorf("existing %v: probed issuers %v", existing, lastProbes.issuers)
		}
		d := one(t, m, "aws:cloudfront/distribution:Distribution", "identity-issuer")
		wait, set := d.Inputs["waitForDeployment"]
		if existing == (set && !wait.IsNull()) {
			t.Errorf("existing %v: waitForDeployment %v", existing, wait)
		}
		if !existing && wait.BoolValue() {
			t.Error("a new stack waits for CloudFront to deploy")
		}
	}
}

// An existing stack moving to the stable endpoint: its nodes roll once
// onto the new name; the old endpoint stays an accepted audience (and, as
// issuer, stays the only one on Talos 1.12 without workload identity, or
// the second on 1.13); nothing else but nodes and DNS changes.
func TestStableEndpointMove(t *testing.T) {
	for _, tc := range []struct {
		talos, k8s string
		issuers    []string
	}{
		{"v1.12.11", "1.35.10", []string{"https://prod-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com:6443"}},
		{"v1.13.13", "1.36.3", []string{"https://api.prod.talos.internal:6443", "https://prod-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com:6443"}},
	} {
		t.Run(tc.talos, func(t *testing.T) {
			cfg := noIdentity(haConfig(t))
			cfg["talosVersion"], cfg["kubernetesVersion"] = tc.talos, tc.k8s
			last := legacyLastUp(cfg)
			last["talosVersion"], last["kubernetesVersion"] = tc.talos, tc.k8s
			before := graphAfter(t, cfg, last)
			cfg["endpoint"] = `{"stable":true}`
			m := &testkit.Mocks{ControlPlaneInstances: cpInstances(), LastUp: last}
			evaluate(t, m, cfg)
			after := graphOf(t, &testkit.Mocks{ControlPlaneInstances: cpInstances(), LastUp: last}, cfg)
			for _, k := range changed(before, after) {
				typ := k[:strings.Index(k, "::")]
				if !slices.Contains([]string{"aws:ec2/launchTemplate:LaunchTemplate", "aws:lambda/invocation:Invocation", "aws:route53/zone:Zone", "aws:route53/record:Record"}, typ) {
					t.Errorf("%s changed", k)
				}
			}
			if got := apiServerIssuers(t, m); !slices.Equal(got, tc.issuers) {
				t.Errorf("issuers %v, want %v", got, tc.issuers)
			}
			if got := apiServerAudiences(t, m); fmt.Sprint(got) != fmt.Sprint([]string{"https://api.prod.talos.internal:6443,https://prod-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com:6443"}) {
				t.Errorf("audiences %v", got)
			}
		})
	}
}

// jumpHost: the stack's SSM jump host sits in a private subnet with no
// public address and no inbound rule, boots the latest Amazon Linux 2023
// through the launch template's SSM parameter, holds IMDSv2 and a role
// that may only run Session Manager's agent, reaches the internal load
// balancer on 6443 and 50000 through its own group (no adminCidrs entry),
// and `up` names it: in the probe's advice when there is no route, and in
// the jumpHostCommands output.
func TestJumpHost(t *testing.T) {
	cfg := haConfig(t)
	cfg["apiAccess"] = "private"
	cfg["jumpHost"] = "true"
	lastProbes = &fakeProbes{}
	m := &testkit.Mocks{ControlPlaneInstances: cpInstances()}
	outs := evaluate(t, m, cfg)
	const host = "prod-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com"

	inst := one(t, m, "aws:ec2/instance:Instance", "network-jump")
	if got := str(inst, "subnetId"); got != "network-private-ap-southeast-1a_id" {
		t.Errorf("jump host in subnet %q, want the first private subnet", got)
	}
	if inst.Inputs["associatePublicIpAddress"].BoolValue() {
		t.Error("jump host with a public address")
	}
	if sgs := testkit.Strings(inst.Inputs["vpcSecurityGroupIds"]); !slices.Equal(sgs, []string{"network-jump_id"}) {
		t.Errorf("jump host groups %v, want its own only", sgs)
	}
	lt := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "network-jump")
	if str(lt, "imageId") != network.JumpHostImage || str(lt, "instanceType") != "t4g.nano" {
		t.Errorf("jump host image %q type %q", str(lt, "imageId"), str(lt, "instanceType"))
	}
	bdm := lt.Inputs["blockDeviceMappings"].ArrayValue()
	if len(bdm) != 1 || bdm[0].ObjectValue()["ebs"].ObjectValue()["encrypted"].StringValue() != "true" || bdm[0].ObjectValue()["deviceName"].StringValue() != "/dev/xvda" {
		t.Errorf("jump host root volume %v: an encrypted /dev/xvda wanted", bdm)
	}
	if !after(m, inst, "aws:ec2/routeTableAssociation:RouteTableAssociation", "network-private-ap-southeast-1a") {
		t.Error("the jump host launches before its subnet's NAT route: its agent cannot register")
	}
	if md := lt.Inputs["metadataOptions"].ObjectValue(); md["httpTokens"].StringValue() != "required" || md["httpPutResponseHopLimit"].NumberValue() != 1 {
		t.Errorf("jump host metadata options %v: IMDSv2 with one hop wanted", md)
	}

	// Rules: none into the jump host; out, 443 anywhere (SSM) and the
	// forwarded ports to the private subnets; into the internal load
	// balancer, the forwarded ports from the jump host's group.
	out := map[int][]string{}
	var lbFrom []int
	for _, r := range m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
		switch {
		case str(r, "securityGroupId") == "network-jump_id" && str(r, "type") == "ingress":
			t.Errorf("an inbound rule on the jump host: %s", r.Name)
		case str(r, "securityGroupId") == "network-jump_id":
			out[int(num(r, "fromPort"))] = testkit.Strings(r.Inputs["cidrBlocks"])
		case str(r, "sourceSecurityGroupId") == "network-jump_id":
			if str(r, "securityGroupId") != "network-int-lb_id" || str(r, "type") != "ingress" {
				t.Errorf("%s: the jump host's group is a source only into the internal load balancer's", r.Name)
			}
			lbFrom = append(lbFrom, int(num(r, "fromPort")))
		}
	}
	slices.Sort(lbFrom)
	private := []string{"10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"}
	if !slices.Equal(out[443], []string{"0.0.0.0/0"}) || !slices.Equal(out[6443], private) || !slices.Equal(out[50000], private) || len(out) != 3 {
		t.Errorf("jump host egress %v, want 443 anywhere, 6443 and 50000 to %v", out, private)
	}
	if !slices.Equal(lbFrom, []int{6443, 50000}) {
		t.Errorf("internal load balancer open to the jump host on %v, want 6443 and 50000", lbFrom)
	}

	pol := one(t, m, "aws:iam/rolePolicy:RolePolicy", "network-jump")
	if str(pol, "policy") != network.JumpHostPolicy("ap-southeast-1").JSON() {
		t.Errorf("jump host policy %s", str(pol, "policy"))
	}

	cmds := outs["jumpHostCommands"].Value
	joined := fmt.Sprint(cmds)
	for _, want := range []string{"--target network-jump_id", `"host":["` + host + `"],"portNumber":["6443"],"localPortNumber":["6443"]`,
		`"portNumber":["50000"]`, "127.0.0.1 " + host} {
		if !strings.Contains(joined, want) {
			t.Errorf("jumpHostCommands lack %q: %v", want, cmds)
		}
	}

	// No route: the advice names this jump host, not a placeholder.
	lastProbes = &fakeProbes{failReach: errors.New("no route")}
	defer func() { lastProbes = &fakeProbes{} }()
	_, err := testkit.Run(t, &testkit.Mocks{ControlPlaneInstances: cpInstances()}, cfg, program)
	if err == nil {
		t.Fatal("up went on without a route")
	}
	for _, want := range []string{"the stack's jump host", "--target network-jump_id", "TargetNotConnected"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "<jump-instance-id>") {
		t.Errorf("error names a placeholder with the stack's jump host:\n%v", err)
	}
}
