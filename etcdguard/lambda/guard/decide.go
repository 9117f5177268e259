package guard

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Decide computes what one run does. It is pure: the same observation gives
// the same plan.
//
// Rules (Cluster API KubeadmControlPlane's targetEtcdClusterHealthy,
// reconcileEtcdMembers and preflight checks, the Talos control-plane
// provider's gracefulEtcdLeave and auditEtcd, Omni's two-audit rule):
//   - a member is stale when no live ASG instance has its peer address;
//   - a stale member is removed at once when a launch waits (it blocks the
//     join: etcd 3.6 adds a learner only when every voting member is
//     connected, etcd v3.6.7 server/etcdserver/server.go mayAddMember),
//     otherwise after two runs at least MinSuspectAge apart; at most one
//     such removal per StaleRemovalEvery, and none while a live
//     instance's address or the stored suspects are unknown;
//   - a terminating instance's member leaves (forfeit leadership, then
//     EtcdLeaveCluster on the node) or, when its node is unhealthy, is
//     removed by ID through a healthy peer; then the termination continues;
//   - removals go learners first, then dead voters, then healthy ones;
//   - a voting member is removed only when the remaining voting members
//     still have a healthy quorum, and never when it is the last one (held
//     whatever its health: it answered); a healthy voter never while a
//     learner is being promoted or a launching node is not yet a healthy
//     voter;
//   - at most one membership change per plan (oneChangeAtATime);
//   - a launch continues only when its member is a healthy voter, every
//     voting member is healthy, no member is stale or a learner, and the
//     node's API server, controller manager and scheduler are ready;
//   - a node that has joined etcd, or may have (blind, address unknown),
//     is never let go by a hook: it is held until its member is removed
//     (the hooks' default results are CONTINUE, so a guard that is down
//     lets nodes in, never kills one);
//   - with more nodes in service than desired, one node at a time loses
//     its scale-in protection, so a scale-in takes it through the hook.
//
// The global checks come first (view.preflight); then each step decides
// one kind of thing, in this order, because each later step reads the
// plan the earlier ones made; a paused guard's plan is cut down last.
func Decide(obs Observation, pol Policy) Plan {
	v := newView(obs, pol)
	p := &Plan{Suspects: map[uint64]time.Time{}, Preflight: v.preflight()}
	if p.Preflight.Blind {
		decideBlind(p, v)
	} else {
		p.Metrics = v.metrics()
		removals := decideSuspects(p, v)
		removals = append(removals, decideHooks(p, v)...)
		decideChange(p, v, removals)
		decideLaunches(p, v)
		decideCapacity(p, v)
	}
	if pol.Paused {
		pause(p, v)
	}
	rememberStaleRemoval(p, v)
	sort.SliceStable(p.Complete, func(i, j int) bool { return p.Complete[i].Instance.ID < p.Complete[j].Instance.ID })
	sort.SliceStable(p.Heartbeat, func(i, j int) bool { return p.Heartbeat[i].ID < p.Heartbeat[j].ID })
	return *p
}

// preflight makes the global checks once.
func (v *view) preflight() Preflight {
	pf := Preflight{Blind: !v.obs.MembersKnown, LaunchWaiting: v.launchWaiting(), LearnerPromoting: v.learners > 0, ReplacementJoining: len(v.joining()) > 0}
	if pf.Blind {
		pf.Lost = !v.inCluster() && v.blindConfirmed()
		return pf
	}
	pf.EtcdNotSettled = !v.settled()
	pf.AddressUnknown = len(v.unaddressed) > 0
	pf.StaleRemovalCapped = v.obs.SuspectsUnknown || v.staleWindowOpen()
	return pf
}

// Keys of the suspects map that are not members: BlindSince is when the
// guard went blind (etcd member IDs are never 0); StaleRemovedAt when it
// last removed a member for a missing instance (member IDs are the first
// 8 bytes of a SHA-1, etcd server/etcdserver/api/membership/member.go: all
// ones is as likely as any 64-bit collision).
const (
	BlindSince     uint64 = 0
	StaleRemovedAt uint64 = ^uint64(0)
)

// staleWindowOpen reports whether a removal for a missing instance is less
// than StaleRemovalEvery old.
func (v *view) staleWindowOpen() bool {
	at, ok := v.obs.Suspects[StaleRemovedAt]
	return ok && v.obs.Now.Sub(at) < v.pol.StaleRemovalEvery
}

// blindSince is when the guard went blind: the stored sighting, or now.
func (v *view) blindSince() (time.Time, bool) {
	since, seen := v.obs.Suspects[BlindSince]
	if !seen {
		return v.obs.Now, false
	}
	return since, true
}

