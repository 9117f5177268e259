package config

import (
	"fmt"
	"strings"
)

// Bounds of readinessTimeoutMinutes.
const (
	minReadinessTimeout = 5
	maxReadinessTimeout = 120
)

// ExpectedNodes is how many nodes `up` waits to see registered and Ready:
// every control-plane node plus each pool's size. An autoscaled pool counts
// at its minimum, the size an autoscaler can never take it below, so a
// re-run after a scale-down does not wait for nodes that will not come.
func ExpectedNodes(c *Config) int {
	n := c.ControlPlane.Count
	for _, p := range c.WorkerPools {
		n += poolSize(p)
	}
	return n
}

// poolSize is the node count a pool is sure to have: desiredCapacity, or for
// an autoscaled pool its minimum.
func poolSize(p WorkerPool) int {
	if p.Autoscaled {
		return p.MinSize
	}
	return p.DesiredCapacity
}

// Schedulable reports whether a pool's nodes accept ordinary pods: it has
// nodes (see ExpectedNodes) and no taint that repels pods without a
// matching toleration (PreferNoSchedule only discourages).
func Schedulable(p WorkerPool) bool {
	if poolSize(p) < 1 {
		return false
	}
	for _, t := range p.Taints {
		if t.Effect == "NoSchedule" || t.Effect == "NoExecute" {
			return false
		}
	}
	return true
}

// validateConvergence checks what `up` needs to reach a Ready cluster with
// every add-on running: a sane wait bound, and somewhere for the add-ons
// that run on workers (Metrics Server, Argo CD) to schedule. Control-plane
// nodes carry the control-plane NoSchedule taint, and these charts do not
// tolerate it, so without an untainted pool their pods stay Pending and
// Helm waits until its timeout.
func validateConvergence(c *Config, errs *ErrorList, w *Warnings) {
	if c.ReadinessTimeoutMinutes < minReadinessTimeout || c.ReadinessTimeoutMinutes > maxReadinessTimeout {
		errs.Invalid("readinessTimeoutMinutes", c.ReadinessTimeoutMinutes,
			fmt.Sprintf("must be between %d and %d minutes", minReadinessTimeout, maxReadinessTimeout))
	}
	var needs []string
	if c.Addons.MetricsServer.Enabled {
		needs = append(needs, "addons.metricsServer.enabled")
	}
	if c.Addons.ArgoCD.Enabled {
		needs = append(needs, "addons.argocd.enabled")
	}
	if len(needs) == 0 || len(c.WorkerPools) == 0 {
		return
	}
	schedulable := 0
	for _, p := range c.WorkerPools {
		if Schedulable(p) {
			schedulable++
		}
	}
	if schedulable == 0 {
		errs.Forbidden("workerPools", fmt.Sprintf(
			"no pool can run ordinary pods (every pool has a NoSchedule/NoExecute taint or no nodes), so %s would stay Pending: "+
				"add a pool without such taints and with desiredCapacity (minSize if autoscaled) of at least 1, or switch those add-ons off",
			strings.Join(needs, " and ")))
		return
	}
	if schedulable == 1 && c.Addons.ArgoCD.Enabled {
		for i, p := range c.WorkerPools {
			if Schedulable(p) && p.Spot && !p.Autoscaled && p.DesiredCapacity == 1 {
				w.Add(fmt.Sprintf("workerPools[%d]", i), "the only pool that can run Argo CD and Metrics Server is one spot node (%s): an interruption leaves them Pending until it is replaced", p.Name)
			}
		}
	}
}
