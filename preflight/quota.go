package preflight

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/talos-aws/talos-aws/config"
)

// Quota is one AWS service quota the stack consumes, as the Service Quotas
// API names it.
type Quota struct {
	Service string // service code: ec2, vpc, elasticloadbalancing
	Code    string
	Name    string
	Short   string // for the one-line summary
	Unit    string // "vCPUs" for instance classes, "" for counts
}

// ConsoleURL is the Service Quotas console page where the quota is raised,
// in the region it applies to.
func (q Quota) ConsoleURL(region string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/servicequotas/home/services/%s/quotas/%s", region, q.Service, q.Code)
}

func (q Quota) amount(n int) string {
	if q.Unit == "" {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%d %s", n, q.Unit)
}

// Quota codes. EC2 instance and Spot classes (vCPUs) and Elastic IPs:
// brennerm/aws-quota-checker aws_quota/check/ec2.py (commit 3f5a43d); VPCs
// and Internet gateways: its vpc.py (213648b) and
// tedilabs/terraform-aws-account modules/service-quota-requests/locals.tf,
// which also has NAT gateways per AZ and Elastic IPs; NLBs: elb.py (1391ad9). The pulumi-aws v6.83.4 getServiceQuota docs
// use L-F678F1CE ("VPCs per Region", service vpc) as their example.
var (
	OnDemandStandard = Quota{Service: "ec2", Code: "L-1216C47A", Name: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", Short: "on-demand standard vCPUs", Unit: "vCPUs"}
	OnDemandF        = Quota{Service: "ec2", Code: "L-74FC7D96", Name: "Running On-Demand F instances", Short: "on-demand F vCPUs", Unit: "vCPUs"}
	OnDemandG        = Quota{Service: "ec2", Code: "L-DB2E81BA", Name: "Running On-Demand G and VT instances", Short: "on-demand G/VT vCPUs", Unit: "vCPUs"}
	OnDemandInf      = Quota{Service: "ec2", Code: "L-1945791B", Name: "Running On-Demand Inf instances", Short: "on-demand Inf vCPUs", Unit: "vCPUs"}
	OnDemandP        = Quota{Service: "ec2", Code: "L-417A185B", Name: "Running On-Demand P instances", Short: "on-demand P vCPUs", Unit: "vCPUs"}
	OnDemandX        = Quota{Service: "ec2", Code: "L-7295265B", Name: "Running On-Demand X instances", Short: "on-demand X vCPUs", Unit: "vCPUs"}
	SpotStandard     = Quota{Service: "ec2", Code: "L-34B43A08", Name: "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", Short: "spot standard vCPUs", Unit: "vCPUs"}
	SpotF            = Quota{Service: "ec2", Code: "L-88CF9481", Name: "All F Spot Instance Requests", Short: "spot F vCPUs", Unit: "vCPUs"}
	SpotG            = Quota{Service: "ec2", Code: "L-3819A6DF", Name: "All G and VT Spot Instance Requests", Short: "spot G/VT vCPUs", Unit: "vCPUs"}
	SpotInf          = Quota{Service: "ec2", Code: "L-B5D1601B", Name: "All Inf Spot Instance Requests", Short: "spot Inf vCPUs", Unit: "vCPUs"}
	SpotP            = Quota{Service: "ec2", Code: "L-7212CCBC", Name: "All P Spot Instance Requests", Short: "spot P vCPUs", Unit: "vCPUs"}
	SpotX            = Quota{Service: "ec2", Code: "L-E3A00192", Name: "All X Spot Instance Requests", Short: "spot X vCPUs", Unit: "vCPUs"}
	ElasticIPs       = Quota{Service: "ec2", Code: "L-0263D0A3", Name: "EC2-VPC Elastic IPs", Short: "Elastic IPs", Unit: ""}
	VPCs             = Quota{Service: "vpc", Code: "L-F678F1CE", Name: "VPCs per Region", Short: "VPCs", Unit: ""}
	InternetGateways = Quota{Service: "vpc", Code: "L-A4707A72", Name: "Internet gateways per Region", Short: "Internet gateways", Unit: ""}
	NATGatewaysPerAZ = Quota{Service: "vpc", Code: "L-FE5A380F", Name: "NAT gateways per Availability Zone", Short: "NAT gateways per AZ", Unit: ""}
	NLBs             = Quota{Service: "elasticloadbalancing", Code: "L-69A177A2", Name: "Network Load Balancers per Region", Short: "NLBs", Unit: ""}
	// LambdaConcurrency is the account's Lambda concurrent executions. The
	// etcd guard reserves one, and AWS refuses a reservation that leaves
	// fewer than 100 unreserved ("You can reserve up to the Unreserved
	// account concurrency value ... minus 100", Lambda developer guide,
	// configuration-concurrency); new accounts can start at 10.
	LambdaConcurrency = Quota{Service: "lambda", Code: "L-B99A9384", Name: "Concurrent executions", Short: "Lambda concurrent executions", Unit: ""}
)

// LambdaUnreservedMinimum is the concurrency AWS keeps unreserved.
const LambdaUnreservedMinimum = 100

// quotaOrder is the order needs are reported in.
var quotaOrder = []Quota{
	OnDemandStandard, OnDemandF, OnDemandG, OnDemandInf, OnDemandP, OnDemandX,
	SpotStandard, SpotF, SpotG, SpotInf, SpotP, SpotX,
	ElasticIPs, VPCs, InternetGateways, NATGatewaysPerAZ, NLBs, LambdaConcurrency,
}

// The worker pools' instance refresh (compute.workerPool): 100% stays healthy
// and up to 200% may run, so a roll launches a whole new pool before the old
// one leaves. TestPreflightSurgeMatchesRefresh ties these to the ASGs.
const (
	WorkerRefreshMinHealthyPercentage = 100
	WorkerRefreshMaxHealthyPercentage = 200
	// ControlPlaneRollExtra is the extra control-plane node planned for during
	// a roll: a replacement joins etcd before the old member leaves.
	ControlPlaneRollExtra = 1
	// NearLimit is the share of a limit above which a need is a warning.
	NearLimit = 0.8
)

// WorkerSurge is how many extra nodes a pool of desired nodes runs while its
// instance refresh replaces it.
func WorkerSurge(desired int) int {
	return desired * (WorkerRefreshMaxHealthyPercentage - 100) / 100
}

// InstanceClass returns the on-demand and Spot vCPU quotas an instance type
// counts against, from its family's leading letters (the classes in the
// quotas' names). Families with their own or no vCPU quota this table knows
// (dl, hpc, trn, mac, u-) are not ok.
func InstanceClass(instanceType string) (onDemand, spot Quota, ok bool) {
	family, _, found := strings.Cut(instanceType, ".")
	if !found || family == "" {
		return Quota{}, Quota{}, false
	}
	for _, p := range []string{"dl", "hpc", "trn", "mac", "u-"} {
		if strings.HasPrefix(family, p) {
			return Quota{}, Quota{}, false
		}
	}
	switch {
	case strings.HasPrefix(family, "inf"):
		return OnDemandInf, SpotInf, true
	case strings.HasPrefix(family, "vt"):
		return OnDemandG, SpotG, true
	}
	switch family[0] {
	case 'a', 'c', 'd', 'h', 'i', 'm', 'r', 't', 'z':
		return OnDemandStandard, SpotStandard, true
	case 'f':
		return OnDemandF, SpotF, true
	case 'g':
		return OnDemandG, SpotG, true
	case 'p':
		return OnDemandP, SpotP, true
	case 'x':
		return OnDemandX, SpotX, true
	}
	return Quota{}, Quota{}, false
}

var nxlargeRe = regexp.MustCompile(`^([0-9]+)xlarge$`)

// VCPUs returns an instance type's vCPU count from its size, as EC2 names
// sizes: large is 2 vCPUs, xlarge 4 and Nxlarge 4N; medium is 1 except for
// the burstable t families (2), which are also 2 at nano, micro and small.
// Metal sizes and anything else are not ok.
func VCPUs(instanceType string) (int, bool) {
	family, size, found := strings.Cut(instanceType, ".")
	if !found || family == "" {
		return 0, false
	}
	burstable := family[0] == 't' && !strings.HasPrefix(family, "trn")
	switch size {
	case "nano", "micro", "small":
		if burstable {
			return 2, true
		}
		return 0, false
	case "medium":
		if burstable {
			return 2, true
		}
		return 1, true
	case "large":
		return 2, true
	case "xlarge":
		return 4, true
	}
	if m := nxlargeRe.FindStringSubmatch(size); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil && n > 0 {
			return 4 * n, true
		}
	}
	return 0, false
}

// Need is what the stack needs of one quota.
type Need struct {
	Quota Quota
	// Amount is the peak of a `pulumi up` that rolls every node group at once
	// (a Talos upgrade does): desired nodes plus each group's surge.
	Amount int
	// Ceiling is the same with every pool at maxSize (an autoscaler's reach).
	Ceiling int
	// Parts say where Amount comes from, in config terms.
	Parts []string
}

// Plan is every quota need of a shape, in a fixed order, plus what could not
// be counted.
type Plan struct {
	Needs []Need
	// Unchecked names instance types whose vCPUs or quota class is unknown.
	Unchecked []string
}

// PlanQuotas computes the quota needs of a configuration over azCount zones.
// It is pure: same config, same plan.
func PlanQuotas(cfg *config.Config, azCount int) Plan {
	needs := map[string]*Need{}
	add := func(q Quota, amount, ceiling int, part string) {
		n, ok := needs[q.Code]
		if !ok {
			n = &Need{Quota: q}
			needs[q.Code] = n
		}
		n.Amount += amount
		n.Ceiling += ceiling
		if part != "" {
			n.Parts = append(n.Parts, part)
		}
	}
	var unchecked []string
	seenUnchecked := map[string]bool{}
	// group adds a node group: each quota class its instance types fall in
	// is charged the group's nodes at that class's largest type, as the ASG
	// may launch any listed type.
	group := func(path string, types []string, spot bool, nodes, surge, ceilingNodes int, how string) {
		type classNeed struct {
			q     Quota
			vcpus int
			it    string
		}
		var classes []classNeed
		for _, it := range types {
			od, sp, ok := InstanceClass(it)
			v, vok := VCPUs(it)
			if !ok || !vok {
				if !seenUnchecked[it] {
					seenUnchecked[it] = true
					unchecked = append(unchecked, fmt.Sprintf("%s: %s", path, it))
				}
				continue
			}
			q := od
			if spot {
				q = sp
			}
			found := false
			for i := range classes {
				if classes[i].q.Code == q.Code {
					found = true
					if v > classes[i].vcpus {
						classes[i].vcpus, classes[i].it = v, it
					}
				}
			}
			if !found {
				classes = append(classes, classNeed{q, v, it})
			}
		}
		for _, c := range classes {
			add(c.q, (nodes+surge)*c.vcpus, ceilingNodes*c.vcpus,
				fmt.Sprintf("%s: (%d + %d %s) × %s %d vCPUs = %d", path, nodes, surge, how, c.it, c.vcpus, (nodes+surge)*c.vcpus))
		}
	}
	cp := cfg.ControlPlane
	group("controlPlane", []string{cp.InstanceType}, false, cp.Count, ControlPlaneRollExtra, cp.Count+ControlPlaneRollExtra, "during a roll")
	for i, p := range cfg.WorkerPools {
		group(fmt.Sprintf("workerPools[%d] (%s)", i, p.Name), p.InstanceTypes, p.Spot,
			p.DesiredCapacity, WorkerSurge(p.DesiredCapacity), p.MaxSize+WorkerSurge(p.MaxSize), "refresh surge")
	}

	// In an existing VPC (network) the stack creates no VPC, Internet
	// gateway, NAT gateway or Elastic IP.
	if !cfg.BringYourOwnVPC() {
		nats := 1
		if cfg.NATStrategy == config.NATPerAZ {
			nats = azCount
		}
		add(ElasticIPs, nats, nats, fmt.Sprintf("%d NAT gateway(s) (natStrategy %s, %d AZs)", nats, cfg.NATStrategy, azCount))
		add(NATGatewaysPerAZ, 1, 1, "at most one NAT gateway in each AZ")
		add(VPCs, 1, 1, "the cluster's VPC")
		add(InternetGateways, 1, 1, "the VPC's Internet gateway")
	}
	add(NLBs, 2, 2, "the internal and the public NLB")
	add(LambdaConcurrency, LambdaUnreservedMinimum+1, LambdaUnreservedMinimum+1,
		fmt.Sprintf("1 reserved for the etcd guard + the %d AWS keeps unreserved", LambdaUnreservedMinimum))

	var plan Plan
	for _, q := range quotaOrder {
		if n, ok := needs[q.Code]; ok {
			plan.Needs = append(plan.Needs, *n)
		}
	}
	plan.Unchecked = unchecked
	return plan
}

// Limit is a quota's value as read from the Service Quotas API, or why it
// could not be read.
type Limit struct {
	Value float64
	Err   error
}

// Result is a plan compared with the account's limits.
type Result struct {
	Errors   []string
	Warnings []string
	// Summary is one line of need/limit pairs for the log.
	Summary string
}

// UsageCaveat says, in every report, what the comparison leaves out.
const UsageCaveat = "limits are account-wide and the Service Quotas API returns the limit, not the usage: " +
	"instances, Elastic IPs, VPCs and load balancers outside this stack count against the same limits and are not subtracted"

// Evaluate compares a plan with the limits (by quota code). A need above its
// limit is an error; above NearLimit of it, or a ceiling above it, a
// warning; a limit that could not be read is a warning and is skipped.
func Evaluate(p Plan, limits map[string]Limit, region string) Result {
	var r Result
	var summary []string
	for _, n := range p.Needs {
		l, ok := limits[n.Quota.Code]
		if !ok || l.Err != nil {
			why := "not read"
			if ok {
				why = firstLine(l.Err.Error())
			}
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"quota %q (%s %s) could not be read, so it is not checked (this stack needs %s): %s. Reading quotas needs servicequotas:GetServiceQuota",
				n.Quota.Name, n.Quota.Service, n.Quota.Code, n.Quota.amount(n.Amount), why))
			summary = append(summary, fmt.Sprintf("%s %d/?", n.Quota.Short, n.Amount))
			continue
		}
		limit := int(l.Value)
		summary = append(summary, fmt.Sprintf("%s %d/%d", n.Quota.Short, n.Amount, limit))
		raise := fmt.Sprintf("raise it at %s or with `aws service-quotas request-service-quota-increase --region %s --service-code %s --quota-code %s --desired-value %d`",
			n.Quota.ConsoleURL(region), region, n.Quota.Service, n.Quota.Code, n.Ceiling)
		switch {
		case float64(n.Amount) > l.Value:
			r.Errors = append(r.Errors, fmt.Sprintf("quota %q (%s %s) in %s is %s; this stack needs %s (%s): %s",
				n.Quota.Name, n.Quota.Service, n.Quota.Code, region, n.Quota.amount(limit), n.Quota.amount(n.Amount), strings.Join(n.Parts, "; "), raise))
		case float64(n.Amount) > NearLimit*l.Value:
			r.Warnings = append(r.Warnings, fmt.Sprintf("quota %q (%s %s) in %s is %s; this stack alone needs %s, over %d%% of it (%s): %s",
				n.Quota.Name, n.Quota.Service, n.Quota.Code, region, n.Quota.amount(limit), n.Quota.amount(n.Amount), int(NearLimit*100), strings.Join(n.Parts, "; "), raise))
		case float64(n.Ceiling) > l.Value:
			r.Warnings = append(r.Warnings, fmt.Sprintf("quota %q (%s %s) in %s is %s; with every pool at maxSize and rolling, this stack would need %s: %s",
				n.Quota.Name, n.Quota.Service, n.Quota.Code, region, n.Quota.amount(limit), n.Quota.amount(n.Ceiling), raise))
		}
	}
	for _, u := range p.Unchecked {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: vCPU count or quota class unknown to the preflight; its vCPU quota is not checked", u))
	}
	r.Summary = "quotas in " + region + " (need/limit, a roll's surge included): " + strings.Join(summary, ", ") + "; " + UsageCaveat
	return r
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
