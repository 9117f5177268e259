package guard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Reconciler observes, decides and acts. It holds no state of its own; run
// it with at most one instance at a time (the Lambda's reserved concurrency
// is 1), so two runs never change the membership at once.
type Reconciler struct {
	Machine MachineAPI
	ASG     ASGAPI
	Store   SuspectStore
	Metrics MetricsSink // optional
	Policy  Policy
	Now     func() time.Time
	Logf    func(format string, args ...any)
	// MaxChanges bounds the membership changes of one run (each one is
	// observed to have landed before the next is planned).
	MaxChanges int
	// CallTimeout bounds each Talos call; SettleTimeout bounds the wait for
	// a change to show in the member list.
	CallTimeout   time.Duration
	SettleTimeout time.Duration
	SettleEvery   time.Duration
	// HeartbeatEvery is how often a run extends every hook still waiting
	// while it changes the membership: a leave may take as long as the
	// Lambda's whole timeout, longer than a hook's (default 60 s).
	HeartbeatEvery time.Duration
	// Snapshot, when set (backups on), takes an etcd snapshot before a
	// change that hands a one-node control plane over (SnapshotFirst); the
	// change waits until it succeeds.
	Snapshot func(ctx context.Context) error
}

// Report is what one run did.
type Report struct {
	Changes     []Change
	Completions []Completion
	Heartbeats  int
	Waits       []Wait
	Metrics     Metrics
	// Observations counts member-list reads; a test asserts one between
	// any two changes.
	Observations int
	// Snapshots counts snapshots taken before a change; Protection lists
	// scale-in protection changes ("i-… protected=false").
	Snapshots  int
	Protection []string
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

func (r *Reconciler) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout(r.CallTimeout))
}

// Observe reads the ASG, the member list and each member's health.
func (r *Reconciler) Observe(ctx context.Context) (Observation, error) {
	obs := Observation{Now: r.now()}
	ins, err := r.ASG.Instances(ctx)
	switch {
	case errors.Is(err, ErrAddresses) && len(ins) > 0:
		// The hooks still need their heartbeats (issue 27: the run ended
		// here, and a held termination reached its default). With no
		// address no node can be asked: the run is blind, and holds.
		r.logf("list control-plane instances: %v (holding their hooks)", err)
		obs.Incomplete = fmt.Errorf("list control-plane instances: %w", err)
	case err != nil:
		return obs, fmt.Errorf("list control-plane instances: %w", err)
	}
	obs.Instances = ins
	if c, ok := r.ASG.(CapacityAPI); ok {
		if obs.Desired, obs.Refreshing, err = c.Capacity(ctx); err != nil {
			// Only the scale-in of an excess node waits on it.
			r.logf("group capacity: %v", err)
			obs.Desired = 0
		}
	}
	obs.Suspects, err = r.Store.Load(ctx)
	if err != nil {
		// Not a reason to drop the hooks: without the sightings and the
		// removal window no member is removed for a missing instance
		// (Decide), and the stored ones are not overwritten (Run).
		r.logf("load suspects: %v (audit removals wait; hooks are still handled)", err)
		obs.Suspects, obs.SuspectsUnknown = nil, true
	}

	r.observeMembers(ctx, &obs)
	r.observeComponents(ctx, &obs)
	return obs, nil
}

// observeMembers reads the member list and each member's health through
// the group's nodes, InService ones first (a launching node may not run
// etcd yet).
func (r *Reconciler) observeMembers(ctx context.Context, obs *Observation) {
	var nodes []string
	for _, pass := range []bool{true, false} {
		for _, in := range obs.Instances {
			if in.PrivateIP != "" && in.live() && (in.State == InService) == pass {
				nodes = append(nodes, in.PrivateIP)
			}
		}
	}
	members, status, known, lastErr := readMembers(ctx, r.Machine, nodes, nil, callTimeout(r.CallTimeout))
	obs.Members, obs.MembersKnown = members, known
	if !known && lastErr != nil {
		r.logf("member list: every node failed, last: %v", lastErr)
	}
	for i, m := range obs.Members {
		st, ok := status[m.IP()]
		obs.Members[i].Healthy = ok && st.healthyAs(m)
	}
}

