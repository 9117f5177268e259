// Package readymodel models how long a first `pulumi up` takes to reach
// Ready: the resource graph the program registers, each step weighted
// with its latency (latency.go, each with its source), scheduled with
// unbounded parallelism as the Pulumi engine runs it (`pulumi up
// --parallel` defaults to unbounded). The total is when the last step
// ends; the critical path is the chain of steps that ends there.
package readymodel

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Budget is the modelled time to Ready of a first `up` of the default
// stack that docs/performance.md quotes and TestTimeToReady holds the dev, HA and
// default stacks to: 12:54 with the stable endpoint and an issuer that no
// longer blocks the control plane (15:58 before), rounded up. Target is
// issue 29's goal of 9 minutes, which the model does not reach: after the
// bootstrap, the API server's start and the add-on chain (Cilium, the
// cloud controller manager, the node gate, the webhook, EBS CSI) take 7
// minutes of it (docs/performance.md#time-to-ready).
const (
	Budget = 14 * time.Minute
	Target = 9 * time.Minute
)

// Node is one step: a resource's create, or a wait no resource's create
// includes.
type Node struct {
	ID      string
	Label   string
	Latency Latency
	Deps    []string
}

// Step is a scheduled node.
type Step struct {
	Node
	Start, Finish time.Duration
}

// Result is a schedule: every step, the total and the critical path.
type Result struct {
	Total time.Duration
	Path  []Step
	Steps map[string]Step
}

// Schedule starts every node as soon as all its dependencies have
// finished (as many at once as are ready) and returns when each ends. A
// dependency on an unknown node, or a cycle, is an error.
func Schedule(nodes []Node) (Result, error) {
	byID := map[string]Node{}
	for _, n := range nodes {
		if _, dup := byID[n.ID]; dup {
			return Result{}, fmt.Errorf("readymodel: node %s twice", n.ID)
		}
		byID[n.ID] = n
	}
	r := Result{Steps: map[string]Step{}}
	state := map[string]int{} // 1: in progress, 2: done
	var visit func(id string, chain []string) (time.Duration, error)
	visit = func(id string, chain []string) (time.Duration, error) {
		switch state[id] {
		case 2:
			return r.Steps[id].Finish, nil
		case 1:
			return 0, fmt.Errorf("readymodel: cycle %s", strings.Join(append(chain, id), " -> "))
		}
		n, ok := byID[id]
		if !ok {
			return 0, fmt.Errorf("readymodel: %s depends on unknown %s", chain[len(chain)-1], id)
		}
		state[id] = 1
		var start time.Duration
		for _, d := range n.Deps {
			f, err := visit(d, append(chain, id))
			if err != nil {
				return 0, err
			}
			start = max(start, f)
		}
		s := Step{Node: n, Start: start, Finish: start + n.Latency.Duration()}
		r.Steps[id] = s
		state[id] = 2
		return s.Finish, nil
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	last := ""
	for _, id := range ids {
		f, err := visit(id, nil)
		if err != nil {
			return Result{}, err
		}
		if last == "" || f > r.Total {
			r.Total, last = f, id
		}
	}
	// Back from the last step, through the dependency that finished last
	// (the one it waited for).
	for id := last; id != ""; {
		s := r.Steps[id]
		r.Path = append(r.Path, s)
		next := ""
		deps := slices.Sorted(slices.Values(s.Deps))
		for _, d := range deps {
			if next == "" || r.Steps[d].Finish > r.Steps[next].Finish {
				next = d
			}
		}
		id = next
	}
	slices.Reverse(r.Path)
	return r, nil
}

// Format prints the critical path: each step's end, its own duration and
// what it is, then the total.
func (r Result) Format(title string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s to Ready (%d steps; critical path):\n", title, mmss(r.Total), len(r.Steps))
	for _, s := range r.Path {
		fmt.Fprintf(&b, "  %6s %7s  %s  [%s]\n", mmss(s.Finish), "+"+mmss(s.Latency.Duration()), s.Label, s.Latency.Kind)
	}
	return b.String()
}

func mmss(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
