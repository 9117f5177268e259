package preflight

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
)

// PriceTable is a dated set of list prices in USD for one region.
type PriceTable struct {
	Region   string
	Observed string // the date the prices were read
	Source   string
	// HoursPerMonth is how AWS's pricing pages turn hourly prices into months.
	HoursPerMonth  float64
	NATGatewayHour float64 // per NAT gateway
	NATPerGB       float64 // NAT data processing
	PublicIPv4Hour float64 // per public IPv4 address, Elastic or not
	NLBHour        float64 // per Network Load Balancer, NLCUs extra
	GP3GBMonth     float64
	// SpotShare is the assumed Spot price as a share of on-demand.
	SpotShare float64
	// OnDemand is the Linux on-demand price per hour by instance type.
	OnDemand map[string]float64
}

// Prices is the table the preview's estimate and docs/cost.md's table
// are computed from. ap-southeast-1 on-demand Linux list prices observed
// 2026-11-25 (public price mirrors and AWS bills); the NLB hourly rate is
// inferred from the region's ALB rate, which AWS prices identically elsewhere.
// t3.large is twice t3.medium, as every t3 size is priced in proportion (the
// old README's Spot figure for it, ≈ $0.051/h, matches). Only these types
// are listed: others are reported as not priced rather than guessed.
var Prices = PriceTable{
	Region:         "ap-southeast-1",
	Observed:       "2026-11-25",
	Source:         "public price mirrors and AWS bills",
	HoursPerMonth:  730,
	NATGatewayHour: 0.059,
	NATPerGB:       0.059,
	PublicIPv4Hour: 0.005,
	NLBHour:        0.0252,
	GP3GBMonth:     0.096,
	SpotShare:      0.5,
	OnDemand: map[string]float64{
		"t3.medium": 0.0528,
		"t3.large":  0.1056,
		"m7i.large": 0.126,
		"m7g.large": 0.102,
	},
}

// Assumptions the estimate makes about usage.
const (
	// NATDataGBPerMonth is what the nodes pull through NAT in a month: images,
	// Talos and Kubernetes updates, AWS API calls. Workloads add their own.
	NATDataGBPerMonth = 100
)

// Cost items, in report order.
const (
	ItemNAT          = "NAT gateways"
	ItemNATData      = "NAT data processing"
	ItemNLB          = "Network Load Balancers"
	ItemIPv4         = "public IPv4 addresses"
	ItemControlPlane = "control plane"
	ItemOnDemand     = "workers, on-demand"
	ItemSpot         = "workers, spot"
	ItemEBS          = "gp3 root volumes"
	// ItemSnapshots are the snapshots of the AMIs the stack builds for its
	// image keys (images.CostOf).
	ItemSnapshots = "AMI snapshots"
)

var itemOrder = []string{ItemNAT, ItemNATData, ItemNLB, ItemIPv4, ItemControlPlane, ItemOnDemand, ItemSpot, ItemEBS, ItemSnapshots}

// CostLine is one item of an estimate.
type CostLine struct {
	Item    string
	Detail  string // how the amount is made up
	Monthly float64
}

// Estimate is a shape's monthly cost.
type Estimate struct {
	Lines []CostLine
	Total float64
	// Unpriced lists what the table has no price for (left out of Total).
	Unpriced []string
}

// Line returns an item's line and whether the estimate has it.
func (e Estimate) Line(item string) (CostLine, bool) {
	for _, l := range e.Lines {
		if l.Item == item {
			return l, true
		}
	}
	return CostLine{}, false
}

func money(v float64) string { return fmt.Sprintf("$%.2f", v) }