// observeComponents is the launch gate's second half: the new node's
// Kubernetes control plane, checked only for launching healthy voters
// (the only ones it gates).
func (r *Reconciler) observeComponents(ctx context.Context, obs *Observation) {
	for _, in := range obs.Instances {
		if in.State != PendingWait || in.PrivateIP == "" {
			continue
		}
		for _, m := range obs.Members {
			if m.IP() != in.PrivateIP || m.Learner || !m.Healthy {
				continue
			}
			cctx, cancel := r.withTimeout(ctx)
			why, err := r.Machine.ControlPlaneStatus(cctx, in.PrivateIP)
			cancel()
			if err != nil {
				why = "its control-plane pods cannot be read: " + err.Error()
			}
			if obs.Components == nil {
				obs.Components = map[string]string{}
			}
			obs.Components[in.PrivateIP] = why
		}
	}
}

// Run is one reconcile: observe, decide, act, until nothing changes or
// MaxChanges is reached. Each iteration is one runOnce; a failure that
// leaves the plan's other actions meaningful (a metric, a completion, a
// heartbeat) is reported at the end, one that makes the next observation
// necessary (a change that failed) ends the run.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	s := &runState{}
	for {
		more, err := r.runOnce(ctx, s)
		if err != nil {
			s.errs = append(s.errs, err)
		}
		if !more || err != nil {
			return s.rep, errors.Join(s.errs...)
		}
	}
}

// runState is what a run's iterations share.
type runState struct {
	rep  Report
	errs []error
	// incomplete: an observation's Incomplete was reported.
	incomplete bool
	// blindAt is when this run first saw the blindness it must confirm
	// itself (Plan.Reobserve).
	blindAt time.Time
}

// runOnce observes, decides and acts once. more: a change was made, and
// the next iteration plans from a member list that shows it.
func (r *Reconciler) runOnce(ctx context.Context, s *runState) (more bool, err error) {
	obs, err := r.Observe(ctx)
	if err != nil {
		return false, err
	}
	s.rep.Observations++
	if obs.SuspectsUnknown && !s.blindAt.IsZero() {
		// This run's own first sighting stands in for the stored one.
		obs.Suspects = map[uint64]time.Time{BlindSince: obs.Now.Add(-time.Since(s.blindAt))}
	}
	plan := Decide(obs, r.Policy)
	s.rep.Metrics = plan.Metrics
	saved := r.report(ctx, obs, plan, s)
	// The window that caps removals for a missing instance (Decide) holds
	// only if the next run can read it.
	if ch := plan.Change; ch != nil && ch.Stale && !saved {
		plan.Waits = append(plan.Waits, Wait{Reason: ReasonStaleRemovalCap, Member: fmt.Sprintf("%s (%x)", ch.Member, ch.MemberID),
			Detail: "the removal window could not be saved"})
		plan.Change = nil
	}
	s.rep.Waits = plan.Waits
	if plan.Reobserve > 0 && s.blindAt.IsZero() {
		return r.reobserve(ctx, plan, s)
	}
	if plan.Change == nil || len(s.rep.Changes) >= r.maxChanges() {
		r.finish(ctx, plan, s)
		return false, nil
	}

	ch := *plan.Change
	r.logf("%s member %s (%x) via %s: %s", ch.Kind, ch.Member, ch.MemberID, ch.Node, ch.Reason)
	// Hooks keep their holds while the change runs: the leaving node's
	// own among them, which a default result would otherwise end. A
	// change that fails still extends them (the hooks stay held, and the
	// next trigger observes again: a half-done leave shows up as a member
	// to remove).
	stop := r.keepAlive(ctx, waitingAtHooks(obs.Instances, plan.Complete))
	defer func() { s.rep.Heartbeats += stop() }()
	if ch.SnapshotFirst && r.Snapshot != nil {
		if err := r.Snapshot(ctx); err != nil {
			return false, fmt.Errorf("snapshot before %s of %s, the control plane's last node but one: %w (nothing changed)", ch.Kind, ch.Member, err)
		}
		s.rep.Snapshots++
	}
	if err := r.apply(ctx, ch); err != nil {
		return false, fmt.Errorf("%s member %s (%x): %w", ch.Kind, ch.Member, ch.MemberID, err)
	}
	s.rep.Changes = append(s.rep.Changes, ch)
	if err := r.settle(ctx, ch); err != nil {
		return false, err
	}
	return true, nil
}

