package main

import (
	"encoding/base64"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/talos-aws/talos-aws/internal/testkit"
	"github.com/talos-aws/talos-aws/network"
	"github.com/talos-aws/talos-aws/talos"
)

const admin = `["203.0.113.10/32"]`

func cpInstances() []talos.Instance {
	// Deliberately unsorted: bootstrap must pick the lowest instance id.
	return []talos.Instance{{ID: "i-0c", PrivateIP: "10.0.64.10"}, {ID: "i-0a", PrivateIP: "10.0.0.10"}, {ID: "i-0b", PrivateIP: "10.0.32.10"}}
}

func evaluate(t *testing.T, m *testkit.Mocks, cfg map[string]string) map[string]internals.UnsafeAwaitOutputResult {
	t.Helper()
	if m.ControlPlaneInstances == nil {
		m.ControlPlaneInstances = cpInstances()
	}
	outs, err := testkit.Run(t, m, cfg, program)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

func devConfig(t *testing.T) map[string]string {
	cfg, err := testkit.LoadStackFile("Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg["adminCidrs"] = admin
	return cfg
}

func haConfig() map[string]string {
	return map[string]string{
		"adminCidrs":   admin,
		"clusterName":  "prod",
		"azCount":      "3",
		"controlPlane": `{"count":3}`,
		"workerPools": `[
			{"name":"general","instanceTypes":["m7i.large","m6i.large"],"minSize":3,"maxSize":9,"desiredCapacity":3,"autoscaled":true},
			{"name":"arm-spot","arch":"arm64","instanceTypes":["m7g.large","m6g.large"],"spot":true,"minSize":0,"maxSize":10,"desiredCapacity":2,
			 "labels":{"workload":"batch"},"taints":[{"key":"spot","value":"true","effect":"NoSchedule"}]}]`,
	}
}

func str(r testkit.Resource, k string) string {
	v := r.Inputs[resource.PropertyKey(k)]
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func num(r testkit.Resource, k string) float64 {
	return r.Inputs[resource.PropertyKey(k)].NumberValue()
}

func dependsOn(r testkit.Resource, typ, name string) bool {
	for _, d := range r.Dependencies {
		if strings.HasSuffix(d, typ+"::"+name) {
			return true
		}
	}
	return false
}

func one(t *testing.T, m *testkit.Mocks, typ, name string) testkit.Resource {
	t.Helper()
	for _, r := range m.ByType(typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s %s", typ, name)
	return testkit.Resource{}
}

func TestDevStack(t *testing.T) {
	m := &testkit.Mocks{}
	outs := evaluate(t, m, devConfig(t))

	cp := one(t, m, "aws:autoscaling/group:Group", "compute-cp")
	if num(cp, "minSize") != 1 || num(cp, "maxSize") != 1 || num(cp, "desiredCapacity") != 1 {
		t.Errorf("dev control plane size: %v", cp.Inputs)
	}
	if got := testkit.Strings(cp.Inputs["vpcZoneIdentifiers"]); !slices.Equal(got, []string{"network-private-ap-southeast-1a_id"}) {
		t.Errorf("control plane subnets %v", got)
	}
	worker := one(t, m, "aws:autoscaling/group:Group", "compute-general")
	dist := worker.Inputs["mixedInstancesPolicy"].ObjectValue()["instancesDistribution"].ObjectValue()
	if dist["onDemandPercentageAboveBaseCapacity"].NumberValue() != 0 {
		t.Errorf("dev pool is spot: %v", dist)
	}
	if len(m.ByType("aws:ec2/natGateway:NatGateway")) != 1 {
		t.Error("dev uses a single NAT gateway")
	}
	assertInvariants(t, m, outs, "talos-dev")
}

func TestHAStack(t *testing.T) {
	m := &testkit.Mocks{}
	outs := evaluate(t, m, haConfig())
	assertInvariants(t, m, outs, "prod")

	cp := one(t, m, "aws:autoscaling/group:Group", "compute-cp")
	if num(cp, "desiredCapacity") != 3 || len(testkit.Strings(cp.Inputs["vpcZoneIdentifiers"])) != 3 {
		t.Errorf("HA control plane: %v", cp.Inputs)
	}
	if _, ok := cp.Inputs["instanceRefresh"]; ok {
		t.Error("the control plane must not refresh itself")
	}
	general := one(t, m, "aws:autoscaling/group:Group", "compute-general")
	if !slices.Contains(general.IgnoreChanges, "desiredCapacity") {
		t.Errorf("autoscaled pool must ignore desiredCapacity: %v", general.IgnoreChanges)
	}
	if general.Inputs["instanceRefresh"].ObjectValue()["strategy"].StringValue() != "Rolling" {
		t.Error("worker pools roll on launch template changes")
	}
	spot := one(t, m, "aws:autoscaling/group:Group", "compute-arm-spot")
	if slices.Contains(spot.IgnoreChanges, "desiredCapacity") {
		t.Error("a pool not handed to an autoscaler keeps desiredCapacity")
	}
	mip := spot.Inputs["mixedInstancesPolicy"].ObjectValue()
	if mip["instancesDistribution"].ObjectValue()["onDemandPercentageAboveBaseCapacity"].NumberValue() != 0 {
		t.Error("spot pool must be 0% on-demand")
	}
	var types []string
	for _, o := range mip["launchTemplate"].ObjectValue()["overrides"].ArrayValue() {
		types = append(types, o.ObjectValue()["instanceType"].StringValue())
	}
	if !slices.Equal(types, []string{"m7g.large", "m6g.large"}) {
		t.Errorf("spot overrides %v", types)
	}
	tags := map[string]string{}
	for _, tg := range spot.Inputs["tags"].ArrayValue() {
		tags[tg.ObjectValue()["key"].StringValue()] = tg.ObjectValue()["value"].StringValue()
	}
	for k, v := range map[string]string{
		"k8s.io/cluster-autoscaler/enabled":                      "true",
		"k8s.io/cluster-autoscaler/prod":                         "owned",
		"k8s.io/cluster-autoscaler/node-template/label/workload": "batch",
		"k8s.io/cluster-autoscaler/node-template/taint/spot":     "true:NoSchedule",
	} {
		if tags[k] != v {
			t.Errorf("spot ASG tag %s = %q, want %q", k, tags[k], v)
		}
	}
	// One AMI lookup per architecture, each matching the exact published name.
	var amis []string
	for _, c := range m.Calls {
		if c.Token == "aws:ec2/getAmi:getAmi" {
			for _, f := range c.Args["filters"].ArrayValue() {
				if f.ObjectValue()["name"].StringValue() == "name" {
					amis = append(amis, f.ObjectValue()["values"].ArrayValue()[0].StringValue())
				}
			}
			if owners := testkit.Strings(c.Args["owners"]); !slices.Equal(owners, []string{"540036508848"}) {
				t.Errorf("AMI owners %v", owners)
			}
		}
	}
	sort.Strings(amis)
	if !slices.Equal(amis, []string{"talos-v1.12.11-ap-southeast-1-amd64", "talos-v1.12.11-ap-southeast-1-arm64"}) {
		t.Errorf("AMI lookups %v", amis)
	}
	if got := str(one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-arm-spot"), "imageId"); got != "ami-arm640123456789ab" {
		t.Errorf("arm64 pool launches %s", got)
	}
	if got := str(one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-cp"), "imageId"); got != "ami-amd640123456789ab" {
		t.Errorf("control plane launches %s", got)
	}
}

// assertInvariants checks what every stack shape must guarantee.
func assertInvariants(t *testing.T, m *testkit.Mocks, outs map[string]internals.UnsafeAwaitOutputResult, cluster string) {
	t.Helper()
	clusterTag := "kubernetes.io/cluster/" + cluster

	// Target groups: control-plane groups only on the control-plane ASG, ingress only on workers.
	cpTGs := []string{cluster + "-int-api", cluster + "-api", cluster + "-talos"}
	for _, asg := range m.ByType("aws:autoscaling/group:Group") {
		tgs := testkit.Strings(asg.Inputs["targetGroupArns"])
		var names []string
		for _, a := range tgs {
			names = append(names, a[strings.LastIndex(a, "/")+1:])
		}
		sort.Strings(names)
		want := []string{cluster + "-ingress"}
		if asg.Name == "compute-cp" {
			want = slices.Clone(cpTGs)
			sort.Strings(want)
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s attached to %v, want %v", asg.Name, names, want)
		}
		if str(asg, "healthCheckType") != "EC2" {
			t.Errorf("%s: ELB health checks kill Talos nodes before bootstrap", asg.Name)
		}
		if _, ok := asg.Inputs["waitForElbCapacity"]; ok {
			t.Errorf("%s waits for ELB capacity", asg.Name)
		}
		for _, s := range testkit.Strings(asg.Inputs["vpcZoneIdentifiers"]) {
			if !strings.HasPrefix(s, "network-private-") {
				t.Errorf("%s in non-private subnet %s", asg.Name, s)
			}
		}
	}

	// Launch templates: IMDSv2, no metadata tags, no public IP, encrypted
	// root, secret user data that is a valid Talos config within 16 KiB.
	for _, lt := range m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
		md := lt.Inputs["metadataOptions"].ObjectValue()
		if md["httpTokens"].StringValue() != "required" || md["instanceMetadataTags"].StringValue() != "disabled" {
			t.Errorf("%s metadata options %v", lt.Name, md)
		}
		hop := md["httpPutResponseHopLimit"].NumberValue()
		if (lt.Name == "compute-cp" && hop != 2) || (lt.Name != "compute-cp" && hop != 1) {
			t.Errorf("%s hop limit %v", lt.Name, hop)
		}
		nic := lt.Inputs["networkInterfaces"].ArrayValue()[0].ObjectValue()
		if nic["associatePublicIpAddress"].StringValue() != "false" {
			t.Errorf("%s may get a public IP", lt.Name)
		}
		ebs := lt.Inputs["blockDeviceMappings"].ArrayValue()[0].ObjectValue()["ebs"].ObjectValue()
		if ebs["encrypted"].StringValue() != "true" || ebs["volumeType"].StringValue() != "gp3" {
			t.Errorf("%s root volume %v", lt.Name, ebs)
		}
		ud := lt.Inputs["userData"]
		if !ud.IsSecret() {
			t.Errorf("%s user data is not secret", lt.Name)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(ud.SecretValue().Element.StringValue())
		if err != nil {
			t.Fatalf("%s user data: %v", lt.Name, err)
		}
		if len(raw) > talos.MaxUserDataBytes {
			t.Errorf("%s user data %d bytes", lt.Name, len(raw))
		}
		if _, err := talos.ValidateMachineConfig(raw); err != nil {
			t.Errorf("%s: Talos rejects its user data: %v", lt.Name, err)
		}
		wantType := "type: worker"
		if lt.Name == "compute-cp" {
			wantType = "type: controlplane"
		}
		if !strings.Contains(string(raw), wantType) || !strings.Contains(string(raw), "endpoint: https://"+cluster+"-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com:6443") {
			t.Errorf("%s: wrong role or cluster endpoint in user data", lt.Name)
		}
		var tagged []string
		for _, ts := range lt.Inputs["tagSpecifications"].ArrayValue() {
			if ts.ObjectValue()["tags"].ObjectValue()[resource.PropertyKey(clusterTag)].StringValue() == "owned" {
				tagged = append(tagged, ts.ObjectValue()["resourceType"].StringValue())
			}
		}
		if !slices.Equal(tagged, []string{"instance", "volume", "network-interface"}) {
			t.Errorf("%s tags %v with the cluster tag", lt.Name, tagged)
		}
	}

	// Node security groups: nothing from a CIDR, only from security groups.
	for _, r := range m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
		if !strings.HasPrefix(r.Name, "compute-") || str(r, "type") != "ingress" {
			continue
		}
		if len(testkit.Strings(r.Inputs["cidrBlocks"])) > 0 || str(r, "sourceSecurityGroupId") == "" {
			t.Errorf("%s admits a CIDR", r.Name)
		}
	}
	etcd := one(t, m, "aws:ec2/securityGroupRule:SecurityGroupRule", "compute-control-plane-from-control-plane-tcp-2379-2380")
	if str(etcd, "sourceSecurityGroupId") != "compute-control-plane_id" {
		t.Error("etcd must be reachable from control-plane nodes only")
	}
	ingress := one(t, m, "aws:ec2/securityGroupRule:SecurityGroupRule", "compute-workers-from-public-lb-tcp-30443")
	if str(ingress, "securityGroupId") != "compute-workers_id" || str(ingress, "sourceSecurityGroupId") != "network-pub-lb_id" ||
		num(ingress, "fromPort") != network.IngressHTTPSNodePort {
		t.Errorf("ingress NodePort rule %v", ingress.Inputs)
	}

	// Machine secrets are secret outputs.
	sec := m.ByType("talos:machine/secrets:Secrets")
	if len(sec) != 1 || !slices.Contains(sec[0].AdditionalSecretOutputs, "machineSecrets") || !slices.Contains(sec[0].AdditionalSecretOutputs, "clientConfiguration") {
		t.Errorf("machine secrets must be secret: %+v", sec)
	}

	// Bootstrap: once, after the control-plane ASG, on the lowest instance id, never re-run.
	boot := m.ByType("talos:machine/bootstrap:Bootstrap")
	if len(boot) != 1 {
		t.Fatalf("want one bootstrap, got %d", len(boot))
	}
	if !dependsOn(boot[0], "aws:autoscaling/group:Group", "compute-cp") {
		t.Errorf("bootstrap must depend on the control-plane ASG: %v", boot[0].Dependencies)
	}
	ic := slices.Clone(boot[0].IgnoreChanges)
	sort.Strings(ic)
	if !slices.Equal(ic, []string{"endpoint", "node"}) {
		t.Errorf("bootstrap ignoreChanges %v", ic)
	}
	if str(boot[0], "node") != "10.0.0.10" {
		t.Errorf("bootstrap node %s, want the lowest instance id's IP 10.0.0.10", str(boot[0], "node"))
	}
	if str(boot[0], "endpoint") != cluster+"-pub-0123456789abcdef.elb.ap-southeast-1.amazonaws.com" {
		t.Errorf("bootstrap endpoint %s", str(boot[0], "endpoint"))
	}

	// Exports: secrets are secret; kubeconfig points at the public NLB.
	for _, k := range []string{"kubeconfig", "talosconfig"} {
		if !outs[k].Secret || !outs[k].Known {
			t.Errorf("export %s: secret=%v known=%v", k, outs[k].Secret, outs[k].Known)
		}
	}
	pub := "https://" + cluster + "-pub-0123456789abcdef.elb.ap-southeast-1.amazonaws.com:6443"
	if kc, _ := outs["kubeconfig"].Value.(string); !strings.Contains(kc, "server: "+pub) || strings.Contains(kc, "internal") {
		t.Errorf("kubeconfig server not rewritten to %s:\n%s", pub, kc)
	}
	if tc, _ := outs["talosconfig"].Value.(string); !strings.Contains(tc, "10.0.0.10, 10.0.32.10, 10.0.64.10") {
		t.Errorf("talosconfig nodes: %s", tc)
	}
	if outs["publicEndpoint"].Value != pub {
		t.Errorf("publicEndpoint %v", outs["publicEndpoint"].Value)
	}
	for _, k := range []string{"vpcId", "privateSubnetIds", "publicSubnetIds", "controlPlaneAsgName", "workerAsgNames", "clusterEndpoint"} {
		if !outs[k].Known || outs[k].Value == nil {
			t.Errorf("export %s missing", k)
		}
	}

	// Every AWS resource that takes tags carries the cluster tag; every
	// resource but the providers lives inside a stage component.
	for _, r := range m.Resources {
		if strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		if !strings.Contains(r.Parent, "talos-aws:") && !strings.HasPrefix(r.Type, "talos-aws:") {
			t.Errorf("%s (%s) is outside a stage component (parent %q)", r.Name, r.Type, r.Parent)
		}
		if tags, ok := r.Inputs["tags"]; ok && tags.IsObject() {
			if tags.ObjectValue()[resource.PropertyKey(clusterTag)].StringValue() != "owned" {
				t.Errorf("%s lacks %s", r.Name, clusterTag)
			}
		}
	}
}

// Bad input fails with the key named and registers nothing.
func TestBadInputRegistersNothing(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  map[string]string
		want string
	}{
		"missing adminCidrs": {map[string]string{}, "adminCidrs: Required value"},
		"even control plane": {map[string]string{"adminCidrs": admin, "controlPlane": `{"count":2}`}, "controlPlane.count"},
		"patch Talos rejects": {map[string]string{"adminCidrs": admin,
			"workerPools": `[{"name":"w","instanceTypes":["m7i.large"],"configPatches":["machine:\n  kubelet:\n    nodeIP:\n      validSubnets: [\"nope\"]\n"]}]`},
			"workerPools[0] (w).configPatches"},
		"AZ not offered": {map[string]string{"adminCidrs": admin, "availabilityZones": `["ap-southeast-1z"]`}, "availabilityZones[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			m := &testkit.Mocks{}
			_, err := testkit.Run(t, m, tc.cfg, program)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error naming %q, got %v", tc.want, err)
			}
			for _, r := range m.Resources {
				if !strings.HasPrefix(r.Type, "pulumi:providers:") {
					t.Errorf("registered %s %s", r.Type, r.Name)
				}
			}
		})
	}
}

// The first preview of a new stack: nothing computed is known yet. It must
// complete, register every stage, and leave the secrets unknown, not empty.
func TestFirstPreview(t *testing.T) {
	m := &testkit.Mocks{Preview: true}
	outs := evaluate(t, m, haConfig())
	if len(m.ByType("talos:machine/bootstrap:Bootstrap")) != 1 || len(m.ByType("aws:autoscaling/group:Group")) != 3 {
		t.Errorf("preview must show the whole graph")
	}
	for _, c := range m.Calls {
		if c.Token == "aws:ec2/getInstances:getInstances" {
			t.Error("the control-plane instance lookup must wait for the ASG, not return an empty list on preview")
		}
	}
	if outs["kubeconfig"].Known {
		t.Error("kubeconfig cannot be known on a first preview")
	}
	_ = maps.Keys(outs)
}

func TestRunExports(t *testing.T) {
	m := &testkit.Mocks{ControlPlaneInstances: cpInstances()}
	_, err := testkit.Run(t, m, devConfig(t), func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		return nil, run(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
}
