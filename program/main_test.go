package program

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/talos"
	"github.com/talos-aws/talos-aws/testkit"
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
	cfg, err := testkit.LoadStackFile("../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg["adminCidrs"] = admin
	return cfg
}

func haConfig(t testing.TB) map[string]string {
	t.Helper()
	cfg, err := testkit.LoadStackFile("../Pulumi.ha.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg["adminCidrs"] = admin
	return cfg
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

// after is dependsOn through any chain of dependencies: r is ordered after
// the resource of typ and name.
func after(m *testkit.Mocks, r testkit.Resource, typ, name string) bool {
	seen := map[string]bool{}
	var walk func(testkit.Resource) bool
	walk = func(x testkit.Resource) bool {
		if dependsOn(x, typ, name) {
			return true
		}
		for _, d := range x.Dependencies {
			if seen[d] {
				continue
			}
			seen[d] = true
			for _, y := range m.Resources {
				if strings.HasSuffix(d, y.Type+"::"+y.Name) && walk(y) {
					return true
				}
			}
		}
		return false
	}
	return walk(r)
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
	// maxSize one over: the etcd-guarded refresh launches before it terminates.
	if num(cp, "minSize") != 1 || num(cp, "maxSize") != 2 || num(cp, "desiredCapacity") != 1 {
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
	checkInvariants(t, m, outs, devConfig(t))
}

func TestHAStack(t *testing.T) {
	m := &testkit.Mocks{}
	outs := evaluate(t, m, haConfig(t))
	checkInvariants(t, m, outs, haConfig(t))

	cp := one(t, m, "aws:autoscaling/group:Group", "compute-cp")
	if num(cp, "desiredCapacity") != 3 || len(testkit.Strings(cp.Inputs["vpcZoneIdentifiers"])) != 3 {
		t.Errorf("HA control plane: %v", cp.Inputs)
	}
	// The control plane refreshes only under the etcd guard (guard_stack_test.go).
	cpHooks := 0
	for _, h := range m.ByType("aws:autoscaling/lifecycleHook:LifecycleHook") {
		if str(h, "autoscalingGroupName") == "compute-cp-asg" {
			cpHooks++
		}
	}
	if _, ok := cp.Inputs["instanceRefresh"]; !ok || cpHooks != 2 {
		t.Error("the control plane refreshes with the etcd guard's hooks")
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
	amd, arm := "talos-"+config.DefaultTalosVersion+"-ap-southeast-1-amd64", "talos-"+config.DefaultTalosVersion+"-ap-southeast-1-arm64"
	if !slices.Equal(amis, []string{amd, arm}) {
		t.Errorf("AMI lookups %v", amis)
	}
	if got := str(one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-arm-spot"), "imageId"); got != testkit.AMIID("arm64", arm) {
		t.Errorf("arm64 pool launches %s", got)
	}
	if got := str(one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-cp"), "imageId"); got != testkit.AMIID("amd64", amd) {
		t.Errorf("control plane launches %s", got)
	}
}

// The first preview of a new stack: nothing computed is known yet. It must
// complete, register every stage, and leave the secrets unknown, not empty.
func TestFirstPreview(t *testing.T) {
	m := &testkit.Mocks{Preview: true}
	outs := evaluate(t, m, haConfig(t))
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
