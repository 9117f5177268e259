package guard

import (
	"fmt"
	"sort"
)

// view is the cluster as one observation shows it, built once, with the
// questions Decide's steps ask of it (Cluster API's internal.ControlPlane).
type view struct {
	obs Observation
	pol Policy
	// instances are every instance, by ID; live the live ones with an
	// address, by address; seen every address the group shows, in any
	// state.
	instances []Instance
	live      map[string]Instance
	seen      map[string]bool
	// unaddressed are the live instances whose address is unknown (the
	// group listing could not give it): any member may be theirs.
	unaddressed []Instance
	// members are the members by ID; byIP by address. stale are the
	// members with an address no live instance has.
	members []Member
	byIP    map[string]Member
	stale   []Member
	isStale map[uint64]bool
	// voting, healthy and learners count the members.
	voting, healthy, learners int
}

func newView(obs Observation, pol Policy) *view {
	v := &view{obs: obs, pol: pol, live: map[string]Instance{}, seen: map[string]bool{}, byIP: map[string]Member{}, isStale: map[uint64]bool{}}
	v.instances = append([]Instance(nil), obs.Instances...)
	sort.Slice(v.instances, func(i, j int) bool { return v.instances[i].ID < v.instances[j].ID })
	for _, in := range v.instances {
		v.seen[in.PrivateIP] = true
		switch {
		case !in.live():
		case in.PrivateIP == "":
			v.unaddressed = append(v.unaddressed, in)
		default:
			v.live[in.PrivateIP] = in
		}
	}
	v.members = append([]Member(nil), obs.Members...)
	sort.Slice(v.members, func(i, j int) bool { return v.members[i].ID < v.members[j].ID })
	for _, m := range v.members {
		ip := m.IP()
		if ip == "" {
			continue
		}
		v.byIP[ip] = m
		if _, ok := v.live[ip]; !ok {
			v.stale = append(v.stale, m)
			v.isStale[m.ID] = true
		}
	}
	for _, m := range v.members {
		switch {
		case m.Learner:
			v.learners++
		case m.Healthy:
			v.voting++
			v.healthy++
		default:
			v.voting++
		}
	}
	return v
}

// metrics are the membership figures every run publishes.
func (v *view) metrics() Metrics {
	m := Metrics{Known: true, VotingMembers: v.voting, HealthyMembers: v.healthy, LearnerMembers: v.learners, StaleMembers: len(v.stale)}
	for _, x := range v.members {
		if !x.Learner && (!x.Healthy || v.isStale[x.ID]) {
			m.DegradedMembers++
		}
	}
	return m
}

// in are the instances in state st, by ID.
func (v *view) in(st Lifecycle) []Instance {
	var out []Instance
	for _, in := range v.instances {
		if in.State == st {
			out = append(out, in)
		}
	}
	return out
}

// memberOf is the member at the instance's address.
func (v *view) memberOf(in Instance) (Member, bool) {
	if in.PrivateIP == "" {
		return Member{}, false
	}
	m, ok := v.byIP[in.PrivateIP]
	return m, ok
}

// holdsNoMember reports whether an instance whose address is unknown
// provably holds no member: every member is at a live instance's address.
func (v *view) holdsNoMember() bool {
	if len(v.stale) > 0 {
		return false
	}
	for _, m := range v.members {
		if m.IP() == "" {
			return false
		}
	}
	return true
}

// launchWaiting reports whether an instance waits at the launch hook.
func (v *view) launchWaiting() bool { return len(v.in(PendingWait)) > 0 }

// joining are the launching nodes the group holds healthy whose member is
// not yet a healthy voter (a node the group marked unhealthy is abandoned,
// not waited for).
func (v *view) joining() []Instance {
	var out []Instance
	for _, in := range v.in(PendingWait) {
		if m, ok := v.memberOf(in); in.Healthy && (!ok || m.Learner || !m.Healthy) {
			out = append(out, in)
		}
	}
	return out
}

// settled reports whether etcd is as a launch or a scale-in needs it:
// every voter healthy, no member stale, no learner.
func (v *view) settled() bool {
	return v.healthy == v.voting && len(v.stale) == 0 && v.learners == 0
}

// settledDetail is the figures behind settled, for people.
func (v *view) settledDetail() string {
	return fmt.Sprintf("%d of %d voting members healthy, %d stale, %d learners", v.healthy, v.voting, len(v.stale), v.learners)
}

// inCluster reports whether some node is in service or in standby: a
// cluster a node could join or hand over to may exist.
func (v *view) inCluster() bool {
	for _, in := range v.instances {
		if in.State == InService || in.State == Standby {
			return true
		}
	}
	return false
}

// mayRemove is Cluster API's targetEtcdClusterHealthy rule applied to the
// membership after removing m: nil when the remaining voters still have a
// healthy quorum, else why not. Learners hold no vote, so removing one is
// always safe (etcd skips the check too: mayRemoveMember).
func (v *view) mayRemove(m Member) *Wait {
	if m.Learner {
		return nil
	}
	// Cluster API takes no member out while a learner exists
	// (remediation.go canSafelyRemoveEtcdMember): the cluster is between
	// two configurations. A dead voter still goes: removing it only raises
	// the fault tolerance the promotion needs.
	if m.Healthy {
		for _, o := range v.members {
			if o.Learner && o.ID != m.ID {
				return &Wait{Reason: ReasonLearnerPromoting, Member: memberName(m), Detail: "learner " + o.Name + " is being promoted; a healthy voter leaves after"}
			}
		}
	}
	voting, healthy := v.voting-1, v.healthy
	if m.Healthy {
		healthy--
	}
	if voting == 0 {
		return &Wait{Reason: ReasonLastVoter, Member: memberName(m), Detail: "removing it ends the cluster (restore from a backup instead)"}
	}
	if healthy < Quorum(voting) {
		return &Wait{Reason: ReasonQuorumAfterRemoval, Member: memberName(m),
			Detail: fmt.Sprintf("after it, %d of %d voting members would be healthy, quorum needs %d", healthy, voting, Quorum(voting))}
	}
	return nil
}

// healthyPeer is the address of a healthy voter other than id, through
// which a member is removed by ID.
func (v *view) healthyPeer(id uint64) string {
	for _, o := range v.members {
		if o.ID != id && o.Healthy && !o.Learner && o.IP() != "" {
			return o.IP()
		}
	}
	return ""
}

// anotherServes reports whether another healthy voter's node serves a
// control plane: in service, or launching with its control plane ready.
func (v *view) anotherServes(leaving Member) bool {
	for _, o := range v.members {
		if o.ID == leaving.ID || o.Learner || !o.Healthy {
			continue
		}
		in, ok := v.live[o.IP()]
		if !ok {
			continue
		}
		why, checked := v.obs.Components[o.IP()]
		if in.State == InService || (in.State == PendingWait && checked && why == "") {
			return true
		}
	}
	return false
}

// zoneWithMostNodes is the first of ins in the zone with the most of them,
// and how many that zone has.
func zoneWithMostNodes(ins []Instance) (Instance, int) {
	perAZ := map[string]int{}
	for _, in := range ins {
		perAZ[in.AZ]++
	}
	pick := ins[0]
	for _, in := range ins[1:] {
		if perAZ[in.AZ] > perAZ[pick.AZ] {
			pick = in
		}
	}
	return pick, perAZ[pick.AZ]
}

// rank orders removals: learners (no vote), dead voters (removing one
// keeps a fault tolerance removing a live one would spend), healthy
// voters.
func rank(m Member) int {
	switch {
	case m.Learner:
		return 0
	case !m.Healthy:
		return 1
	}
	return 2
}
