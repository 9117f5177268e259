package guard

import (
	"fmt"
	"sort"
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
//     otherwise after two runs at least MinSuspectAge apart;
//   - a terminating instance's member leaves (forfeit leadership, then
//     EtcdLeaveCluster on the node) or, when its node is unhealthy, is
//     removed by ID through a healthy peer; then the termination continues.
//     Unhealthy members go before healthy ones;
//   - a voting member is removed only when the remaining voting members
//     still have a healthy quorum, and never when it is the last one; a
//     healthy voter never while a learner is being promoted;
//   - at most one membership change per plan;
//   - a launch continues only when its member is a healthy voter, every
//     voting member is healthy, no member is stale or a learner, and the
//     node's API server, controller manager and scheduler are ready;
//   - a node that has joined etcd is never let go by a hook: it is held
//     until its member is removed (the hooks' default results are
//     CONTINUE, so a guard that is down lets nodes in, never kills one);
//   - with more nodes in service than desired, one node at a time loses
//     its scale-in protection, so a scale-in takes it through the hook.
func Decide(obs Observation, pol Policy) Plan {
	p := Plan{Suspects: map[uint64]time.Time{}}

	byIP := map[string]Instance{}
	for _, in := range obs.Instances {
		if in.PrivateIP != "" && in.live() {
			byIP[in.PrivateIP] = in
		}
	}
	sorted := append([]Instance(nil), obs.Instances...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })

	if !obs.MembersKnown {
		for k, v := range obs.Suspects {
			p.Suspects[k] = v
		}
		// When the blindness began, kept under the sentinel BlindSince
		// (no etcd member has ID 0); a run that sees drops it.
		since, seen := obs.Suspects[BlindSince]
		if !seen {
			since = obs.Now
		}
		p.Suspects[BlindSince] = since
		p.Waits = append(p.Waits, "no control-plane node answered EtcdMemberList")
		decideBlind(&p, sorted, seen && obs.Now.Sub(since) >= pol.MinSuspectAge)
		return p
	}

	members := append([]Member(nil), obs.Members...)
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	memberByIP := map[string]Member{}
	var stale []Member
	for _, m := range members {
		ip := m.IP()
		if ip != "" {
			memberByIP[ip] = m
		}
		if _, ok := byIP[ip]; !ok && ip != "" {
			stale = append(stale, m)
		}
	}

	// Metrics.
	p.Metrics.Known = true
	staleIDs := map[uint64]bool{}
	for _, m := range stale {
		staleIDs[m.ID] = true
	}
	for _, m := range members {
		if m.Learner {
			p.Metrics.LearnerMembers++
			continue
		}
		p.Metrics.VotingMembers++
		if m.Healthy {
			p.Metrics.HealthyMembers++
		}
		if !m.Healthy || staleIDs[m.ID] {
			p.Metrics.DegradedMembers++
		}
	}
	p.Metrics.StaleMembers = len(stale)

	launchWaiting := false
	for _, in := range sorted {
		if in.State == PendingWait {
			launchWaiting = true
		}
	}

	// Stale members: remember them, and pick those that may go now.
	var removable []Member
	for _, m := range stale {
		first, seen := obs.Suspects[m.ID]
		if !seen {
			first = obs.Now
		}
		p.Suspects[m.ID] = first
		switch {
		case launchWaiting:
			removable = append(removable, m)
		case seen && obs.Now.Sub(first) >= pol.MinSuspectAge:
			removable = append(removable, m)
		default:
			p.Waits = append(p.Waits, fmt.Sprintf("member %s (%x) has no instance: removed on a later audit", m.Name, m.ID))
		}
	}
	// Learners first (removing one needs no quorum), then unhealthy voters.
	sort.SliceStable(removable, func(i, j int) bool {
		return rank(removable[i]) < rank(removable[j])
	})
	// Addresses the group knows in any state: a member at one of them
	// whose instance is terminating is simply going.
	anyIP := map[string]bool{}
	for _, in := range obs.Instances {
		anyIP[in.PrivateIP] = true
	}
	for _, m := range removable {
		if p.Change != nil {
			break
		}
		// A voter that answers as healthy at an address no instance of the
		// group has ever shown is a wrong address (or a partial instance
		// list), not a dead node: never removed for it (the Talos
		// control-plane provider's auditEtcd refuses on such an
		// inconsistency). It stays stale, so the degraded alarm fires.
		if m.Healthy && !m.Learner && !anyIP[m.IP()] {
			p.Waits = append(p.Waits, fmt.Sprintf("stale member %s (%x) kept: it answers as healthy, but no instance has its address", m.Name, m.ID))
			continue
		}
		ch, why := removal(members, m, "no instance has its address")
		if ch == nil {
			p.Waits = append(p.Waits, fmt.Sprintf("stale member %s (%x) kept: %s", m.Name, m.ID, why))
			continue
		}
		ch.Stale = true
		p.Change = ch
	}

	// Terminating instances: those with no member first (nothing to wait
	// for), then learners, unhealthy voters, healthy voters (Cluster API
	// prefers unhealthy machines: removing a dead voter first keeps more
	// fault tolerance than removing a live one).
	terminating := []Instance{}
	for _, in := range sorted {
		if in.State == TerminatingWait {
			terminating = append(terminating, in)
		}
	}
	sort.SliceStable(terminating, func(i, j int) bool {
		return terminationRank(memberByIP, terminating[i]) < terminationRank(memberByIP, terminating[j])
	})
	for _, in := range terminating {
		m, ok := memberByIP[in.PrivateIP]
		if !ok {
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Continue, Reason: "not an etcd member"})
			continue
		}
		if p.Change != nil {
			p.Heartbeat = append(p.Heartbeat, in)
			p.Waits = append(p.Waits, fmt.Sprintf("%s waits: one membership change at a time", in.ID))
			continue
		}
		safe, why := safeToRemove(members, m)
		if !safe {
			// Held: the hook's default would end a voter etcd needs. A last
			// voter is held while it answers (a scheduled retirement marks
			// a live node unhealthy): its replacement joins it, then it
			// leaves. A dead one has nothing left to hold.
			if !lastVoter(members, m) || m.Healthy {
				p.Heartbeat = append(p.Heartbeat, in)
				p.Metrics.HeldTerminations++
			}
			p.Waits = append(p.Waits, fmt.Sprintf("%s keeps member %s: %s", in.ID, m.Name, why))
			continue
		}
		if m.Healthy && !m.Learner {
			// Its API server goes with it: another voter's node must serve
			// one (in service, or launching with its control plane ready),
			// or a one-node handover would leave no API server at all.
			if !anotherServes(members, m, byIP, obs.Components) {
				p.Heartbeat = append(p.Heartbeat, in)
				p.Metrics.HeldTerminations++
				p.Waits = append(p.Waits, fmt.Sprintf("%s keeps member %s: no other voter's node serves a ready control plane yet", in.ID, m.Name))
				continue
			}
			p.Change = &Change{Kind: Leave, MemberID: m.ID, Member: m.Name, Node: in.PrivateIP, Reason: "instance " + in.ID + " is terminating",
				SnapshotFirst: p.Metrics.VotingMembers <= 2}
			continue
		}
		peer := healthyPeer(members, m.ID)
		if peer == "" {
			p.Heartbeat = append(p.Heartbeat, in)
			p.Waits = append(p.Waits, fmt.Sprintf("%s keeps member %s: no healthy peer", in.ID, m.Name))
			continue
		}
		p.Change = &Change{Kind: Remove, MemberID: m.ID, Member: m.Name, Node: peer, Reason: "instance " + in.ID + " is terminating and its member cannot leave by itself"}
	}

	// Launching instances.
	allHealthy := p.Metrics.HealthyMembers == p.Metrics.VotingMembers && len(stale) == 0
	for _, in := range sorted {
		if in.State != PendingWait {
			continue
		}
		m, ok := memberByIP[in.PrivateIP]
		if !in.Healthy {
			if !ok {
				p.Complete = append(p.Complete, Completion{Instance: in, Result: Abandon, Reason: "the ASG marked it unhealthy and it never joined etcd"})
				continue
			}
			// Joined, then failed: its member goes first (a peer removes
			// it), then the launch is abandoned on a later run.
			if p.Change == nil {
				ch, why := removal(members, m, "launching instance "+in.ID+" joined etcd, then the ASG marked it unhealthy")
				if ch == nil {
					p.Waits = append(p.Waits, fmt.Sprintf("%s is unhealthy; its member %s is kept: %s", in.ID, m.Name, why))
				}
				p.Change = ch
			}
			p.Heartbeat = append(p.Heartbeat, in)
			continue
		}
		why, ready := obs.Components[in.PrivateIP]
		switch {
		case !ok:
			p.Waits = append(p.Waits, fmt.Sprintf("%s has not joined etcd yet", in.ID))
		case m.Learner:
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a learner: waiting for promotion", in.ID))
		case !m.Healthy:
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a voter but not healthy yet", in.ID))
		case p.Change != nil:
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a voter; it waits: one membership change at a time", in.ID))
		case !allHealthy || p.Metrics.LearnerMembers > 0:
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a voter; etcd is not healthy yet (%d of %d voting members healthy, %d stale, %d learners)",
				in.ID, p.Metrics.HealthyMembers, p.Metrics.VotingMembers, len(stale), p.Metrics.LearnerMembers))
		case !ready:
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a healthy voter; its Kubernetes control plane was not checked", in.ID))
		case why != "":
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a healthy voter; its Kubernetes control plane is not ready: %s", in.ID, why))
		default:
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Continue, Reason: "healthy voting member, control plane ready"})
			continue
		}
		p.Heartbeat = append(p.Heartbeat, in)
	}

	decideCapacity(&p, obs, sorted, len(stale))
	return p
}