// blindConfirmed: a previous run was blind too, at least MinSuspectAge ago.
func (v *view) blindConfirmed() bool {
	since, seen := v.blindSince()
	return seen && v.obs.Now.Sub(since) >= v.pol.MinSuspectAge
}

// removal is a member that should go: one with no instance (stale), one
// whose instance is terminating, or one whose launch the group marked
// unhealthy after it joined. in is the instance whose hook waits on it
// (none for a stale member).
type removal struct {
	m    Member
	in   Instance
	kind removalKind
}

type removalKind int

const (
	staleMember removalKind = iota
	terminatingMember
	failedLaunchMember
)

// decideSuspects remembers the stale members (the suspects) and returns
// those that may go now: at once when a launch waits on them, else on a
// second sighting at least MinSuspectAge after the first.
func decideSuspects(p *Plan, v *view) []removal {
	var due []removal
	for _, m := range v.stale {
		first, seen := v.obs.Suspects[m.ID]
		if !seen {
			first = v.obs.Now
		}
		p.Suspects[m.ID] = first
		if p.Preflight.LaunchWaiting || (seen && v.obs.Now.Sub(first) >= v.pol.MinSuspectAge) {
			due = append(due, removal{m: m, kind: staleMember})
			continue
		}
		p.Waits = append(p.Waits, Wait{Reason: ReasonStaleSuspect, Member: memberName(m), Detail: "no instance has its address: removed on a later audit"})
	}
	return due
}

// pause turns the plan into what a paused guard does: nothing but hold
// every termination the plan would not let go as memberless, the one it
// would change included (without the guard's leave, the hook's default
// would take a voter with it). Launches keep no hold: their default,
// CONTINUE, lets them in, as without a guard.
func pause(p *Plan, v *view) {
	goes := map[string]bool{}
	for _, c := range p.Complete {
		goes[c.Instance.ID] = c.Result == Continue && c.Instance.State == TerminatingWait
	}
	var held []Instance
	for _, in := range v.in(TerminatingWait) {
		if !goes[in.ID] {
			held = append(held, in)
		}
	}
	detail := fmt.Sprintf("GUARD_PAUSED: nothing changed or completed; %d terminations held", len(held))
	if p.Change != nil {
		detail += fmt.Sprintf("; the plan was: %s %s", p.Change.Kind, p.Change.Member)
	}
	p.Waits = append([]Wait{{Reason: ReasonPaused, Detail: detail}}, p.Waits...)
	p.Change, p.Complete, p.Unprotect, p.Protect, p.Reobserve = nil, nil, nil, nil, 0
	p.Heartbeat, p.Metrics.HeldTerminations = held, len(held)
}

// rememberStaleRemoval keeps the window of removals for a missing
// instance: it starts now with such a removal, and is carried while it
// runs.
func rememberStaleRemoval(p *Plan, v *view) {
	switch {
	case p.Change != nil && p.Change.Stale:
		p.Suspects[StaleRemovedAt] = v.obs.Now
	case v.staleWindowOpen():
		p.Suspects[StaleRemovedAt] = v.obs.Suspects[StaleRemovedAt]
	}
}

// decideHooks settles the hooks of instances that hold no member (a
// termination goes on, a launch the group marked unhealthy is abandoned)
// and returns the members of the others, which must go first. An
// instance whose address is unknown may hold any member: its hook is held
// unless every member is at another instance's address (issue 27: it was
// completed as "not a member").
func decideHooks(p *Plan, v *view) []removal {
	var out []removal
	for _, in := range v.in(TerminatingWait) {
		m, ok := v.memberOf(in)
		switch {
		case ok:
			out = append(out, removal{m: m, in: in, kind: terminatingMember})
		case in.PrivateIP == "" && !v.holdsNoMember():
			p.Heartbeat = append(p.Heartbeat, in)
			p.Metrics.HeldTerminations++
			p.Waits = append(p.Waits, Wait{Reason: ReasonAddressUnknown, Instance: in.ID, Detail: "its member, if any, is unknown"})
		default:
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Continue, Reason: "not an etcd member"})
		}
	}
	for _, in := range v.in(PendingWait) {
		if in.Healthy {
			continue
		}
		m, ok := v.memberOf(in)
		if !ok && in.PrivateIP == "" && !v.holdsNoMember() {
			p.Heartbeat = append(p.Heartbeat, in)
			p.Waits = append(p.Waits, Wait{Reason: ReasonAddressUnknown, Instance: in.ID, Detail: "it may have joined etcd"})
			continue
		}
		if !ok {
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Abandon, Reason: "the ASG marked it unhealthy and it never joined etcd"})
			continue
		}
		// Joined, then failed: its member goes first (a peer removes it),
		// then the launch is abandoned on a later run; it is held till then.
		p.Heartbeat = append(p.Heartbeat, in)
		out = append(out, removal{m: m, in: in, kind: failedLaunchMember})
	}
	return out
}

