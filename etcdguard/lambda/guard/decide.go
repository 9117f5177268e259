package guard

import (
	"fmt"
	"sort"
	"time"
)

// Decide computes what one run does. It is pure: the same observation gives
// the same plan.
//
// Rules (Cluster API KubeadmControlPlane's targetEtcdClusterHealthy and
// reconcileEtcdMembers, the Talos control-plane provider's gracefulEtcdLeave
// and auditEtcd, Omni's two-audit rule):
//   - a member is stale when no live ASG instance has its peer address;
//   - a stale member is removed at once when a launch waits (it blocks the
//     join: etcd 3.6 adds a learner only when every voting member is
//     connected, etcd v3.6.7 server/etcdserver/server.go mayAddMember),
//     otherwise after two runs at least MinSuspectAge apart;
//   - a terminating instance's member leaves (forfeit leadership, then
//     EtcdLeaveCluster on the node) or, when its node is unhealthy, is
//     removed by ID through a healthy peer; then the termination continues;
//   - a voting member is removed only when the remaining voting members
//     still have a healthy quorum, and never when it is the last one;
//   - at most one membership change per plan;
//   - a launch continues only when its member is a healthy voter, every
//     voting member is healthy and no member is stale.
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
		// Nothing is safe without the member list. Suspects are kept as they
		// were, so a blind run resets nothing. Hooks are not held: a cluster
		// that answers nobody (a one-node control plane whose node died, or
		// quorum lost) gains nothing from a held termination, and the hook
		// timeout then applies its default (terminate: CONTINUE, launch:
		// ABANDON), which is what happens when the guard is down.
		for k, v := range obs.Suspects {
			p.Suspects[k] = v
		}
		p.Waits = append(p.Waits, "no control-plane node answered EtcdMemberList")
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
		if ok, why := safeToRemove(members, m); !ok {
			p.Waits = append(p.Waits, fmt.Sprintf("stale member %s (%x) kept: %s", m.Name, m.ID, why))
			continue
		}
		peer := healthyPeer(members, m.ID)
		if peer == "" {
			p.Waits = append(p.Waits, fmt.Sprintf("stale member %s (%x) kept: no healthy peer to remove it through", m.Name, m.ID))
			continue
		}
		p.Change = &Change{Kind: Remove, MemberID: m.ID, Member: m.Name, Node: peer, Reason: "no instance has its address", Stale: true}
	}

	// Terminating instances.
	for _, in := range sorted {
		if in.State != TerminatingWait {
			continue
		}
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
			if !lastVoter(members, m) {
				p.Heartbeat = append(p.Heartbeat, in)
			}
			p.Waits = append(p.Waits, fmt.Sprintf("%s keeps member %s: %s", in.ID, m.Name, why))
			continue
		}
		if m.Healthy && !m.Learner {
			p.Change = &Change{Kind: Leave, MemberID: m.ID, Member: m.Name, Node: in.PrivateIP, Reason: "instance " + in.ID + " is terminating"}
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
		if !in.Healthy {
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Abandon, Reason: "the ASG marked it unhealthy"})
			continue
		}
		m, ok := memberByIP[in.PrivateIP]
		switch {
		case !ok:
			p.Waits = append(p.Waits, fmt.Sprintf("%s has not joined etcd yet", in.ID))
		case m.Learner:
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a learner: waiting for promotion", in.ID))
		case !m.Healthy:
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a voter but not healthy yet", in.ID))
		case !allHealthy || p.Change != nil:
			p.Waits = append(p.Waits, fmt.Sprintf("%s is a voter; etcd is not healthy yet (%d of %d voting members healthy, %d stale)",
				in.ID, p.Metrics.HealthyMembers, p.Metrics.VotingMembers, len(stale)))
		default:
			p.Complete = append(p.Complete, Completion{Instance: in, Result: Continue, Reason: "healthy voting member"})
			continue
		}
		p.Heartbeat = append(p.Heartbeat, in)
	}
	return p
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

// healthyPeer is the address of a healthy voting member other than id.
func healthyPeer(members []Member, id uint64) string {
	for _, o := range members {
		if o.ID != id && o.Healthy && !o.Learner && o.IP() != "" {
			return o.IP()
		}
	}
	return ""
}