// reobserve holds the plan's hooks, waits plan.Reobserve and asks for
// another iteration, which confirms the blindness this one saw.
func (r *Reconciler) reobserve(ctx context.Context, plan Plan, s *runState) (bool, error) {
	s.blindAt = time.Now()
	n, herrs := r.heartbeat(ctx, plan.Heartbeat)
	s.rep.Heartbeats += n
	s.errs = append(s.errs, herrs...)
	r.logf("blind with nothing in service, and the sighting cannot be stored: observing again in %s", plan.Reobserve)
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-time.After(plan.Reobserve):
		return true, nil
	}
}

// report publishes the plan's metrics, completes its lifecycle actions
// and saves its suspects: what every iteration does, change or not.
// saved: the suspects were saved.
func (r *Reconciler) report(ctx context.Context, obs Observation, plan Plan, s *runState) (saved bool) {
	// Every observation is published, before any change: a run that
	// spends minutes on a leave still reports, and the degraded alarm
	// (missing data counts as degraded) only fires when no run reports.
	if r.Metrics != nil {
		if err := r.Metrics.Publish(ctx, plan.Metrics); err != nil {
			s.errs = append(s.errs, fmt.Errorf("publish metrics: %w", err))
		}
	}
	for _, c := range plan.Complete {
		if err := r.ASG.CompleteLifecycleAction(ctx, c.Instance, c.Result); err != nil {
			s.errs = append(s.errs, fmt.Errorf("complete %s %s: %w", c.Instance.ID, c.Result, err))
			continue
		}
		r.logf("%s: %s (%s)", c.Instance.ID, c.Result, c.Reason)
		s.rep.Completions = append(s.rep.Completions, c)
	}
	if obs.Incomplete != nil && !s.incomplete {
		s.incomplete = true
		s.errs = append(s.errs, obs.Incomplete)
	}
	if obs.SuspectsUnknown {
		s.errs = append(s.errs, errors.New("load suspects failed: the stored suspects were kept as they are"))
		return false
	}
	if err := r.Store.Save(ctx, plan.Suspects); err != nil {
		s.errs = append(s.errs, fmt.Errorf("save suspects: %w", err))
		return false
	}
	return true
}

// finish ends a run that changes nothing more: scale-in protection, one
// heartbeat for every hook the plan holds, and the waits to the log.
func (r *Reconciler) finish(ctx context.Context, plan Plan, s *runState) {
	s.errs = append(s.errs, r.capacity(ctx, plan, &s.rep)...)
	n, herrs := r.heartbeat(ctx, plan.Heartbeat)
	s.rep.Heartbeats += n
	s.errs = append(s.errs, herrs...)
	for _, w := range plan.Waits {
		r.logf("wait: %s", w)
	}
}

// maxChanges is MaxChanges, or 3 when unset.
func (r *Reconciler) maxChanges() int {
	if r.MaxChanges == 0 {
		return 3
	}
	return r.MaxChanges
}

// capacity applies the plan's scale-in protection changes.
func (r *Reconciler) capacity(ctx context.Context, plan Plan, rep *Report) []error {
	c, ok := r.ASG.(CapacityAPI)
	if !ok {
		return nil
	}
	var errs []error
	set := func(in Instance, protected bool) {
		if err := c.SetProtection(ctx, in, protected); err != nil {
			errs = append(errs, fmt.Errorf("scale-in protection of %s: %w", in.ID, err))
			return
		}
		r.logf("%s: scale-in protection %t", in.ID, protected)
		rep.Protection = append(rep.Protection, fmt.Sprintf("%s protected=%t", in.ID, protected))
	}
	if plan.Unprotect != nil {
		set(*plan.Unprotect, false)
	}
	for _, in := range plan.Protect {
		set(in, true)
	}
	return errs
}

