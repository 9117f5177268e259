package preflight_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/cmd/gen/docgen"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/preflight"
)

func stack(t *testing.T, file string) *config.Config {
	t.Helper()
	cfg, err := docgen.LoadStack("../" + file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// twentyPools is the invariants' "large" shape: five control-plane nodes
// and twenty on-demand pools of two (at most four) m7i/m6i.large nodes.
func twentyPools(t *testing.T) *config.Config {
	t.Helper()
	var pools []string
	for i := range 20 {
		pools = append(pools, fmt.Sprintf(`{"name":"pool-%02d","instanceTypes":["m7i.large","m6i.large"],"minSize":1,"maxSize":4,"desiredCapacity":2}`, i))
	}
	cfg, _, err := config.Parse(config.MapSource(map[string]string{
		"adminCidrs": `["203.0.113.10/32"]`, "clusterName": "big", "controlPlane": `{"count":5}`,
		"workerPools": "[" + strings.Join(pools, ",") + "]",
	}))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type want struct {
	code            string
	amount, ceiling int
}

func checkPlan(t *testing.T, p preflight.Plan, wants []want) {
	t.Helper()
	var got []want
	for _, n := range p.Needs {
		got = append(got, want{n.Quota.Code, n.Amount, n.Ceiling})
	}
	if !slices.Equal(got, wants) {
		t.Errorf("needs\n got %v\nwant %v", got, wants)
	}
	if len(p.Unchecked) != 0 {
		t.Errorf("unchecked %v", p.Unchecked)
	}
}

// The arithmetic, exact: (count + 1) control-plane nodes, each pool's
// desired nodes twice over (a refresh at 200% max healthy), times vCPUs.
func TestPlanDev(t *testing.T) {
	cfg := stack(t, "Pulumi.dev.yaml")
	p := preflight.PlanQuotas(cfg, 1)
	checkPlan(t, p, []want{
		{"L-1216C47A", 4, 4},     // t3.medium 2 vCPUs × (1 + 1)
		{"L-34B43A08", 4, 12},    // t3.large 2 vCPUs × (1 + 1); at maxSize 3: × (3 + 3)
		{"L-0263D0A3", 1, 1},     // one NAT gateway
		{"L-F678F1CE", 1, 1},     // the VPC
		{"L-A4707A72", 1, 1},     // its Internet gateway
		{"L-FE5A380F", 1, 1},     // one NAT gateway per AZ at most
		{"L-69A177A2", 2, 2},     // internal and public NLB
		{"L-B99A9384", 101, 101}, // the guard's 1 reserved + 100 AWS keeps unreserved
	})
	if got := p.Needs[0].Parts; !slices.Equal(got, []string{"controlPlane: (1 + 1 during a roll) × t3.medium 2 vCPUs = 4"}) {
		t.Errorf("control-plane parts %q", got)
	}
	if got := p.Needs[1].Parts; !slices.Equal(got, []string{"workerPools[0] (general): (1 + 1 refresh surge) × t3.large 2 vCPUs = 4"}) {
		t.Errorf("spot parts %q", got)
	}
}

func TestPlanHA(t *testing.T) {
	p := preflight.PlanQuotas(stack(t, "Pulumi.ha.yaml"), 3)
	checkPlan(t, p, []want{
		{"L-1216C47A", 20, 44}, // m7i.large 2 × (3 + 1) = 8, general 2 × (3 + 3) = 12; at maxSize 9: 8 + 2 × 18
		{"L-34B43A08", 8, 40},  // m7g.large 2 × (2 + 2); at maxSize 10: 2 × 20
		{"L-0263D0A3", 3, 3},   // a NAT gateway per AZ
		{"L-F678F1CE", 1, 1},
		{"L-A4707A72", 1, 1},
		{"L-FE5A380F", 1, 1},
		{"L-69A177A2", 2, 2},
		{"L-B99A9384", 101, 101},
	})
}

func TestPlanTwentyPools(t *testing.T) {
	p := preflight.PlanQuotas(twentyPools(t), 3)
	checkPlan(t, p, []want{
		{"L-1216C47A", 172, 332}, // 2 × (5 + 1) + 20 × 2 × (2 + 2); at maxSize 4: 12 + 20 × 2 × 8
		{"L-0263D0A3", 3, 3},
		{"L-F678F1CE", 1, 1},
		{"L-A4707A72", 1, 1},
		{"L-FE5A380F", 1, 1},
		{"L-69A177A2", 2, 2},
		{"L-B99A9384", 101, 101},
	})
	if n := len(p.Needs[0].Parts); n != 21 {
		t.Errorf("%d parts, want the control plane and 20 pools", n)
	}
}

// A pool mixing classes charges each class; unknown types are reported.
func TestPlanMixedClasses(t *testing.T) {
	cfg := stack(t, "Pulumi.dev.yaml")
	cfg.WorkerPools[0].Spot = false
	cfg.WorkerPools[0].InstanceTypes = []string{"g5.xlarge", "m7i.2xlarge", "trn1.2xlarge", "m7i.metal-24xl"}
	p := preflight.PlanQuotas(cfg, 1)
	got := map[string]int{}
	for _, n := range p.Needs {
		got[n.Quota.Code] = n.Amount
	}
	if got["L-1216C47A"] != 4+2*8 || got["L-DB2E81BA"] != 2*4 {
		t.Errorf("standard %d (want 20), G %d (want 8)", got["L-1216C47A"], got["L-DB2E81BA"])
	}
	if !slices.Equal(p.Unchecked, []string{"workerPools[0] (general): trn1.2xlarge", "workerPools[0] (general): m7i.metal-24xl"}) {
		t.Errorf("unchecked %v", p.Unchecked)
	}
}

func TestVCPUsAndClass(t *testing.T) {
	for it, v := range map[string]int{
		"t3.medium": 2, "t3.nano": 2, "t4g.small": 2, "t3.large": 2, "t3.2xlarge": 8, "m7g.medium": 1,
		"m7i.large": 2, "c7i.xlarge": 4, "r7i.48xlarge": 192, "g5.12xlarge": 48, "inf2.xlarge": 4,
	} {
		if got, ok := preflight.VCPUs(it); !ok || got != v {
			t.Errorf("VCPUs(%s) = %d %v, want %d", it, got, ok, v)
		}
	}
	for _, it := range []string{"m7i.metal-48xl", "c7g.metal", "m7i", "m5.small"} {
		if _, ok := preflight.VCPUs(it); ok {
			t.Errorf("VCPUs(%s) should be unknown", it)
		}
	}
	for it, code := range map[string]string{
		"m7i.large": "L-1216C47A", "t3.medium": "L-1216C47A", "c7g.large": "L-1216C47A", "r7i.large": "L-1216C47A",
		"i4i.large": "L-1216C47A", "d3.xlarge": "L-1216C47A", "z1d.large": "L-1216C47A", "a1.large": "L-1216C47A",
		"g5.xlarge": "L-DB2E81BA", "vt1.3xlarge": "L-DB2E81BA", "p4d.24xlarge": "L-417A185B", "x2idn.16xlarge": "L-7295265B",
		"f1.2xlarge": "L-74FC7D96", "inf2.xlarge": "L-1945791B",
	} {
		od, _, ok := preflight.InstanceClass(it)
		if !ok || od.Code != code {
			t.Errorf("InstanceClass(%s) = %s %v, want %s", it, od.Code, ok, code)
		}
	}
	if _, sp, _ := preflight.InstanceClass("m7g.large"); sp.Code != "L-34B43A08" {
		t.Errorf("spot class of m7g.large: %s", sp.Code)
	}
	for _, it := range []string{"trn1.2xlarge", "hpc7g.16xlarge", "dl1.24xlarge", "mac2.metal", "u-6tb1.56xlarge"} {
		if _, _, ok := preflight.InstanceClass(it); ok {
			t.Errorf("%s has no quota class in the table", it)
		}
	}
}

func limits(over map[string]float64) map[string]preflight.Limit {
	l := map[string]preflight.Limit{}
	for _, q := range []string{"L-1216C47A", "L-34B43A08"} {
		l[q] = preflight.Limit{Value: 1152}
	}
	for _, q := range []string{"L-0263D0A3", "L-F678F1CE", "L-A4707A72", "L-FE5A380F"} {
		l[q] = preflight.Limit{Value: 5}
	}
	l["L-69A177A2"] = preflight.Limit{Value: 50}
	l["L-B99A9384"] = preflight.Limit{Value: 1000}
	for k, v := range over {
		l[k] = preflight.Limit{Value: v}
	}
	return l
}

func TestEvaluate(t *testing.T) {
	plan := preflight.PlanQuotas(stack(t, "Pulumi.ha.yaml"), 3)

	r := preflight.Evaluate(plan, limits(nil), "ap-southeast-1")
	if len(r.Errors) != 0 || len(r.Warnings) != 0 {
		t.Errorf("roomy limits: errors %v warnings %v", r.Errors, r.Warnings)
	}
	if !strings.Contains(r.Summary, "on-demand standard vCPUs 20/1152") || !strings.Contains(r.Summary, "Elastic IPs 3/5") ||
		!strings.Contains(r.Summary, "not subtracted") {
		t.Errorf("summary %q", r.Summary)
	}

	// Shortfalls: each an error with the quota, need, limit and link.
	r = preflight.Evaluate(plan, limits(map[string]float64{"L-1216C47A": 16, "L-0263D0A3": 2}), "ap-southeast-1")
	if len(r.Errors) != 2 {
		t.Fatalf("errors %v", r.Errors)
	}
	for _, s := range []string{
		`"Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" (ec2 L-1216C47A) in ap-southeast-1 is 16 vCPUs; this stack needs 20 vCPUs`,
		"controlPlane: (3 + 1 during a roll) × m7i.large 2 vCPUs = 8",
		"workerPools[0] (general): (3 + 3 refresh surge) × m7i.large 2 vCPUs = 12",
		"https://ap-southeast-1.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-1216C47A",
		"--quota-code L-1216C47A --desired-value 44",
	} {
		if !strings.Contains(r.Errors[0], s) {
			t.Errorf("on-demand error lacks %q:\n%s", s, r.Errors[0])
		}
	}
	if !strings.Contains(r.Errors[1], `"EC2-VPC Elastic IPs" (ec2 L-0263D0A3) in ap-southeast-1 is 2; this stack needs 3`) {
		t.Errorf("EIP error %s", r.Errors[1])
	}

	// A new account's Lambda concurrency (10): the guard's reservation
	// would be refused halfway through the first `up`.
	r = preflight.Evaluate(plan, limits(map[string]float64{"L-B99A9384": 10}), "ap-southeast-1")
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], `"Concurrent executions" (lambda L-B99A9384) in ap-southeast-1 is 10; this stack needs 101`) {
		t.Errorf("lambda concurrency: errors %v", r.Errors)
	}

	// Near the limit (over 80%) and over it at maxSize: warnings only.
	r = preflight.Evaluate(plan, limits(map[string]float64{"L-1216C47A": 24, "L-34B43A08": 32}), "ap-southeast-1")
	if len(r.Errors) != 0 || len(r.Warnings) != 2 ||
		!strings.Contains(r.Warnings[0], "is 24 vCPUs; this stack alone needs 20 vCPUs, over 80% of it") ||
		!strings.Contains(r.Warnings[1], "is 32 vCPUs; with every pool at maxSize and rolling, this stack would need 40 vCPUs") {
		t.Errorf("errors %v\nwarnings %v", r.Errors, r.Warnings)
	}

	// Unreadable quotas: a warning each, never an error.
	denied := map[string]preflight.Limit{}
	for _, n := range plan.Needs {
		denied[n.Quota.Code] = preflight.Limit{Err: errors.New("AccessDeniedException: not authorized to perform servicequotas:GetServiceQuota\nrequest id 1")}
	}
	r = preflight.Evaluate(plan, denied, "ap-southeast-1")
	if len(r.Errors) != 0 || len(r.Warnings) != len(plan.Needs) ||
		!strings.Contains(r.Warnings[0], "could not be read, so it is not checked (this stack needs 20 vCPUs): AccessDeniedException: not authorized to perform servicequotas:GetServiceQuota. Reading") {
		t.Errorf("errors %v\nwarnings %v", r.Errors, r.Warnings)
	}
}

func TestEstimateDev(t *testing.T) {
	e := preflight.EstimateCost(stack(t, "Pulumi.dev.yaml"), 1, preflight.Prices)
	got := map[string]float64{}
	for _, l := range e.Lines {
		got[l.Item] = l.Monthly
	}
	want := map[string]float64{
		preflight.ItemNAT: 43.07, preflight.ItemNATData: 5.90, preflight.ItemNLB: 36.80, preflight.ItemIPv4: 7.30,
		preflight.ItemControlPlane: 38.54, preflight.ItemSpot: 38.54, preflight.ItemEBS: 6.72,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || e.Total != 176.87 || len(e.Unpriced) != 0 {
		t.Errorf("dev estimate %v total %.2f unpriced %v", got, e.Total, e.Unpriced)
	}
}

func TestEstimateHA(t *testing.T) {
	e := preflight.EstimateCost(stack(t, "Pulumi.ha.yaml"), 3, preflight.Prices)
	if e.Total != 882.55 || len(e.Unpriced) != 0 {
		t.Errorf("HA total %.2f unpriced %v", e.Total, e.Unpriced)
	}
	if l, _ := e.Line(preflight.ItemIPv4); l.Monthly != 21.90 || l.Detail != "6 × $3.65 (3 NAT, 3 public NLB)" {
		t.Errorf("IPv4 %+v", l)
	}
	if l, _ := e.Line(preflight.ItemSpot); l.Monthly != 74.46 {
		t.Errorf("spot %+v", l)
	}
}

// With both APIs and ingress private there is no public load balancer:
// one NLB and no public address of its; the jump host is listed as not
// priced, never guessed.
func TestEstimatePrivate(t *testing.T) {
	cfg := stack(t, "Pulumi.ha.yaml")
	cfg.APIAccess, cfg.IngressAccess, cfg.JumpHost = config.AccessPrivate, config.AccessPrivate, true
	e := preflight.EstimateCost(cfg, 3, preflight.Prices)
	if l, _ := e.Line(preflight.ItemNLB); l.Monthly != 18.40 || l.Detail != "1 × $18.40" {
		t.Errorf("NLB %+v", l)
	}
	if l, _ := e.Line(preflight.ItemIPv4); l.Monthly != 10.95 || l.Detail != "3 × $3.65 (3 NAT, 0 public NLB)" {
		t.Errorf("IPv4 %+v", l)
	}
	if e.Total != 882.55-18.40-10.95 || !slices.Equal(e.Unpriced, []string{"the jump host (1 × t4g.nano and its root volume)"}) {
		t.Errorf("private total %.2f unpriced %v", e.Total, e.Unpriced)
	}
	cfg.IngressAccess = config.AccessPublic
	if l, _ := preflight.EstimateCost(cfg, 3, preflight.Prices).Line(preflight.ItemNLB); l.Monthly != 36.80 {
		t.Errorf("public ingress: NLB %+v, want both load balancers", l)
	}
}

// An image key adds its AMIs' snapshots: one per schematic and
// architecture in use, each at the assumed 1 GiB upper bound, with the
// one-off charge of its build; no image, no line.
func TestEstimateAMISnapshots(t *testing.T) {
	if _, ok := preflight.EstimateCost(stack(t, "Pulumi.ha.yaml"), 3, preflight.Prices).Line(preflight.ItemSnapshots); ok {
		t.Error("a snapshot line without an image")
	}
	cfg := stack(t, "Pulumi.ha.yaml")
	cfg.Image = images.Spec{Extensions: []string{"siderolabs/iscsi-tools"}}
	// general (amd64) and the control plane share one AMI; arm-spot runs
	// the same schematic on arm64: a second one.
	if n := preflight.ImageAMIs(cfg); n != 2 {
		t.Fatalf("%d AMIs, want 2", n)
	}
	base := preflight.EstimateCost(stack(t, "Pulumi.ha.yaml"), 3, preflight.Prices)
	e := preflight.EstimateCost(cfg, 3, preflight.Prices)
	l, ok := e.Line(preflight.ItemSnapshots)
	if !ok || l.Monthly != 0.10 || !strings.Contains(l.Detail, "2 × 1.00 GB × $0.050/GB-month") || !strings.Contains(l.Detail, "$0.02 once for their builds") {
		t.Errorf("snapshot line %+v", l)
	}
	if e.Total != base.Total+0.10 {
		t.Errorf("total %.2f, want %.2f", e.Total, base.Total+0.10)
	}
	if line := e.LogLine("ap-southeast-1", preflight.Prices); !strings.Contains(line, "AMI snapshots 2 × 1.00 GB") {
		t.Errorf("the preview's line lacks the snapshots: %s", line)
	}
}

func TestEstimateUnpricedAndRegion(t *testing.T) {
	cfg := stack(t, "Pulumi.dev.yaml")
	cfg.WorkerPools[0].InstanceTypes = []string{"c7i.4xlarge"}
	cfg.WorkerPools[0].RootVolume.Type = "io2"
	e := preflight.EstimateCost(cfg, 1, preflight.Prices)
	if !slices.Equal(e.Unpriced, []string{"1 × c7i.4xlarge", "io2 volumes (priced as gp3)"}) {
		t.Errorf("unpriced %v", e.Unpriced)
	}
	line := e.LogLine("eu-west-1", preflight.Prices)
	for _, s := range []string{"estimated cost ≈ $", "ap-southeast-1 list prices observed 2026-11-25", "not priced (no price in the table): 1 × c7i.4xlarge",
		"the stack is in eu-west-1 but the table holds ap-southeast-1 prices only"} {
		if !strings.Contains(line, s) {
			t.Errorf("log line lacks %q: %s", s, line)
		}
	}
	if strings.Contains(line, "\n") {
		t.Error("the estimate is one log line")
	}
}

// docs/cost.md's generated section is CostMarkdown of the two example stacks.
func TestCostPageTable(t *testing.T) {
	shapes, err := docgen.CostShapes("..")
	if err != nil {
		t.Fatal(err)
	}
	table := preflight.CostMarkdown(shapes, preflight.Prices)
	page, err := os.ReadFile("../docs/cost.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "<!-- BEGIN GENERATED cost -->\n"+table+"<!-- END GENERATED cost -->") {
		t.Error("docs/cost.md's cost section is stale: go run ./cmd/gen")
	}
	for _, s := range []string{"| **total** | | **$176.87** | **$882.55** |", "| NAT gateways | $0.059/h | 1 × $43.07 = $43.07 | 3 × $43.07 = $129.21 |"} {
		if !strings.Contains(table, s) {
			t.Errorf("cost table lacks %q:\n%s", s, table)
		}
	}
}

func TestAdminCIDRWarning(t *testing.T) {
	addr := netip.MustParseAddr("198.51.100.7")
	if w := preflight.AdminCIDRWarning([]string{"198.51.100.0/24"}, addr); w != "" {
		t.Errorf("contained, yet: %s", w)
	}
	w := preflight.AdminCIDRWarning([]string{"203.0.113.10/32"}, addr)
	for _, s := range []string{"198.51.100.7", "will time out", "pulumi config set --path 'adminCidrs[1]' 198.51.100.7/32"} {
		if !strings.Contains(w, s) {
			t.Errorf("warning lacks %q: %s", s, w)
		}
	}
}