// decideChange is where the one membership change of a plan is chosen:
// the first removal that may go now, in order: learners, then dead
// voters, then healthy voters, whatever brought each there (issue 27: a
// healthy voter's leave went before a dead member of a failed launch);
// within a rank, stale members, then terminations, then failed launches.
// Every other one waits with its reason, and its hook is held.
func decideChange(p *Plan, v *view, rs []removal) {
	sort.SliceStable(rs, func(i, j int) bool {
		if ri, rj := rank(rs[i].m), rank(rs[j].m); ri != rj {
			return ri < rj
		}
		return rs[i].kind < rs[j].kind
	})
	for _, r := range rs {
		w := oneChangeAtATime(p)
		if w == nil {
			w = v.refusal(p.Preflight, r)
		}
		if w == nil {
			p.Change = v.change(r)
			continue
		}
		w.Instance, w.Member = r.in.ID, memberName(r.m)
		p.Waits = append(p.Waits, *w)
		hold(p, r, w.Reason)
	}
}

// refusal is why r's member may not go now, or nil.
func (v *view) refusal(pf Preflight, r removal) *Wait {
	m := r.m
	// A voter that answers as healthy at an address no instance of the
	// group has ever shown is a wrong address (or a partial instance
	// list), not a dead node: never removed for it (the Talos
	// control-plane provider's auditEtcd refuses on such an
	// inconsistency). It stays stale, so the degraded alarm fires.
	if r.kind == staleMember && v.obs.SuspectsUnknown {
		return &Wait{Reason: ReasonSuspectsUnknown, Member: memberName(m), Detail: "the suspects and the removal window cannot be read"}
	}
	if r.kind == staleMember && pf.StaleRemovalCapped {
		at := v.obs.Suspects[StaleRemovedAt]
		return &Wait{Reason: ReasonStaleRemovalCap, Member: memberName(m),
			Detail: fmt.Sprintf("a member without an instance was removed at %s: one such removal per %s", at.UTC().Format(time.RFC3339), v.pol.StaleRemovalEvery)}
	}
	if r.kind == staleMember && pf.AddressUnknown {
		return &Wait{Reason: ReasonAddressUnknown, Member: memberName(m), Detail: "it may be at " + strings.Join(ids(v.unaddressed), ", ") + ", whose address is unknown"}
	}
	if r.kind == staleMember && m.Healthy && !m.Learner && !v.seen[m.IP()] {
		return &Wait{Reason: ReasonStaleAnswersHealthy, Member: memberName(m), Detail: "it answers as healthy, but no instance has its address"}
	}
	if w := v.mayRemove(m); w != nil {
		return w
	}
	if v.leaves(r) {
		// A healthy voter's leave spends fault tolerance: none while a
		// replacement is still joining (a join that etcd refuses while a
		// voter is down, and a second leave right after the first, would
		// otherwise take three nodes down to one voter).
		if pf.ReplacementJoining {
			return &Wait{Reason: ReasonReplacementJoining, Member: memberName(m), Detail: "launching " + strings.Join(ids(v.joining()), ", ") + " not yet a healthy voter"}
		}
		// Its API server goes with it: another voter's node must serve
		// one (in service, or launching with its control plane ready), or
		// a one-node handover would leave no API server at all.
		if !v.anotherServes(m) {
			return &Wait{Reason: ReasonNoServingControlPlane, Member: memberName(m), Detail: "no other voter's node serves a ready control plane yet"}
		}
		return nil
	}
	if v.healthyPeer(m.ID) == "" {
		return &Wait{Reason: ReasonNoHealthyPeer, Member: memberName(m), Detail: "no healthy voter to remove it through"}
	}
	return nil
}

// leaves reports whether r's member leaves by itself (a healthy voter at a
// terminating instance) rather than being removed through a peer.
func (v *view) leaves(r removal) bool {
	return r.kind == terminatingMember && r.m.Healthy && !r.m.Learner
}

