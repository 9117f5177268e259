package etcdguard

import (
	"context"
	"fmt"
	"time"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard/contract"
)

// Refresh is one instance refresh of the control-plane ASG
// (DescribeInstanceRefreshes).
type Refresh struct {
	ID           string
	Status       string
	StatusReason string
	Start, End   time.Time
}

// Sample is the guard's latest published membership metrics.
type Sample struct {
	Time                            time.Time
	Voting, Healthy, Stale          int
	HasVoting, HasHealthy, HasStale bool
}

// RolloutResult is RolloutState's verdict.
type RolloutResult struct {
	Done bool
	// Wait says what is still awaited when not Done.
	Wait string
}

var failedRefresh = map[string]bool{
	"Failed": true, "Cancelled": true, "RollbackSuccessful": true, "RollbackFailed": true,
}

// RunnerClockSkew is how far the runner's clock may be ahead of AWS's.
const RunnerClockSkew = 2 * time.Minute

// RolloutState decides whether the control plane has finished rolling, so
// that worker pools may roll after it (a kubelet must never be newer than
// the API server). It reads only what AWS reports: the refreshes started
// since `since` (this `pulumi up`) and the guard's metrics. No refresh
// started and none running: done at once (nothing rolled). A refresh that
// failed, was cancelled or rolled back is an error: the workers must not
// roll onto a control plane that did not.
//
// scales says whether the guard brings the group to desired (false while
// it is paused: nothing would, and waiting could only time out).
func RolloutState(refreshes []Refresh, since time.Time, desired int, s Sample, scales bool) (RolloutResult, error) {
	// since is the runner's clock, Start is AWS's: allow for a runner whose
	// clock runs ahead, or a refresh this run started would be skipped and
	// the workers would roll without the etcd check.
	since = since.Add(-RunnerClockSkew)
	var latest *Refresh
	for i := range refreshes {
		r := &refreshes[i]
		if contract.RefreshActive(r.Status) {
			return RolloutResult{Wait: fmt.Sprintf("control-plane instance refresh %s is %s", r.ID, r.Status)}, nil
		}
		if r.Start.Before(since) {
			continue
		}
		if latest == nil || r.Start.After(latest.Start) {
			latest = r
		}
	}
	if latest == nil {
		// No refresh, but the count may have changed: the guard scales the
		// control plane to it one node at a time (a scale-in through its
		// leave path, launches through its gate), so the workers wait for
		// etcd to have the desired voters. Only the count: a degraded
		// member is the degraded alarm's, not a reason to block an `up`
		// that changes workers. No metrics at all (a new stack, before
		// the guard's first audit): nothing to wait for.
		if scales && s.HasVoting && s.Voting != desired {
			return RolloutResult{Wait: fmt.Sprintf("etcd has %d voting members; want %d (the etcd guard scales the control plane one node at a time)",
				s.Voting, desired)}, nil
		}
		return RolloutResult{Done: true}, nil
	}
	if failedRefresh[latest.Status] {
		return RolloutResult{}, fmt.Errorf("control-plane instance refresh %s ended %s (%s); worker pools were not rolled: check the etcd guard's log and alarm, fix, and run `pulumi up` again",
			latest.ID, latest.Status, latest.StatusReason)
	}
	if !s.HasVoting || !s.HasHealthy || !s.HasStale || s.Time.Before(latest.End) {
		return RolloutResult{Wait: fmt.Sprintf("waiting for the etcd guard's first audit after refresh %s ended", latest.ID)}, nil
	}
	if s.Voting != desired || s.Healthy != desired || s.Stale != 0 {
		return RolloutResult{Wait: fmt.Sprintf("etcd has %d voting, %d healthy, %d stale members; want %d, %d, 0", s.Voting, s.Healthy, s.Stale, desired, desired)}, nil
	}
	return RolloutResult{Done: true}, nil
}

// AWSControlPlaneWaiter polls DescribeInstanceRefreshes and the guard's
// metrics (RolloutState) from the runner, as the identity and in the
// region the stack's AWS provider uses (cfg.AWS, ProviderConfig); its
// errors say which. Refreshes started before `since` (the program's
// start) are ignored.
func AWSControlPlaneWaiter(cfg *config.Config, since time.Time, logf func(string, ...any)) func(context.Context, string) error {
	return func(ctx context.Context, asgName string) error {
		r, err := NewRollout(ctx, cfg.Region, cfg.AWS, asgName, cfg.ClusterName)
		if err != nil {
			return err
		}
		// One node takes a few minutes to boot, join and be promoted; allow
		// 20 minutes per node.
		timeout := time.Duration(cfg.ControlPlane.Count)*20*time.Minute + 10*time.Minute
		if cfg.EtcdGuardPaused && logf != nil {
			logf("the etcd guard is paused: the control plane is not scaled to controlPlane.count until it is resumed")
		}
		return r.WaitControlPlane(ctx, since, cfg.ControlPlane.Count, !cfg.EtcdGuardPaused, 30*time.Second, timeout, logf)
	}
}
