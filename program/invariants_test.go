package program

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/ports"
	"github.com/talos-aws/talos-aws/internal/tagkeys"
	"github.com/talos-aws/talos-aws/talos"
	"github.com/talos-aws/talos-aws/testkit"
)

// shape is one stack configuration the invariants are checked on.
type shape struct {
	name string
	cfg  func(t *testing.T) map[string]string
}

func shapes() []shape {
	return []shape{
		{"dev", devConfig},
		{"ha", func(t *testing.T) map[string]string { return haConfig(t) }},
		{"arm64-spot", func(*testing.T) map[string]string {
			return map[string]string{"adminCidrs": admin, "clusterName": "graviton",
				"controlPlane": `{"count":3,"instanceType":"m7g.large","arch":"arm64"}`,
				"workerPools": `[{"name":"spot-a","arch":"arm64","instanceTypes":["m7g.large","c7g.large","r7g.large"],"spot":true,"minSize":1,"maxSize":5,"desiredCapacity":2},
				                {"name":"spot-b","arch":"arm64","instanceTypes":["m6g.xlarge","m7g.xlarge"],"spot":true,"minSize":0,"maxSize":5,"desiredCapacity":1}]`}
		}},
		{"single-nat", func(*testing.T) map[string]string {
			return map[string]string{"adminCidrs": `["198.51.100.0/24","203.0.113.7/32"]`, "clusterName": "lean",
				"azCount": "2", "natStrategy": "single", "ingressCidrs": `["192.0.2.0/24"]`, "vpcCidr": "172.20.0.0/20"}
		}},
		{"large", func(*testing.T) map[string]string {
			var pools []string
			for i := range 20 {
				pools = append(pools, fmt.Sprintf(`{"name":"pool-%02d","instanceTypes":["m7i.large","m6i.large"],"minSize":1,"maxSize":4,"desiredCapacity":2,"labels":{"pool-index":"%d"}}`, i, i))
			}
			return map[string]string{"adminCidrs": admin, "clusterName": "big", "controlPlane": `{"count":5}`,
				"workerPools": "[" + strings.Join(pools, ",") + "]", "addons": `{"cilium":{"hubble":true}}`}
		}},
	}
}

// TestInvariants evaluates the whole program on every shape and checks each
// invariant on each; a break in any one fails its own subtest.
func TestInvariants(t *testing.T) {
	for _, s := range shapes() {
		t.Run(s.name, func(t *testing.T) {
			cfg := s.cfg(t)
			m := &testkit.Mocks{WorkerInstances: []talos.Instance{{ID: "i-w1", PrivateIP: "10.0.0.99"}}}
			outs := evaluate(t, m, cfg)
			checkInvariants(t, m, outs, cfg)
		})
	}
}

type invariant struct {
	name  string
	check func(t *testing.T, st *stackView)
}

// stackView is what the invariants look at.
type stackView struct {
	m       *testkit.Mocks
	outs    map[string]internals.UnsafeAwaitOutputResult
	cfg     *config.Config
	cluster string
}

func checkInvariants(t *testing.T, m *testkit.Mocks, outs map[string]internals.UnsafeAwaitOutputResult, raw map[string]string) {
	t.Helper()
	cfg, _, err := config.Parse(config.MapSource(raw))
	if err != nil {
		t.Fatal(err)
	}
	st := &stackView{m: m, outs: outs, cfg: cfg, cluster: cfg.ClusterName}
	for _, inv := range invariants() {
		t.Run(inv.name, func(t *testing.T) { inv.check(t, st) })
	}
}

