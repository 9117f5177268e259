package preflight

import (
	"fmt"
	"sort"
	"strings"

	"github.com/talos-aws/talos-aws/config"
)

// Shape is a named configuration priced in docs/cost.md.
type Shape struct {
	Title  string // column header, e.g. "dev (`Pulumi.dev.yaml`)"
	Config *config.Config
	// AZCount is the zones the shape uses (azCount, or availabilityZones).
	AZCount int
}

// ShapeAZs is how many zones a configuration uses when the region has
// enough of them.
func ShapeAZs(cfg *config.Config) int {
	if len(cfg.AvailabilityZones) > 0 {
		return len(cfg.AvailabilityZones)
	}
	return cfg.AZCount
}

// CostMarkdown renders the docs/cost.md's generated section for some shapes from
// the price table: the same EstimateCost the preview prints.
func CostMarkdown(shapes []Shape, t PriceTable) string {
	var b strings.Builder
	h := t.HoursPerMonth
	fmt.Fprintf(&b, "List prices in %s observed %s (%s; on-demand Linux, %.0f h a month). ", t.Region, t.Observed, t.Source, h)
	fmt.Fprintf(&b, "Spot is assumed at %.0f%% of on-demand, NAT data processing at %d GB a month. ", t.SpotShare*100, NATDataGBPerMonth)
	fmt.Fprintf(&b, "Not included: %s. `pulumi preview` prints the same estimate for the configured shape.\n\n", NotIncluded)

	unit := map[string]string{
		ItemNAT:          fmt.Sprintf("$%.3f/h", t.NATGatewayHour),
		ItemNATData:      fmt.Sprintf("$%.3f/GB", t.NATPerGB),
		ItemNLB:          fmt.Sprintf("$%.4f/h", t.NLBHour),
		ItemIPv4:         fmt.Sprintf("$%.3f/h", t.PublicIPv4Hour),
		ItemControlPlane: "per type, below",
		ItemOnDemand:     "per type, below",
		ItemSpot:         fmt.Sprintf("%.0f%% of on-demand", t.SpotShare*100),
		ItemEBS:          fmt.Sprintf("$%.3f/GB-month", t.GP3GBMonth),
	}
	estimates := make([]Estimate, len(shapes))
	b.WriteString("| item | unit price |")
	sep := "|---|---|"
	for i, s := range shapes {
		estimates[i] = EstimateCost(s.Config, s.AZCount, t)
		fmt.Fprintf(&b, " %s |", s.Title)
		sep += "---|"
	}
	b.WriteString("\n" + sep + "\n")
	for _, item := range itemOrder {
		row := fmt.Sprintf("| %s | %s |", item, unit[item])
		present := false
		for _, e := range estimates {
			if l, ok := e.Line(item); ok {
				present = true
				row += fmt.Sprintf(" %s = %s |", l.Detail, money(l.Monthly))
			} else {
				row += " – |"
			}
		}
		if present {
			b.WriteString(row + "\n")
		}
	}
	b.WriteString("| **total** | |")
	for _, e := range estimates {
		fmt.Fprintf(&b, " **%s** |", money(e.Total))
	}
	b.WriteString("\n\n")

	types := make([]string, 0, len(t.OnDemand))
	for it := range t.OnDemand {
		types = append(types, it)
	}
	sort.Strings(types)
	var prices []string
	for _, it := range types {
		prices = append(prices, fmt.Sprintf("`%s` $%.4g/h (%s a month)", it, t.OnDemand[it], money(t.OnDemand[it]*h)))
	}
	fmt.Fprintf(&b, "Instance prices in the table: %s. Other types are reported as not priced.\n", strings.Join(prices, ", "))
	for _, e := range estimates {
		if len(e.Unpriced) > 0 {
			fmt.Fprintf(&b, "Left out above: %s.\n", strings.Join(e.Unpriced, ", "))
		}
	}
	natSaving := 2 * (round2(t.NATGatewayHour*h) + round2(t.PublicIPv4Hour*h))
	fmt.Fprintf(&b, "\nKnobs: `natStrategy: single` saves %s a month on three AZs (one AZ's outage then cuts the others' egress); "+
		"Spot pools cost about %.0f%% less", money(natSaving), (1-t.SpotShare)*100)
	if x86, ok := t.OnDemand["m7i.large"]; ok {
		if arm, ok := t.OnDemand["m7g.large"]; ok {
			fmt.Fprintf(&b, "; arm64 (`m7g.large` %s vs `m7i.large` %s a month) about %.0f%% less for the same size",
				money(arm*h), money(x86*h), (1-arm/x86)*100)
		}
	}
	b.WriteString(".\n")
	return b.String()
}
