package readymodel

import (
	"strings"
	"testing"
	"time"
)

func sec(s float64) Latency { return Latency{Seconds: s, Kind: Estimate} }

// Parallel branches overlap; the total is the longest chain, and the path
// follows the dependency each step waited for.
func TestScheduleLongestChain(t *testing.T) {
	r, err := Schedule([]Node{
		{ID: "vpc", Label: "vpc", Latency: sec(10)},
		{ID: "nlb", Label: "nlb", Latency: sec(180), Deps: []string{"vpc"}},
		{ID: "cdn", Label: "cdn", Latency: sec(300)},
		{ID: "lt", Label: "lt", Latency: sec(3), Deps: []string{"nlb", "cdn"}},
		{ID: "asg", Label: "asg", Latency: sec(90), Deps: []string{"lt"}},
		{ID: "side", Label: "side", Latency: sec(100), Deps: []string{"vpc"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != 393*time.Second {
		t.Errorf("total %s, want 6:33", r.Total)
	}
	var path []string
	for _, s := range r.Path {
		path = append(path, s.ID)
	}
	if strings.Join(path, " ") != "cdn lt asg" {
		t.Errorf("path %v", path)
	}
	if s := r.Steps["lt"]; s.Start != 300*time.Second || s.Finish != 303*time.Second {
		t.Errorf("lt scheduled %s-%s", s.Start, s.Finish)
	}
	if out := r.Format("x"); !strings.Contains(out, "x: 6:33 to Ready (6 steps") || !strings.Contains(out, "6:33   +1:30  asg") {
		t.Errorf("format:\n%s", out)
	}
}

func TestScheduleRejectsCyclesAndUnknowns(t *testing.T) {
	if _, err := Schedule([]Node{{ID: "a", Deps: []string{"b"}}, {ID: "b", Deps: []string{"a"}}}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	if _, err := Schedule([]Node{{ID: "a", Deps: []string{"nope"}}}); err == nil || !strings.Contains(err.Error(), "unknown nope") {
		t.Errorf("unknown: %v", err)
	}
}

// Every latency says where its figure comes from.
func TestEveryLatencyHasABasis(t *testing.T) {
	all := []Latency{Default, APIReady, NodeBoot, NodeJoin, NodesReady, GuardCodeWarm, GuardCodeCold, ProgramCold, Checks}
	for _, r := range Table {
		all = append(all, r.Latency)
	}
	for _, l := range all {
		if l.Basis == "" || l.Source == "" || l.Kind == "" || l.Seconds < 0 {
			t.Errorf("latency without basis: %+v", l)
		}
	}
	if got := For("kubernetes:helm.sh/v3:Release", "addons-argocd-apps"); got.Seconds != 10 {
		t.Errorf("argocd-apps %v", got)
	}
	if got := For("pulumi:providers:kubernetes", "addons-k8s"); got.Seconds != 0 {
		t.Errorf("provider %v", got)
	}
	if got := For("aws:ec2/subnet:Subnet", "x"); got != Default {
		t.Errorf("subnet %v", got)
	}
}