func (r *Reconciler) heartbeat(ctx context.Context, ins []Instance) (int, []error) {
	return heartbeat(ctx, r.ASG, ins)
}

func (r *Reconciler) keepAlive(ctx context.Context, ins []Instance) (stop func() int) {
	return keepAlive(ctx, r.ASG, ins, r.HeartbeatEvery, r.logf)
}

func (r *Reconciler) apply(ctx context.Context, ch Change) error {
	switch ch.Kind {
	case Leave:
		cctx, cancel := r.withTimeout(ctx)
		leader, err := r.Machine.EtcdForfeitLeadership(cctx, ch.Node)
		cancel()
		// Best effort, as CAPI's forwardEtcdLeadership: etcd steps a
		// removed leader down by itself; forfeiting first only shortens
		// the election gap.
		if err != nil {
			r.logf("forfeit leadership on %s: %v (leaving anyway)", ch.Node, err)
		} else if leader != "" {
			r.logf("leadership moved from %s to %s", ch.Member, leader)
		}
		// Talos retries the removal of self for up to 5 minutes
		// (internal/pkg/etcd/etcd.go LeaveCluster): give it the settle
		// budget, not a single call's.
		lctx, lcancel := context.WithTimeout(ctx, r.settleTimeout())
		defer lcancel()
		return r.Machine.EtcdLeaveCluster(lctx, ch.Node)
	case Remove:
		cctx, cancel := r.withTimeout(ctx)
		defer cancel()
		err := r.Machine.EtcdRemoveMemberByID(cctx, ch.Node, ch.MemberID)
		if errors.Is(err, ErrMemberNotFound) {
			return nil
		}
		return err
	}
	return fmt.Errorf("unknown change %q", ch.Kind)
}

func (r *Reconciler) settleTimeout() time.Duration {
	if r.SettleTimeout == 0 {
		return 2 * time.Minute
	}
	return r.SettleTimeout
}

// settle waits until the member list, read through another node, no longer
// has the member: the next plan must see the change.
func (r *Reconciler) settle(ctx context.Context, ch Change) error {
	every := r.SettleEvery
	if every == 0 {
		every = time.Second
	}
	deadline := time.Now().Add(r.settleTimeout())
	for {
		ins, err := r.ASG.Instances(ctx)
		if err == nil {
			for _, in := range ins {
				if in.PrivateIP == "" || !in.live() || (ch.Kind == Leave && in.PrivateIP == ch.Node) {
					continue
				}
				cctx, cancel := r.withTimeout(ctx)
				ms, lerr := r.Machine.EtcdMemberList(cctx, in.PrivateIP)
				cancel()
				if lerr != nil {
					continue
				}
				if !hasMember(ms, ch.MemberID) {
					return nil
				}
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("member %s (%x) still listed %s after its %s", ch.Member, ch.MemberID, r.settleTimeout(), ch.Kind)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

func hasMember(ms []Member, id uint64) bool {
	for _, m := range ms {
		if m.ID == id {
			return true
		}
	}
	return false
}

// FormatSuspects renders suspects as "id@unix,..." (sorted), the stored form.
func FormatSuspects(s map[uint64]time.Time) string {
	ids := make([]uint64, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("%x@%d", id, s[id].Unix()))
	}
	return strings.Join(parts, ",")
}

// ParseSuspects reads FormatSuspects' output; entries it cannot read are
// dropped (the worst case is one more audit before a removal).
func ParseSuspects(v string) map[uint64]time.Time {
	out := map[uint64]time.Time{}
	for _, part := range strings.Split(v, ",") {
		var id uint64
		var ts int64
		if _, err := fmt.Sscanf(strings.TrimSpace(part), "%x@%d", &id, &ts); err == nil {
			out[id] = time.Unix(ts, 0)
		}
	}
	return out
}