// round2 rounds to cents, so totals add up to what is printed.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// EstimateCost prices a configuration over azCount zones with a price table.
// Instances are priced at their group's desired size and first instance
// type (what the launch template names; a Spot pool may land on another
// listed type). A roll's surge is transient and not priced.
func EstimateCost(cfg *config.Config, azCount int, t PriceTable) Estimate {
	var e Estimate
	lines := map[string]*CostLine{}
	add := func(item, detail string, monthly float64) {
		l, ok := lines[item]
		if !ok {
			l = &CostLine{Item: item}
			lines[item] = l
		}
		if l.Detail != "" {
			l.Detail += " + "
		}
		l.Detail += detail
		l.Monthly = round2(l.Monthly + round2(monthly))
	}
	h := t.HoursPerMonth

	// An existing VPC's NAT is its owner's, not priced here.
	nats := 0
	if !cfg.BringYourOwnVPC() {
		nats = 1
		if cfg.NATStrategy == config.NATPerAZ {
			nats = azCount
		}
		add(ItemNAT, fmt.Sprintf("%d × %s", nats, money(t.NATGatewayHour*h)), float64(nats)*round2(t.NATGatewayHour*h))
		add(ItemNATData, fmt.Sprintf("%d GB assumed × $%.3f/GB", NATDataGBPerMonth, t.NATPerGB), NATDataGBPerMonth*t.NATPerGB)
	}
	// The internal NLB, and the public one unless nothing is public.
	nlbs, publicNLBIPs := 1, 0
	if cfg.NeedsPublicLB() {
		nlbs, publicNLBIPs = 2, azCount
	}
	add(ItemNLB, fmt.Sprintf("%d × %s", nlbs, money(t.NLBHour*h)), float64(nlbs)*round2(t.NLBHour*h))
	// Each NAT gateway's Elastic IP, and the public NLB's address in each AZ.
	if ips := nats + publicNLBIPs; ips > 0 {
		add(ItemIPv4, fmt.Sprintf("%d × %s (%d NAT, %d public NLB)", ips, money(t.PublicIPv4Hour*h), nats, publicNLBIPs), float64(ips)*round2(t.PublicIPv4Hour*h))
	}
	if cfg.HasJumpHost() {
		e.Unpriced = append(e.Unpriced, "the jump host (1 × t4g.nano and its root volume)")
	}

	instances := func(item, it string, n int, spot bool) {
		if n == 0 {
			return
		}
		p, ok := t.OnDemand[it]
		if !ok {
			e.Unpriced = append(e.Unpriced, fmt.Sprintf("%d × %s", n, it))
			return
		}
		unit := round2(p * h)
		detail := fmt.Sprintf("%d × %s %s", n, it, money(unit))
		if spot {
			unit = round2(p * t.SpotShare * h)
			detail = fmt.Sprintf("%d × %s ≈ %s", n, it, money(unit))
		}
		add(item, detail, float64(n)*unit)
	}
	cp := cfg.ControlPlane
	instances(ItemControlPlane, cp.InstanceType, cp.Count, false)
	gib := cp.Count * cp.RootVolume.SizeGiB
	volumes := []config.RootVolume{cp.RootVolume}
	for _, p := range cfg.WorkerPools {
		item := ItemOnDemand
		if p.Spot {
			item = ItemSpot
		}
		instances(item, p.InstanceTypes[0], p.DesiredCapacity, p.Spot)
		gib += p.DesiredCapacity * p.RootVolume.SizeGiB
		volumes = append(volumes, p.RootVolume)
	}
	for _, v := range volumes {
		switch {
		case v.Type != "gp3":
			e.Unpriced = append(e.Unpriced, v.Type+" volumes (priced as gp3)")
		case v.IOPS > 3000 || v.Throughput > 125:
			e.Unpriced = append(e.Unpriced, "gp3 IOPS above 3000 or throughput above 125 MB/s")
		}
	}
	add(ItemEBS, fmt.Sprintf("%d GiB × $%.3f", gib, t.GP3GBMonth), float64(gib)*t.GP3GBMonth)
	if n := ImageAMIs(cfg); n > 0 {
		// Before a build, each snapshot at the assumed upper bound.
		c := images.CostOf(n, images.AssumedStoredBytes, images.Prices)
		add(ItemSnapshots, fmt.Sprintf("%s, at most; %s once for their builds", c.Detail, money(c.OneOff)), c.Monthly)
	}

	for _, item := range itemOrder {
		if l, ok := lines[item]; ok {
			e.Lines = append(e.Lines, *l)
			e.Total = round2(e.Total + l.Monthly)
		}
	}
	sort.Strings(e.Unpriced)
	e.Unpriced = compact(e.Unpriced)
	return e
}

// ImageAMIs is how many AMIs the image keys make the stack use: one per
// (schematic, architecture) among the roles that run an image.
func ImageAMIs(cfg *config.Config) int {
	seen := map[string]bool{}
	add := func(s images.Spec, arch config.Arch) {
		if !s.IsZero() {
			seen[s.Schematic().ID()+"/"+string(arch)] = true
		}
	}
	add(cfg.Image, cfg.ControlPlane.Arch)
	for _, p := range cfg.WorkerPools {
		add(cfg.ImageOf(p), p.Arch)
	}
	return len(seen)
}

func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// NotIncluded is what no estimate contains.
const NotIncluded = "NLB capacity units (NLCU), data transfer out, EBS snapshots other than the AMIs', CloudWatch and taxes"

// LogLine is the estimate as the one line the preview prints.
func (e Estimate) LogLine(region string, t PriceTable) string {
	var parts []string
	for _, l := range e.Lines {
		parts = append(parts, fmt.Sprintf("%s %s = %s", l.Item, l.Detail, money(l.Monthly)))
	}
	s := fmt.Sprintf("estimated cost ≈ %s/month at %s list prices observed %s, %0.f h/month: %s; not included: %s",
		money(e.Total), t.Region, t.Observed, t.HoursPerMonth, strings.Join(parts, ", "), NotIncluded)
	if len(e.Unpriced) > 0 {
		s += "; not priced (no price in the table): " + strings.Join(e.Unpriced, ", ")
	}
	if region != t.Region {
		s += fmt.Sprintf("; the stack is in %s but the table holds %s prices only, so this is %s's cost, not %s's: check the AWS pricing pages for %s", region, t.Region, t.Region, region, region)
	}
	return s
}