// BlindSince is the suspects key under which a blind run records when
// the guard went blind: etcd member IDs are never 0.
const BlindSince uint64 = 0

// decideBlind holds what a guard that cannot read the member list must not
// let go, and lets in what a lost control plane needs. Talos joins a new
// node to etcd by itself, so a held launch may already be a voter: holding
// it keeps it alive (a default result would not end it either: CONTINUE).
// Every termination is held while any node may still run etcd (in
// service, in standby, or being retired: a scheduled retirement marks a
// live node unhealthy, so health says nothing here). Only when no node is
// in service or standby, and the guard has been blind on two runs at
// least MinSuspectAge apart (confirmed), is there no cluster a node could
// join or hand over (all nodes lost, or a one-node control plane whose
// node died): launches are completed so the load balancers register them
// and the operator can reach them to restore, and terminations go on.
func decideBlind(p *Plan, sorted []Instance, confirmed bool) {
	cluster := false
	for _, in := range sorted {
		if in.State == InService || in.State == Standby {
			cluster = true
		}
	}
	lost := !cluster && confirmed
	for _, in := range sorted {
		switch {
		case in.State == PendingWait && !in.Healthy && lost:
			// Nothing to keep, and a healthy replacement is what a restore needs.
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Abandon, Reason: "the ASG marked it unhealthy, and there is no cluster it could have joined"})
		case in.State == PendingWait && lost:
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Continue,
				Reason: "no control-plane node is in service or answers: nothing to join; in service, the load balancers register it for a restore"})
		case in.State == PendingWait:
			p.Heartbeat = append(p.Heartbeat, in)
			p.Waits = append(p.Waits, fmt.Sprintf("%s held: the member list cannot be read, and the node may have joined etcd", in.ID))
		case in.State == TerminatingWait && lost:
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Continue, Reason: "no control-plane node is in service or answers: no cluster to hand over"})
		case in.State == TerminatingWait:
			p.Heartbeat = append(p.Heartbeat, in)
			p.Metrics.HeldTerminations++
			p.Waits = append(p.Waits, fmt.Sprintf("%s held: the member list cannot be read, and its member may be a voter", in.ID))
		}
	}
	if !cluster && !confirmed {
		p.Waits = append(p.Waits, "no node in service or standby and none answers: the launches are completed for a restore if that lasts to the next run")
	}
}