// change is r's membership change.
func (v *view) change(r removal) *Change {
	m := r.m
	ch := &Change{Kind: Remove, MemberID: m.ID, Member: m.Name, Node: v.healthyPeer(m.ID)}
	switch {
	case v.leaves(r):
		ch.Kind, ch.Node, ch.Reason = Leave, r.in.PrivateIP, "instance "+r.in.ID+" is terminating"
		ch.SnapshotFirst = v.voting <= 2
	case r.kind == terminatingMember:
		ch.Reason = "instance " + r.in.ID + " is terminating and its member cannot leave by itself"
	case r.kind == failedLaunchMember:
		ch.Reason = "launching instance " + r.in.ID + " joined etcd, then the ASG marked it unhealthy"
	default:
		ch.Reason, ch.Stale = "no instance has its address", true
	}
	return ch
}

func ids(ins []Instance) []string {
	out := make([]string, 0, len(ins))
	for _, in := range ins {
		out = append(out, in.ID)
	}
	return out
}

// hold keeps the hook of a removal that waits. A termination whose member
// may not go at all yet (quorum, last voter, a promotion, no serving
// control plane) is counted as held: its hook runs out after a day, so
// someone must be paged. A last voter is held whatever its health: the
// member list answered, and with one voter only that voter can have
// answered it (Talos reads it with WithRequireLeader), so it is alive
// and holds the only copy; "unhealthy" there is an etcd alarm in its
// status (NOSPACE, CORRUPT) or a slow answer. Its replacement joins it,
// then it leaves.
func hold(p *Plan, r removal, why WaitReason) {
	if r.kind != terminatingMember {
		return // no hook, or one held already (decideHooks)
	}
	switch why {
	case ReasonOneChangeAtATime, ReasonNoHealthyPeer:
		p.Heartbeat = append(p.Heartbeat, r.in)
	default:
		p.Heartbeat = append(p.Heartbeat, r.in)
		p.Metrics.HeldTerminations++
	}
}

// oneChangeAtATime is the rule that a plan makes at most one membership
// change, and that nothing else that changes or relies on the membership
// (another removal, a launch going in service, a scale-in) goes while one
// is planned: the next observation decides those. nil: none is planned.
func oneChangeAtATime(p *Plan) *Wait {
	if p.Change == nil {
		return nil
	}
	return &Wait{Reason: ReasonOneChangeAtATime, Detail: fmt.Sprintf("%s of %s goes first", p.Change.Kind, p.Change.Member)}
}

// membershipGate is why a launch may not go in service, or a node may not
// be scaled in, now: a change is planned, or etcd is not settled. nil:
// neither.
func membershipGate(p *Plan, v *view) *Wait {
	if w := oneChangeAtATime(p); w != nil {
		return w
	}
	if p.Preflight.EtcdNotSettled {
		return &Wait{Reason: ReasonEtcdNotSettled, Detail: v.settledDetail()}
	}
	return nil
}

// decideLaunches opens the launch gate for healthy launching nodes whose
// member is a healthy voter in a settled etcd, with a ready control plane.
func decideLaunches(p *Plan, v *view) {
	for _, in := range v.in(PendingWait) {
		if !in.Healthy {
			continue // decideHooks
		}
		w := v.launchRefusal(p, in)
		if w == nil {
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Continue, Reason: "healthy voting member, control plane ready"})
			continue
		}
		w.Instance = in.ID
		p.Waits = append(p.Waits, *w)
		p.Heartbeat = append(p.Heartbeat, in)
	}
}

// launchRefusal is why the launch of in may not go in service, or nil.
func (v *view) launchRefusal(p *Plan, in Instance) *Wait {
	m, ok := v.memberOf(in)
	switch {
	case !ok:
		return &Wait{Reason: ReasonNotJoined}
	case m.Learner:
		return &Wait{Reason: ReasonLearnerNotPromoted, Member: memberName(m)}
	case !m.Healthy:
		return &Wait{Reason: ReasonVoterNotHealthy, Member: memberName(m)}
	}
	if w := membershipGate(p, v); w != nil {
		w.Member = memberName(m)
		return w
	}
	why, checked := v.obs.Components[in.PrivateIP]
	switch {
	case !checked:
		return &Wait{Reason: ReasonControlPlaneNotChecked, Member: memberName(m)}
	case why != "":
		return &Wait{Reason: ReasonControlPlaneNotReady, Member: memberName(m), Detail: why}
	}
	return nil
}

