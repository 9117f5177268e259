package drain

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/config/configtest"
	"github.com/talos-aws/talos-aws/talos"
)

func TestLifecycleRuleMatchesOnlyWorkerGroups(t *testing.T) {
	rules := Rules([]string{"w-b", "w-a"})
	byKey := map[string]Rule{}
	for _, r := range rules {
		byKey[r.Key] = r
	}
	for _, k := range []string{"asg-terminate", "spot-interruption", "rebalance", "state-change"} {
		if _, ok := byKey[k]; !ok {
			t.Errorf("no %s rule", k)
		}
	}
	var p struct {
		Source     []string `json:"source"`
		DetailType []string `json:"detail-type"`
		Detail     struct {
			AutoScalingGroupName []string `json:"AutoScalingGroupName"`
			State                []string `json:"state"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(byKey["asg-terminate"].PatternJSON()), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Detail.AutoScalingGroupName, []string{"w-a", "w-b"}) || !slices.Equal(p.DetailType, []string{"EC2 Instance-terminate Lifecycle Action"}) {
		t.Errorf("lifecycle rule %s: must match exactly the worker groups' terminate actions", byKey["asg-terminate"].PatternJSON())
	}
	// No launch actions: the control plane's launch hook is the guard's,
	// and workers have none.
	for _, r := range rules {
		if strings.Contains(r.PatternJSON(), "Instance-launch") {
			t.Errorf("%s matches launch actions", r.Key)
		}
	}
	p.Detail.State = nil
	if err := json.Unmarshal([]byte(byKey["state-change"].PatternJSON()), &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Detail.State, []string{"stopping", "stopped", "shutting-down", "terminated"}) {
		t.Errorf("state-change rule states %v", p.Detail.State)
	}
}

func TestQueuePolicyOnlyTheRulesOverTLS(t *testing.T) {
	q := "arn:aws:sqs:ap-southeast-1:123456789012:c-nth"
	rules := []string{"arn:aws:events:ap-southeast-1:123456789012:rule/c-nth-b", "arn:aws:events:ap-southeast-1:123456789012:rule/c-nth-a"}
	var doc struct {
		Statement []struct {
			Effect    string
			Principal any
			Action    string
			Resource  string
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(QueuePolicy(q, rules)), &doc); err != nil {
		t.Fatal(err)
	}
	allow, deny := doc.Statement[0], doc.Statement[1]
	if allow.Effect != "Allow" || allow.Action != "sqs:SendMessage" || allow.Resource != q ||
		allow.Principal.(map[string]any)["Service"] != "events.amazonaws.com" {
		t.Errorf("allow statement %+v", allow)
	}
	got := allow.Condition["ArnEquals"]["aws:SourceArn"].([]any)
	if len(got) != 2 || got[0] != rules[1] || got[1] != rules[0] {
		t.Errorf("senders %v, want exactly this stack's rules", got)
	}
	if deny.Effect != "Deny" || deny.Principal != "*" || deny.Condition["Bool"]["aws:SecureTransport"] != "false" {
		t.Errorf("no TLS-only deny: %+v", deny)
	}
}

func TestHandlerPolicyLeastPrivilege(t *testing.T) {
	q := "arn:aws:sqs:ap-southeast-1:123456789012:c-nth"
	asgs := []string{"arn:aws:autoscaling:ap-southeast-1:123456789012:autoScalingGroup:x:autoScalingGroupName/w"}
	d := HandlerPolicy(q, asgs)
	want := []string{"autoscaling:CompleteLifecycleAction", "ec2:DescribeInstances", "sqs:DeleteMessage", "sqs:ReceiveMessage"}
	if got := d.Actions(); !slices.Equal(got, want) {
		t.Errorf("actions %v, want exactly %v (what NTH calls at %s)", got, want, NTHTag)
	}
	for _, s := range d.Statement {
		for _, a := range s.Actions() {
			switch {
			case strings.HasPrefix(a, "sqs:") && s.Resource != q:
				t.Errorf("%s on %v, want only the queue", a, s.Resource)
			case a == "autoscaling:CompleteLifecycleAction" && !slices.Equal(s.Resource.([]string), asgs):
				t.Errorf("%s on %v, want only the worker groups", a, s.Resource)
			case strings.Contains(a, "*"):
				t.Errorf("wildcard action %s", a)
			}
		}
	}
}

// chartKeys are the values aws-node-termination-handler 0.27.6 reads
// (config/helm/aws-node-termination-handler/values.yaml at v1.25.6,
// 77ca841d): nodeSelector 49, affinity 51, tolerations 53, taintNode 87,
// nodeTerminationGracePeriod 106, emitKubernetesEvents 109,
// enableSqsTerminationDraining 141, replicas 148, podDisruptionBudget 155
// (templates/pdb.yaml: only with replicas > 1), awsRegion 176, queueURL
// 179, checkTagBeforeDraining 188, managedTag 194,
// deleteSqsMsgIfNodeNotFound 289. Helm silently drops any other key.
var chartKeys = []string{"nodeSelector", "affinity", "tolerations", "taintNode", "nodeTerminationGracePeriod", "emitKubernetesEvents",
	"enableSqsTerminationDraining", "replicas", "podDisruptionBudget", "awsRegion", "queueURL", "checkTagBeforeDraining", "managedTag",
	"deleteSqsMsgIfNodeNotFound"}

func TestEveryValueKeyIsOneTheChartReads(t *testing.T) {
	v := NTHValues(configtest.Parse(t, nil))
	v["queueURL"] = "set by the component"
	for k := range v {
		if !slices.Contains(chartKeys, k) {
			t.Errorf("%q is not a key aws-node-termination-handler 0.27.6 reads", k)
		}
	}
	if config.NTHChartVersion != "0.27.6" {
		t.Errorf("chart %s: re-check chartKeys against its values.yaml", config.NTHChartVersion)
	}
}

func TestNTHValuesQueueModeOnControlPlane(t *testing.T) {
	v := NTHValues(configtest.Parse(t, nil))
	for k, want := range map[string]any{
		"enableSqsTerminationDraining": true, "checkTagBeforeDraining": true, "managedTag": "talos-aws/pool",
		"deleteSqsMsgIfNodeNotFound": true, "nodeTerminationGracePeriod": DrainTimeoutSeconds, "replicas": 2, "awsRegion": "ap-southeast-1",
	} {
		if v[k] != want {
			t.Errorf("%s = %v, want %v", k, v[k], want)
		}
	}
	if _, ok := v["nodeSelector"].(Values)["node-role.kubernetes.io/control-plane"]; !ok {
		t.Error("NTH must run on control-plane nodes: only their role holds its permissions and only their hop limit reaches IMDS from a pod")
	}
	if DrainTimeoutSeconds >= HookHeartbeatSeconds {
		t.Errorf("drain timeout %d s must end before the hook's %d s", DrainTimeoutSeconds, HookHeartbeatSeconds)
	}
	single := NTHValues(configtest.Parse(t, map[string]string{"controlPlane": `{"count":1}`}))
	if single["replicas"] != 1 || single["podDisruptionBudget"] != nil {
		t.Errorf("one control-plane node: replicas %v, PDB %v", single["replicas"], single["podDisruptionBudget"])
	}
}

// NTH finds the node of an instance by its PrivateDnsName
// (sqs-monitor.go getNodeInfo). The worker machine configuration this
// stack renders, loaded by Talos itself, must make Talos register exactly
// that name.
func TestWorkerNodeNameIsThePrivateDNSName(t *testing.T) {
	cfg := configtest.Parse(t, nil)
	secrets, err := talos.NewSecretsBundle(cfg.TalosVersion)
	if err != nil {
		t.Fatal(err)
	}
	in := talos.PatchInputFor(cfg, []string{"int.elb.amazonaws.com", "pub.elb.amazonaws.com"})
	patches, err := talos.WorkerPatches(in, cfg.WorkerPools[0], talos.Image{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := talos.Render(talos.RenderInput{ClusterName: cfg.ClusterName, Endpoint: talos.ClusterEndpoint("int.elb.amazonaws.com"),
		KubernetesVersion: cfg.KubernetesVersion, TalosVersion: cfg.TalosVersion, Type: machine.TypeWorker, Patches: patches, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := configloader.NewFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	fqdn := provider.Machine().Kubelet().RegisterWithFQDN()
	for _, privateDNS := range []string{"ip-10-0-1-5.ap-southeast-1.compute.internal", "ip-10-0-130-17.ec2.internal"} {
		got, err := TalosNodeName(privateDNS, fqdn)
		if err != nil {
			t.Fatal(err)
		}
		if got != privateDNS {
			t.Errorf("Talos registers %q for an instance whose PrivateDnsName is %q: NTH would never find the node", got, privateDNS)
		}
	}
	// Without the FQDN setting the name would be the short host: the check
	// above can fail.
	if short, _ := TalosNodeName("ip-10-0-1-5.ap-southeast-1.compute.internal", false); short != "ip-10-0-1-5" {
		t.Errorf("short name %q", short)
	}
}