// decideCapacity brings the group back to its desired size one node at a
// time, by letting a scale-in take one node: more nodes in service than
// desired follow a lowered controlPlane.count (every node is protected,
// so the group keeps them all until one is not: the Auto Scaling user
// guide, "Use instance scale-in protection") or an Availability Zone
// rebalance, which launches first. The node goes from the zone with the
// most nodes, so the control plane returns to one node per zone. Nothing
// moves while etcd is not healthy, a node is at a hook, or a refresh runs.
func decideCapacity(p *Plan, obs Observation, sorted []Instance, stale int) {
	var inService, unprotected []Instance
	busy := ""
	for _, in := range sorted {
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
	if obs.Desired <= 0 {
		return // the group's size is unknown: change nothing
	}
	if len(inService) <= obs.Desired {
		p.Protect = unprotected
		return
	}
	excess := fmt.Sprintf("%d nodes in service, %d desired", len(inService), obs.Desired)
	m := p.Metrics
	switch {
	case len(unprotected) > 0:
		p.Waits = append(p.Waits, fmt.Sprintf("%s: a scale-in may take %s", excess, unprotected[0].ID))
		return
	case busy != "":
		p.Waits = append(p.Waits, fmt.Sprintf("%s: waiting, %s", excess, busy))
		return
	case obs.Refreshing:
		p.Waits = append(p.Waits, excess+": waiting for the instance refresh")
		return
	case p.Change != nil || stale > 0 || m.LearnerMembers > 0 || m.HealthyMembers != m.VotingMembers:
		p.Waits = append(p.Waits, fmt.Sprintf("%s: waiting for etcd to be healthy (%d of %d voting members healthy, %d stale, %d learners)",
			excess, m.HealthyMembers, m.VotingMembers, stale, m.LearnerMembers))
		return
	}
	perAZ := map[string]int{}
	for _, in := range inService {
		perAZ[in.AZ]++
	}
	pick := inService[0]
	for _, in := range inService[1:] {
		if perAZ[in.AZ] > perAZ[pick.AZ] {
			pick = in
		}
	}
	p.Unprotect = &pick
	p.Waits = append(p.Waits, fmt.Sprintf("%s: %s (zone %s has %d) may now be scaled in; its member leaves through the terminate hook", excess, pick.ID, pick.AZ, perAZ[pick.AZ]))
}

// anotherServes reports whether another healthy voter's node serves a
// control plane: in service, or launching with its control plane ready.
func anotherServes(members []Member, leaving Member, byIP map[string]Instance, components map[string]string) bool {
	for _, o := range members {
		if o.ID == leaving.ID || o.Learner || !o.Healthy {
			continue
		}
		in, ok := byIP[o.IP()]
		if !ok {
			continue
		}
		why, checked := components[o.IP()]
		if in.State == InService || (in.State == PendingWait && checked && why == "") {
			return true
		}
	}
	return false
}

// terminationRank orders terminations: no member, learner, unhealthy
// voter, healthy voter.
func terminationRank(byIP map[string]Member, in Instance) int {
	m, ok := byIP[in.PrivateIP]
	if !ok {
		return -1
	}
	return rank(m)
}

func rank(m Member) int {
	switch {
	case m.Learner:
		return 0
	case !m.Healthy:
		return 1
	}
	return 2
}

// safeToRemove is CAPI's targetEtcdClusterHealthy rule applied to the
// membership after removing m: the remaining voting members must still have
// a healthy quorum. Learners hold no vote, so removing one is always safe
// (etcd skips the check too: mayRemoveMember).
func safeToRemove(members []Member, m Member) (bool, string) {
	if m.Learner {
		return true, ""
	}
	// Cluster API takes no member out while a learner exists
	// (remediation.go canSafelyRemoveEtcdMember): the cluster is between two
	// configurations. A dead voter still goes: removing it only raises the
	// fault tolerance the promotion needs.
	if m.Healthy {
		for _, o := range members {
			if o.Learner && o.ID != m.ID {
				return false, fmt.Sprintf("learner %s is being promoted; a healthy voter leaves after", o.Name)
			}
		}
	}
	voting, healthy := 0, 0
	for _, o := range members {
		if o.ID == m.ID || o.Learner {
			continue
		}
		voting++
		if o.Healthy {
			healthy++
		}
	}
	if voting == 0 {
		return false, "it is the last voting member; removing it ends the cluster (restore from a backup instead)"
	}
	if healthy < Quorum(voting) {
		return false, fmt.Sprintf("after it, %d of %d voting members would be healthy, quorum needs %d", healthy, voting, Quorum(voting))
	}
	return true, ""
}

func lastVoter(members []Member, m Member) bool {
	if m.Learner {
		return false
	}
	for _, o := range members {
		if o.ID != m.ID && !o.Learner {
			return false
		}
	}
	return true
}

// removal is m's removal by ID through a healthy peer, or nil and why not:
// removing it would cost quorum, or no peer could do it.
func removal(members []Member, m Member, reason string) (*Change, string) {
	if ok, why := safeToRemove(members, m); !ok {
		return nil, why
	}
	peer := healthyPeer(members, m.ID)
	if peer == "" {
		return nil, "no healthy peer to remove it through"
	}
	return &Change{Kind: Remove, MemberID: m.ID, Member: m.Name, Node: peer, Reason: reason}, ""
}

// healthyPeer is the address of a healthy voting member other than id.
func healthyPeer(members []Member, id uint64) string {
	for _, o := range members {
		if o.ID != id && o.Healthy && !o.Learner && o.IP() != "" {
			return o.IP()
		}
	}
	return ""
}