// decideBlind holds what a guard that cannot read the member list must not
// let go, and lets in what a lost control plane needs. Talos joins a new
// node to etcd by itself, so a held launch may already be a voter: holding
// it keeps it alive (a default result would not end it either: CONTINUE).
// Every termination is held, whatever the node's state and health: a
// scheduled retirement marks a live node unhealthy and moves it to
// Terminating:Wait, so neither says whether it still runs the only etcd
// (issue 27: the last node of a one-node control plane, or the last
// survivor of a lost quorum, was let go once no node was in service).
// When the control plane is lost (Preflight.Lost: no node in service or
// standby, and none answers on two runs), launches are completed so the
// load balancers register them and the operator can reach them to
// restore; the held terminations keep their volumes meanwhile, and go
// once the guard sees a member list without them.
func decideBlind(p *Plan, v *view) {
	for k, t := range v.obs.Suspects {
		p.Suspects[k] = t
	}
	// When the blindness began, kept under the sentinel BlindSince; a run
	// that sees drops it.
	p.Suspects[BlindSince], _ = v.blindSince()
	p.Waits = append(p.Waits, Wait{Reason: ReasonBlind, Detail: "no control-plane node answered EtcdMemberList"})
	lost := p.Preflight.Lost
	for _, in := range v.instances {
		switch {
		case in.State == PendingWait && !in.Healthy && lost:
			// Nothing to keep, and a healthy replacement is what a restore needs.
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Abandon, Reason: "the ASG marked it unhealthy, and there is no cluster it could have joined"})
		case in.State == PendingWait && lost:
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Continue,
				Reason: "no control-plane node is in service or answers: nothing to join; in service, the load balancers register it for a restore"})
		case in.State == PendingWait:
			p.Heartbeat = append(p.Heartbeat, in)
			p.Waits = append(p.Waits, Wait{Reason: ReasonBlindLaunchHeld, Instance: in.ID, Detail: "the node may have joined etcd"})
		case in.State == TerminatingWait:
			p.Heartbeat = append(p.Heartbeat, in)
			p.Metrics.HeldTerminations++
			p.Waits = append(p.Waits, Wait{Reason: ReasonBlindTerminationHeld, Instance: in.ID, Detail: "its node may hold a voter, or the only copy of etcd"})
		}
	}
	if !v.inCluster() && !lost {
		p.Waits = append(p.Waits, Wait{Reason: ReasonBlindUnconfirmed, Detail: "no node in service or standby and none answers: the launches are completed for a restore if that lasts to the next run"})
		if v.obs.SuspectsUnknown {
			// The sighting cannot be stored for the next run (issue 27: no
			// run confirmed, and a restore waited for the hooks' 25 h).
			p.Reobserve = v.pol.MinSuspectAge
		}
	}
}

// decideCapacity brings the group back to its desired size one node at a
// time, by letting a scale-in take one node: more nodes in service than
// desired follow a lowered controlPlane.count (every node is protected,
// so the group keeps them all until one is not: the Auto Scaling user
// guide, "Use instance scale-in protection") or an Availability Zone
// rebalance, which launches first. The node goes from the zone with the
// most nodes, so the control plane returns to one node per zone. Nothing
// moves while etcd is not settled, a change is planned, a node is at a
// hook, or a refresh runs.
func decideCapacity(p *Plan, v *view) {
	var inService, unprotected []Instance
	busy := ""
	for _, in := range v.instances {
		switch in.State {
		case InService:
			inService = append(inService, in)
			if !in.Protected {
				unprotected = append(unprotected, in)
			}
		case Standby:
			if !in.Protected {
				unprotected = append(unprotected, in)
			}
		default:
			busy = fmt.Sprintf("%s is %s", in.ID, in.State)
		}
	}
	desired := v.obs.Desired
	if desired <= 0 {
		return // the group's size is unknown: change nothing
	}
	if len(inService) <= desired {
		p.Protect = unprotected
		return
	}
	excess := fmt.Sprintf("%d nodes in service, %d desired", len(inService), desired)
	var w *Wait
	switch {
	case len(unprotected) > 0:
		w = &Wait{Reason: ReasonScaleInPending, Instance: unprotected[0].ID}
	case busy != "":
		w = &Wait{Reason: ReasonNodeAtHook, Detail: busy}
	case v.obs.Refreshing:
		w = &Wait{Reason: ReasonRefreshing}
	default:
		w = membershipGate(p, v)
	}
	if w != nil {
		w.Detail = joinDetail(excess, w.Detail)
		p.Waits = append(p.Waits, *w)
		return
	}
	pick, n := zoneWithMostNodes(inService)
	p.Unprotect = &pick
	p.Waits = append(p.Waits, Wait{Reason: ReasonScaleInAllowed, Instance: pick.ID,
		Detail: fmt.Sprintf("%s: zone %s has %d; its member leaves through the terminate hook", excess, pick.AZ, n)})
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + ": " + b
}