func invariants() []invariant {
	return []invariant{
		{"node-sg-no-cidr-ingress", func(t *testing.T, st *stackView) {
			for _, r := range st.m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
				if !strings.HasPrefix(r.Name, "compute-") || str(r, "type") != "ingress" {
					continue
				}
				if len(testkit.Strings(r.Inputs["cidrBlocks"])) > 0 || len(testkit.Strings(r.Inputs["ipv6CidrBlocks"])) > 0 || str(r, "sourceSecurityGroupId") == "" {
					t.Errorf("%s admits a CIDR", r.Name)
				}
			}
			for _, r := range st.m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
				for _, c := range append(testkit.Strings(r.Inputs["cidrBlocks"]), testkit.Strings(r.Inputs["ipv6CidrBlocks"])...) {
					// Only HTTPS ingress may be open to everyone, and only when the user asked.
					userOpenedHTTPS := r.Name == "network-pub-lb-https-in" && slices.Contains(st.cfg.IngressCIDRs, c)
					if (c == "0.0.0.0/0" || c == "::/0") && str(r, "type") == "ingress" && !userOpenedHTTPS {
						t.Errorf("%s admits %s", r.Name, c)
					}
				}
			}
		}},
		{"public-apis-only-from-admin-cidrs", func(t *testing.T, st *stackView) {
			want := slices.Clone(st.cfg.AdminCIDRs)
			sort.Strings(want)
			found := 0
			for _, r := range st.m.ByType("aws:ec2/securityGroupRule:SecurityGroupRule") {
				if str(r, "securityGroupId") != "network-pub-lb_id" || str(r, "type") != "ingress" {
					continue
				}
				port := num(r, "fromPort")
				if port == ports.KubeAPI || port == ports.TalosAPI {
					found++
					got := testkit.Strings(r.Inputs["cidrBlocks"])
					sort.Strings(got)
					if !slices.Equal(got, want) || num(r, "toPort") != port {
						t.Errorf("%s: %v:%v from %v, want only %v", r.Name, port, num(r, "toPort"), got, want)
					}
				} else if port != ports.HTTPS {
					t.Errorf("public NLB admits port %v", port)
				}
			}
			if found != 2 {
				t.Errorf("want 6443 and 50000 rules on the public NLB, found %d", found)
			}
		}},
		{"control-plane-target-groups", func(t *testing.T, st *stackView) {
			cpTGs := []string{st.cluster + "-api", st.cluster + "-int-api", st.cluster + "-talos", st.cluster + "-trustd"}
			for _, asg := range st.m.ByType("aws:autoscaling/group:Group") {
				var names []string
				for _, a := range testkit.Strings(asg.Inputs["targetGroupArns"]) {
					names = append(names, a[strings.LastIndex(a, "/")+1:])
				}
				sort.Strings(names)
				want := []string{st.cluster + "-ingress"}
				if asg.Name == "compute-cp" {
					want = cpTGs
				}
				if !slices.Equal(names, want) {
					t.Errorf("%s attached to %v, want %v", asg.Name, names, want)
				}
			}
			for _, tg := range st.m.ByType("aws:lb/targetGroup:TargetGroup") {
				if str(tg, "preserveClientIp") != "false" {
					t.Errorf("%s preserves client IPs", tg.Name)
				}
			}
		}},
		{"asgs-private-ec2-health", func(t *testing.T, st *stackView) {
			for _, asg := range st.m.ByType("aws:autoscaling/group:Group") {
				subnets := testkit.Strings(asg.Inputs["vpcZoneIdentifiers"])
				if len(subnets) == 0 {
					t.Errorf("%s has no subnets", asg.Name)
				}
				for _, s := range subnets {
					if !strings.HasPrefix(s, "network-private-") {
						t.Errorf("%s in %s", asg.Name, s)
					}
				}
				if str(asg, "healthCheckType") != "EC2" {
					t.Errorf("%s: ELB health checks kill Talos nodes before bootstrap", asg.Name)
				}
				for _, k := range []resource.PropertyKey{"waitForElbCapacity", "minElbCapacity"} {
					if _, ok := asg.Inputs[k]; ok {
						t.Errorf("%s waits for ELB capacity", asg.Name)
					}
				}
			}
		}},
		{"no-public-ips", func(t *testing.T, st *stackView) {
			for _, s := range st.m.ByType("aws:ec2/subnet:Subnet") {
				if s.Inputs["mapPublicIpOnLaunch"].BoolValue() {
					t.Errorf("%s maps public IPs", s.Name)
				}
			}
			for _, lt := range st.m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
				for _, nic := range lt.Inputs["networkInterfaces"].ArrayValue() {
					if nic.ObjectValue()["associatePublicIpAddress"].StringValue() != "false" {
						t.Errorf("%s may get a public IP", lt.Name)
					}
				}
			}
		}},
		{"imdsv2", func(t *testing.T, st *stackView) {
			for _, lt := range st.m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
				md := lt.Inputs["metadataOptions"].ObjectValue()
				if md["httpTokens"].StringValue() != "required" || md["instanceMetadataTags"].StringValue() != "disabled" {
					t.Errorf("%s metadata options %v", lt.Name, md)
				}
				hop := md["httpPutResponseHopLimit"].NumberValue()
				if (lt.Name == "compute-cp" && hop != float64(compute.ControlPlaneHopLimit(st.cfg))) || (lt.Name != "compute-cp" && hop != compute.WorkerIMDSHopLimit) {
					t.Errorf("%s hop limit %v", lt.Name, hop)
				}
			}
		}},
		{"encrypted-volumes", func(t *testing.T, st *stackView) {
			for _, lt := range st.m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
				bdm := lt.Inputs["blockDeviceMappings"].ArrayValue()
				if len(bdm) == 0 {
					t.Errorf("%s has no root volume mapping", lt.Name)
				}
				for _, b := range bdm {
					if b.ObjectValue()["ebs"].ObjectValue()["encrypted"].StringValue() != "true" {
						t.Errorf("%s: unencrypted volume", lt.Name)
					}
				}
			}
		}},
		{"secrets-stay-secret", func(t *testing.T, st *stackView) {
			for _, lt := range st.m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
				if !lt.Inputs["userData"].IsSecret() {
					t.Errorf("%s user data not secret", lt.Name)
				}
			}
			for _, typ := range []string{"talos:machine/bootstrap:Bootstrap", "talos:cluster/kubeconfig:Kubeconfig"} {
				for _, r := range st.m.ByType(typ) {
					if !r.Inputs["clientConfiguration"].ContainsSecrets() {
						t.Errorf("%s: client configuration not secret", r.Name)
					}
				}
			}
			for _, r := range st.m.ByType("talos:machine/secrets:Secrets") {
				for _, k := range []string{"machineSecrets", "clientConfiguration"} {
					if !slices.Contains(r.AdditionalSecretOutputs, k) {
						t.Errorf("machine secrets output %s not secret", k)
					}
				}
			}
			for _, r := range st.m.ByType("talos:cluster/kubeconfig:Kubeconfig") {
				if !slices.Contains(r.AdditionalSecretOutputs, "kubeconfigRaw") {
					t.Error("kubeconfigRaw not secret")
				}
			}
			// Invoke arguments are never stored in state; what an invoke
			// returns from secret inputs is checked where it lands (user
			// data above, talosconfig below).
			for _, p := range st.m.ByType("pulumi:providers:kubernetes") {
				if !p.Inputs["kubeconfig"].IsSecret() {
					t.Error("kubernetes provider kubeconfig not secret")
				}
			}
			for _, k := range []string{"kubeconfig", "talosconfig"} {
				if !st.outs[k].Secret {
					t.Errorf("export %s not secret", k)
				}
			}
		}},
		{"talos-configs-valid-and-fit", func(t *testing.T, st *stackView) {
			lts := st.m.ByType("aws:ec2/launchTemplate:LaunchTemplate")
			if len(lts) != 1+len(st.cfg.WorkerPools) {
				t.Fatalf("%d launch templates for %d pools", len(lts), len(st.cfg.WorkerPools))
			}
			for _, lt := range lts {
				raw := userData(t, lt)
				if len(raw) > talos.MaxUserDataBytes {
					t.Errorf("%s: %d bytes of user data", lt.Name, len(raw))
				}
				if _, err := talos.ValidateMachineConfig(raw); err != nil {
					t.Errorf("%s: Talos rejects its user data: %v", lt.Name, err)
				}
			}
		}},
		{"tag-budget", func(t *testing.T, st *stackView) {
			// Every resource stays within AWS's 50 tags, and each pool's
			// Auto Scaling group carries exactly the count config budgets for.
			for _, r := range st.m.Resources {
				tags := r.Inputs["tags"]
				n := 0
				switch {
				case tags.IsObject():
					n = len(tags.ObjectValue())
				case tags.IsArray():
					n = len(tags.ArrayValue())
				}
				if n > config.MaxTagsPerResource {
					t.Errorf("%s (%s) has %d tags", r.Name, r.Type, n)
				}
			}
			for _, p := range st.cfg.WorkerPools {
				var asg testkit.Resource
				ok := false
				for _, r := range st.m.ByType("aws:autoscaling/group:Group") {
					if r.Name == "compute-"+p.Name {
						asg, ok = r, true
					}
				}
				if !ok {
					t.Fatalf("no ASG for pool %s", p.Name)
				}
				want := len(st.cfg.Tags) + config.PoolASGTagCount(p)
				if got := len(asg.Inputs["tags"].ArrayValue()); got != want {
					t.Errorf("pool %s ASG has %d tags, config budgets %d", p.Name, got, want)
				}
			}
		}},
		{"cluster-tags", func(t *testing.T, st *stackView) {
			key := tagkeys.ClusterPrefix + st.cluster
			untaggable := []string{"aws:ec2/securityGroupRule:SecurityGroupRule", "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:iam/rolePolicy:RolePolicy",
				"aws:autoscaling/lifecycleHook:LifecycleHook", "aws:cloudwatch/eventTarget:EventTarget", "aws:sqs/queuePolicy:QueuePolicy",
				"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketVersioningV2:BucketVersioningV2",
				"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
				"aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2", "aws:s3/bucketPolicy:BucketPolicy",
				"aws:lambda/permission:Permission", "aws:secretsmanager/secretPolicy:SecretPolicy", "aws:lambda/invocation:Invocation",
				"aws:cloudfront/originAccessControl:OriginAccessControl", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
				"aws:s3/bucketObjectv2:BucketObjectv2", "aws:route53/record:Record"}
			for _, r := range st.m.Resources {
				if !strings.HasPrefix(r.Type, "aws:") || slices.Contains(untaggable, r.Type) {
					continue
				}
				tags := r.Inputs["tags"]
				switch {
				case tags.IsObject():
					if tags.ObjectValue()[resource.PropertyKey(key)].StringValue() != "owned" {
						t.Errorf("%s (%s) lacks %s", r.Name, r.Type, key)
					}
				case tags.IsArray(): // ASG tags
					if !slices.ContainsFunc(tags.ArrayValue(), func(v resource.PropertyValue) bool {
						return v.ObjectValue()["key"].StringValue() == key
					}) {
						t.Errorf("%s lacks %s", r.Name, key)
					}
				default:
					t.Errorf("%s (%s) has no tags", r.Name, r.Type)
				}
			}
		}},
		{"aws-name-lengths", func(t *testing.T, st *stackView) {
			// Explicit names are checked as is; auto-names add 8 characters.
			limits := map[string]int{
				"aws:lb/loadBalancer:LoadBalancer": 32, "aws:lb/targetGroup:TargetGroup": 32,
				"aws:iam/role:Role": 64, "aws:iam/instanceProfile:InstanceProfile": 128, "aws:iam/rolePolicy:RolePolicy": 128,
				"aws:ec2/launchTemplate:LaunchTemplate": 128, "aws:autoscaling/group:Group": 255, "aws:ec2/securityGroup:SecurityGroup": 255,
			}
			for _, r := range st.m.Resources {
				limit, ok := limits[r.Type]
				if !ok {
					continue
				}
				name := str(r, "name")
				if name == "" {
					name = r.Name + "-1234567"
				}
				if len(name) > limit {
					t.Errorf("%s name %q is %d characters, AWS allows %d", r.Type, name, len(name), limit)
				}
			}
		}},
		{"versions-pinned", func(t *testing.T, st *stackView) {
			semver := regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
			for _, r := range st.m.ByType("kubernetes:helm.sh/v3:Release") {
				if !semver.MatchString(str(r, "version")) {
					t.Errorf("%s: chart version %q not pinned", r.Name, str(r, "version"))
				}
			}
			if ccm, ok := st.m.ByName("addons-ccm"); ok {
				if tag := ccm.Inputs["values"].ObjectValue()["image"].ObjectValue()["tag"].StringValue(); !regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(tag) {
					t.Errorf("ccm image tag %q", tag)
				}
			}
			for _, c := range st.m.Calls {
				if c.Token == "talos:machine/getConfiguration:getConfiguration" {
					if c.Args["talosVersion"].StringValue() != st.cfg.TalosVersion || !semver.MatchString(c.Args["kubernetesVersion"].StringValue()) {
						t.Errorf("machine config versions %v %v", c.Args["talosVersion"], c.Args["kubernetesVersion"])
					}
				}
			}
			for _, lt := range st.m.ByType("aws:ec2/launchTemplate:LaunchTemplate") {
				if !strings.HasPrefix(str(lt, "imageId"), "ami-") {
					t.Errorf("%s image %q", lt.Name, str(lt, "imageId"))
				}
			}
		}},
		{"inside-stage-components", func(t *testing.T, st *stackView) {
			for _, r := range st.m.Resources {
				if (strings.HasPrefix(r.Type, "pulumi:providers:") && r.Type != "pulumi:providers:kubernetes") || r.Type == testkit.StackReference {
					continue // the checks' own registrations
				}
				if !stageComponent.MatchString(r.Parent) && !strings.HasPrefix(r.Type, "talos-aws:") {
					t.Errorf("%s (%s) outside a stage component (parent %s)", r.Name, r.Type, r.Parent)
				}
			}
		}},
		{"bootstrap-once", func(t *testing.T, st *stackView) {
			boot := st.m.ByType("talos:machine/bootstrap:Bootstrap")
			if len(boot) != 1 {
				t.Fatalf("%d bootstraps", len(boot))
			}
			if !dependsOn(boot[0], "aws:autoscaling/group:Group", "compute-cp") {
				t.Error("bootstrap does not wait for the control-plane ASG")
			}
			ic := slices.Clone(boot[0].IgnoreChanges)
			sort.Strings(ic)
			if !slices.Equal(ic, []string{"endpoint", "node"}) {
				t.Errorf("bootstrap ignoreChanges %v", ic)
			}
			if !boot[0].Protect {
				t.Error("bootstrap must be protected: a re-created bootstrap on a fresh node starts a second etcd")
			}
			if to := boot[0].Inputs["timeouts"]; !to.IsObject() || to.ObjectValue()["create"].StringValue() != "20m" {
				t.Errorf("bootstrap create timeout %v, want 20m", to)
			}
			for _, kc := range st.m.ByType("talos:cluster/kubeconfig:Kubeconfig") {
				if slices.Contains(kc.IgnoreChanges, "node") {
					t.Error("the kubeconfig must follow the current node: its certificate renews through it")
				}
			}
			if str(boot[0], "node") != "10.0.0.10" {
				t.Errorf("bootstrap node %q, want the lowest instance id", str(boot[0], "node"))
			}
		}},
	}
}

// stageComponent matches the URN of a resource inside a stage component.
var stageComponent = regexp.MustCompile(`::talos-aws:(network:Network|compute:Compute|compute:EtcdGuard|talos:Talos|addons:Addons|drain:Drain|backups:Backups|identity:Identity)[$:]`)
