package guard

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func inst(id, ip string, st Lifecycle) Instance {
	return Instance{ID: id, PrivateIP: ip, State: st, Healthy: true, Protected: true}
}

func mem(id uint64, ip string, healthy bool) Member {
	return Member{ID: id, Name: "ip-" + strings.ReplaceAll(ip, ".", "-"), PeerURLs: []string{"https://" + ip + ":2380"}, Healthy: healthy}
}

func learner(id uint64, ip string) Member {
	m := mem(id, ip, true)
	m.Learner = true
	return m
}

// three is a healthy three-node control plane.
func three() ([]Instance, []Member) {
	return []Instance{inst("i-a", "10.0.1.10", InService), inst("i-b", "10.0.2.10", InService), inst("i-c", "10.0.3.10", InService)},
		[]Member{mem(1, "10.0.1.10", true), mem(2, "10.0.2.10", true), mem(3, "10.0.3.10", true)}
}

// five is a healthy five-node control plane over three zones, every node
// protected from scale-in.
func five() ([]Instance, []Member) {
	var ins []Instance
	var ms []Member
	for i, az := range []string{"az-a", "az-b", "az-c", "az-a", "az-b"} {
		ip := fmt.Sprintf("10.0.%d.%d", i%3+1, 10+i)
		ins = append(ins, Instance{ID: fmt.Sprintf("i-%c", 'a'+i), PrivateIP: ip, State: InService, Healthy: true, AZ: az, Protected: true})
		ms = append(ms, mem(uint64(i+1), ip, true))
	}
	return ins, ms
}

func TestMemberIP(t *testing.T) {
	for url, want := range map[string]string{
		"https://10.0.1.23:2380": "10.0.1.23",
		"https://[fd00::1]:2380": "fd00::1",
		"http://name.local:2380": "",
		"::::":                   "",
	} {
		if got := (Member{PeerURLs: []string{url}}).IP(); got != want {
			t.Errorf("IP(%q) = %q, want %q", url, got, want)
		}
	}
}

func TestQuorum(t *testing.T) {
	for n, q := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4} {
		if Quorum(n) != q {
			t.Errorf("Quorum(%d) = %d, want %d", n, Quorum(n), q)
		}
	}
}

// summary renders a plan compactly so tables can state the whole answer.
func summary(p Plan) string {
	var parts []string
	if c := p.Change; c != nil {
		parts = append(parts, fmt.Sprintf("%s %d via %s", c.Kind, c.MemberID, c.Node))
	}
	for _, c := range p.Complete {
		parts = append(parts, c.Result+" "+c.Instance.ID)
	}
	for _, h := range p.Heartbeat {
		parts = append(parts, "heartbeat "+h.ID)
	}
	if p.Unprotect != nil {
		parts = append(parts, "unprotect "+p.Unprotect.ID)
	}
	for _, in := range p.Protect {
		parts = append(parts, "protect "+in.ID)
	}
	return strings.Join(parts, "; ")
}

func TestDecide(t *testing.T) {
	type tc struct {
		name     string
		obs      func() Observation
		want     string
		wantWait WaitReason // the reason of one wait
		metrics  *Metrics
		suspects []uint64
		snapshot bool // the change is snapshotted first
		// reobserve is Plan.Reobserve.
		reobserve time.Duration
		paused    bool // Policy.Paused
	}
	cases := []tc{
		{
			name: "steady three nodes: nothing to do",
			obs: func() Observation {
				in, ms := three()
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:    "",
			metrics: &Metrics{Known: true, VotingMembers: 3, HealthyMembers: 3},
		},
		{
			name: "terminating healthy node leaves by itself",
			obs: func() Observation {
				in, ms := three()
				in[1].State = TerminatingWait
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want: "leave 2 via 10.0.2.10",
		},
		{
			name: "terminating dead node is removed through a healthy peer",
			obs: func() Observation {
				in, ms := three()
				in[1].State, ms[1].Healthy = TerminatingWait, false
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want: "remove 2 via 10.0.1.10",
		},
		{
			name: "terminating node whose member is gone continues",
			obs: func() Observation {
				in, ms := three()
				in[1].State = TerminatingWait
				return Observation{Now: t0, Instances: in, Members: []Member{ms[0], ms[2]}, MembersKnown: true}
			},
			want: "CONTINUE i-b",
		},
		{
			name: "terminating healthy node kept while another member is down: quorum would break",
			obs: func() Observation {
				in, ms := three()
				in[1].State, ms[2].Healthy = TerminatingWait, false
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-b",
			wantWait: ReasonQuorumAfterRemoval,
		},
		{
			name: "two terminations at once: one change, the other waits",
			obs: func() Observation {
				in := []Instance{inst("i-a", "10.0.1.10", TerminatingWait), inst("i-b", "10.0.2.10", TerminatingWait),
					inst("i-c", "10.0.3.10", InService), inst("i-d", "10.0.1.11", InService), inst("i-e", "10.0.2.11", InService)}
				ms := []Member{mem(1, "10.0.1.10", true), mem(2, "10.0.2.10", true), mem(3, "10.0.3.10", true), mem(4, "10.0.1.11", true), mem(5, "10.0.2.11", true)}
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "leave 1 via 10.0.1.10; heartbeat i-b",
			wantWait: ReasonOneChangeAtATime,
		},
		{
			name: "one-node control plane: the last live voter never leaves, and is held until its replacement joins",
			obs: func() Observation {
				return Observation{Now: t0, Instances: []Instance{inst("i-a", "10.0.1.10", TerminatingWait), inst("i-b", "10.0.2.10", PendingWait)},
					Members: []Member{mem(1, "10.0.1.10", true)}, MembersKnown: true}
			},
			want:     "heartbeat i-a; heartbeat i-b",
			wantWait: ReasonLastVoter,
			metrics:  &Metrics{Known: true, VotingMembers: 1, HealthyMembers: 1, HeldTerminations: 1},
		},
		{
			// Issue 27: a member list that answers with one voter was read
			// through that voter (Talos asks with WithRequireLeader), so an
			// "unhealthy" last voter is alive: its status carries an etcd
			// alarm (NOSPACE, CORRUPT) or answered too slowly. It was let
			// go, and the hook's default deleted the only copy.
			name: "one-node control plane: a last voter with an etcd alarm (unhealthy) is held too, before its replacement joins",
			obs: func() Observation {
				in := inst("i-a", "10.0.1.10", TerminatingWait)
				in.Healthy = false
				return Observation{Now: t0, Instances: []Instance{in, inst("i-b", "10.0.2.10", PendingWait)},
					Members: []Member{mem(1, "10.0.1.10", false)}, MembersKnown: true}
			},
			want:     "heartbeat i-a; heartbeat i-b",
			wantWait: ReasonLastVoter,
			metrics:  &Metrics{Known: true, VotingMembers: 1, DegradedMembers: 1, HeldTerminations: 1},
		},
		{
			name: "one-node control plane rolled launch-first: the old node leaves once the new one votes, snapshotted first",
			obs: func() Observation {
				return Observation{Now: t0, Instances: []Instance{inst("i-a", "10.0.1.10", TerminatingWait), inst("i-b", "10.0.2.10", InService)},
					Members: []Member{mem(1, "10.0.1.10", true), mem(2, "10.0.2.10", true)}, MembersKnown: true}
			},
			want:     "leave 1 via 10.0.1.10",
			snapshot: true,
		},
		{
			name: "launch: not joined yet waits",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonNotJoined,
		},
		{
			name: "launch: learner waits for promotion",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, learner(4, "10.0.1.11"))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonLearnerNotPromoted,
			metrics:  &Metrics{Known: true, VotingMembers: 3, HealthyMembers: 3, LearnerMembers: 1},
		},
		{
			name: "launch: healthy voter continues",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, mem(4, "10.0.1.11", true))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Components: map[string]string{"10.0.1.11": ""}}
			},
			want: "CONTINUE i-d",
		},
		{
			name: "launch: a healthy voter whose API server is broken is held (a broken upgrade stops at its first node)",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, mem(4, "10.0.1.11", true))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true,
					Components: map[string]string{"10.0.1.11": "kube-apiserver: Ready is False (CrashLoopBackOff)"}}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonControlPlaneNotReady,
		},
		{
			name: "launch: a voter whose control plane was not checked is held",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, mem(4, "10.0.1.11", true))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonControlPlaneNotChecked,
		},
		{
			name: "launch: joined etcd, then the ASG marked it unhealthy: its member goes before the launch is abandoned",
			obs: func() Observation {
				in, ms := three()
				d := inst("i-d", "10.0.1.11", PendingWait)
				d.Healthy = false
				ms = append(ms, mem(4, "10.0.1.11", true))
				return Observation{Now: t0, Instances: append(in, d), Members: ms, MembersKnown: true}
			},
			want: "remove 4 via 10.0.1.10; heartbeat i-d",
		},
		{
			name: "two terminations: the dead member goes before the live one",
			obs: func() Observation {
				in, ms := three()
				in[0].State = TerminatingWait
				in[1].State, in[1].Healthy = TerminatingWait, false
				ms[1].Healthy = false
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want: "remove 2 via 10.0.1.10; heartbeat i-a",
		},
		{
			// Issue 27: two live terminations at once in three nodes (two
			// retirements): the first left, then the second, while both
			// replacements were still joining: one voter.
			name: "two live terminations in three nodes, replacements launching: no healthy voter leaves before a replacement votes",
			obs: func() Observation {
				in, ms := three()
				in[0].State, in[1].State = TerminatingWait, TerminatingWait
				in = append(in, inst("i-d", "10.0.1.11", PendingWait), inst("i-e", "10.0.2.11", PendingWait))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-a; heartbeat i-b; heartbeat i-d; heartbeat i-e",
			wantWait: ReasonReplacementJoining,
			metrics:  &Metrics{Known: true, VotingMembers: 3, HealthyMembers: 3, HeldTerminations: 2},
		},
		{
			name: "the first of two left and one replacement votes: the second still waits for the other replacement",
			obs: func() Observation {
				in, ms := three()
				in[1].State = TerminatingWait
				in = append(in[1:], inst("i-d", "10.0.1.11", PendingWait), inst("i-e", "10.0.2.11", PendingWait))
				ms = append(ms[1:], mem(4, "10.0.1.11", true))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Components: map[string]string{"10.0.1.11": ""}}
			},
			want:     "CONTINUE i-d; heartbeat i-b; heartbeat i-e",
			wantWait: ReasonReplacementJoining,
		},
		{
			name: "a live retirement in three nodes: the old node leaves once its replacement votes",
			obs: func() Observation {
				in, ms := three()
				in[0].State, in[0].Healthy = TerminatingWait, false
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-a; heartbeat i-d",
			wantWait: ReasonReplacementJoining,
		},
		{
			name: "a live retirement in three nodes, the replacement a healthy voter: the old node leaves",
			obs: func() Observation {
				in, ms := three()
				in[0].State, in[0].Healthy = TerminatingWait, false
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, mem(4, "10.0.1.11", true))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Components: map[string]string{"10.0.1.11": ""}}
			},
			want:     "leave 1 via 10.0.1.10; heartbeat i-d",
			wantWait: ReasonOneChangeAtATime,
		},
		{
			// Issue 27: a healthy voter left while a dead member, already due
			// for removal, waited: terminations were decided before failed
			// launches. Removing the dead one first keeps a fault tolerance
			// the live one's leave would spend.
			name: "a healthy voter's termination and a dead member at a failed launch: dead first",
			obs: func() Observation {
				in, ms := three()
				in[0].State = TerminatingWait
				d := inst("i-d", "10.0.1.11", PendingWait)
				d.Healthy = false
				ms = append(ms, mem(4, "10.0.1.11", false))
				return Observation{Now: t0, Instances: append(in, d), Members: ms, MembersKnown: true}
			},
			want:     "remove 4 via 10.0.1.10; heartbeat i-a; heartbeat i-d",
			wantWait: ReasonOneChangeAtATime,
		},
		{
			name: "a learner at a terminating instance goes before a dead member without an instance",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-e", "10.0.2.11", TerminatingWait))
				ms = append(ms, mem(4, "10.0.1.11", false), learner(5, "10.0.2.11"))
				return Observation{Now: t0.Add(time.Hour), Instances: in, Members: ms, MembersKnown: true, Suspects: map[uint64]time.Time{4: t0}}
			},
			want:     "remove 5 via 10.0.1.10",
			suspects: []uint64{4},
		},
		{
			// Issue 27: an instance whose address the group listing did not
			// give (DescribeInstances missed it) was completed as "not a
			// member", though member 3 is its own.
			name: "a terminating instance with no known address is held, not completed as not a member",
			obs: func() Observation {
				in, ms := three()
				in[2].State, in[2].PrivateIP = TerminatingWait, ""
				return Observation{Now: t0.Add(time.Hour), Instances: in, Members: ms, MembersKnown: true, Suspects: map[uint64]time.Time{3: t0}}
			},
			want:     "heartbeat i-c",
			wantWait: ReasonAddressUnknown,
			suspects: []uint64{3},
			metrics:  &Metrics{Known: true, VotingMembers: 3, HealthyMembers: 3, StaleMembers: 1, DegradedMembers: 1, HeldTerminations: 1},
		},
		{
			name: "a terminating instance with no known address goes when every member is at another instance's address",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-x", "", TerminatingWait))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want: "CONTINUE i-x",
		},
		{
			name: "a launch the group marked unhealthy, with no known address, is held, not abandoned (it may have joined)",
			obs: func() Observation {
				in, ms := three()
				d := inst("i-d", "", PendingWait)
				d.Healthy = false
				ms = append(ms, mem(4, "10.0.1.11", false))
				return Observation{Now: t0, Instances: append(in, d), Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonAddressUnknown,
			suspects: []uint64{4},
		},
		{
			name: "a dead member without an instance is kept while a live instance's address is unknown, even with a launch waiting",
			obs: func() Observation {
				in, ms := three()
				in[2].PrivateIP = "" // member 3 may be its
				ms[2].Healthy = false
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonAddressUnknown,
			suspects: []uint64{3},
		},
		{
			name: "a healthy voter does not leave while a learner is being promoted",
			obs: func() Observation {
				in, ms := three()
				in[0].State = TerminatingWait
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, learner(4, "10.0.1.11"))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-a; heartbeat i-d",
			wantWait: ReasonLearnerPromoting,
		},
		{
			name: "a dead voter is removed while a learner is being promoted",
			obs: func() Observation {
				in, ms := three()
				in[1].State, in[1].Healthy = TerminatingWait, false
				ms[1].Healthy = false
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, learner(4, "10.0.1.11"))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want: "remove 2 via 10.0.1.10; heartbeat i-d",
		},
		{
			name: "five in service, three desired: a node of the fullest zone loses its protection",
			obs: func() Observation {
				in, ms := five()
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Desired: 3}
			},
			want:     "unprotect i-a",
			wantWait: ReasonScaleInAllowed,
		},
		{
			name: "four in service, three desired after a zone came back: the doubled zone gives one up",
			obs: func() Observation {
				in, ms := three()
				in[2].AZ = "az-a" // the replacement landed beside i-a while az-c was out
				in = append(in, Instance{ID: "i-e", PrivateIP: "10.0.3.20", State: InService, Healthy: true, AZ: "az-c", Protected: true})
				ms = append(ms, mem(5, "10.0.3.20", true))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Desired: 3}
			},
			want: "unprotect i-a",
		},
		{
			name: "excess: one node at a time",
			obs: func() Observation {
				in, ms := five()
				in[3].Protected = false
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Desired: 3}
			},
			want:     "",
			wantWait: ReasonScaleInPending,
		},
		{
			name: "excess: nothing moves during a refresh",
			obs: func() Observation {
				in, ms := five()
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Desired: 3, Refreshing: true}
			},
			want:     "",
			wantWait: ReasonRefreshing,
		},
		{
			name: "excess: nothing moves while a member is unhealthy",
			obs: func() Observation {
				in, ms := five()
				ms[4].Healthy = false
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Desired: 3}
			},
			want:     "",
			wantWait: ReasonEtcdNotSettled,
		},
		{
			name: "no excess: an unprotected node is protected again",
			obs: func() Observation {
				in, ms := three()
				in[1].Protected = false
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Desired: 3}
			},
			want: "protect i-b",
		},
		{
			name: "launch: voter waits while another voter is unhealthy",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms[0].Healthy = false
				ms = append(ms, mem(4, "10.0.1.11", true))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonEtcdNotSettled,
		},
		{
			name: "launch: the ASG marked it unhealthy: abandon",
			obs: func() Observation {
				in, ms := three()
				d := inst("i-d", "10.0.1.11", PendingWait)
				d.Healthy = false
				return Observation{Now: t0, Instances: append(in, d), Members: ms, MembersKnown: true}
			},
			want: "ABANDON i-d",
		},
		{
			name: "launch waiting: a member without instance is removed at once, before the gate opens",
			obs: func() Observation {
				in, ms := three()
				in = []Instance{in[0], in[2], inst("i-d", "10.0.1.11", PendingWait)} // i-b killed, no hook
				ms[1].Healthy = false
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "remove 2 via 10.0.1.10; heartbeat i-d",
			suspects: []uint64{2, StaleRemovedAt},
			metrics:  &Metrics{Known: true, VotingMembers: 3, HealthyMembers: 2, StaleMembers: 1, DegradedMembers: 1},
		},
		{
			name: "audit, first sight of a stale member: suspect only",
			obs: func() Observation {
				in, ms := three()
				ms[1].Healthy = false
				return Observation{Now: t0, Instances: []Instance{in[0], in[2]}, Members: ms, MembersKnown: true}
			},
			want:     "",
			wantWait: ReasonStaleSuspect,
			suspects: []uint64{2},
		},
		{
			name: "audit, second sight too soon: still a suspect",
			obs: func() Observation {
				in, ms := three()
				ms[1].Healthy = false
				return Observation{Now: t0.Add(30 * time.Second), Instances: []Instance{in[0], in[2]}, Members: ms, MembersKnown: true,
					Suspects: map[uint64]time.Time{2: t0}}
			},
			want:     "",
			suspects: []uint64{2},
		},
		{
			name: "audit, second sight: removed",
			obs: func() Observation {
				in, ms := three()
				ms[1].Healthy = false
				return Observation{Now: t0.Add(5 * time.Minute), Instances: []Instance{in[0], in[2]}, Members: ms, MembersKnown: true,
					Suspects: map[uint64]time.Time{2: t0}}
			},
			want:     "remove 2 via 10.0.1.10",
			suspects: []uint64{2, StaleRemovedAt},
		},
		{
			name: "audit: a stale member's instance in Terminating:Proceed counts as gone",
			obs: func() Observation {
				in, ms := three()
				in[1].State = TerminatingProceed
				return Observation{Now: t0.Add(5 * time.Minute), Instances: in, Members: ms, MembersKnown: true,
					Suspects: map[uint64]time.Time{2: t0}}
			},
			want:     "remove 2 via 10.0.1.10",
			suspects: []uint64{2, StaleRemovedAt},
		},
		{
			name: "audit: suspects whose member is back (or gone) are forgotten",
			obs: func() Observation {
				in, ms := three()
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Suspects: map[uint64]time.Time{2: t0, 9: t0}}
			},
			want: "",
		},
		{
			name: "partition: an unreachable member with a live instance is never removed",
			obs: func() Observation {
				in, ms := three()
				ms[2].Healthy = false
				return Observation{Now: t0.Add(time.Hour), Instances: in, Members: ms, MembersKnown: true}
			},
			want:    "",
			metrics: &Metrics{Known: true, VotingMembers: 3, HealthyMembers: 2, DegradedMembers: 1},
		},
		{
			name: "a voter answering as healthy at an address no instance has is kept, even with a launch waiting",
			obs: func() Observation {
				in, ms := three()
				// The group lists i-b no more (a partial list, or a wrong
				// address), but its member answers as itself with a leader.
				in = []Instance{in[0], in[2], inst("i-d", "10.0.1.11", PendingWait)}
				return Observation{Now: t0.Add(time.Hour), Instances: in, Members: ms, MembersKnown: true, Suspects: map[uint64]time.Time{2: t0}}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonStaleAnswersHealthy,
			suspects: []uint64{2},
			metrics:  &Metrics{Known: true, VotingMembers: 3, HealthyMembers: 3, StaleMembers: 1, DegradedMembers: 1},
		},
		{
			name: "two stale members: removed one at a time, learner first",
			obs: func() Observation {
				in := []Instance{inst("i-a", "10.0.1.10", InService), inst("i-b", "10.0.2.10", InService), inst("i-c", "10.0.3.10", InService),
					inst("i-f", "10.0.3.11", PendingWait)}
				ms := []Member{mem(1, "10.0.1.10", true), mem(2, "10.0.2.10", true), mem(3, "10.0.3.10", true),
					mem(4, "10.0.1.11", false), learner(5, "10.0.2.11")}
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			want:     "remove 5 via 10.0.1.10; heartbeat i-f",
			suspects: []uint64{4, 5, StaleRemovedAt},
		},
		{
			// Issue 27: the cap was one removal for a missing instance per
			// run, and lifecycle events start runs seconds apart.
			name: "a member without an instance, another removed less than the window ago: it waits, even with a launch waiting",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, mem(4, "10.0.1.12", false))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true,
					Suspects: map[uint64]time.Time{4: t0.Add(-time.Hour), StaleRemovedAt: t0.Add(-30 * time.Second)}}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonStaleRemovalCap,
			suspects: []uint64{4, StaleRemovedAt},
		},
		{
			name: "a member without an instance, the last such removal a window ago: it goes",
			obs: func() Observation {
				in, ms := three()
				ms = append(ms, mem(4, "10.0.1.12", false))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true,
					Suspects: map[uint64]time.Time{4: t0.Add(-time.Hour), StaleRemovedAt: t0.Add(-5 * time.Minute)}}
			},
			want:     "remove 4 via 10.0.1.10",
			suspects: []uint64{4, StaleRemovedAt},
		},
		{
			name: "suspects unreadable: no member goes for a missing instance (the window cannot be read either)",
			obs: func() Observation {
				in, ms := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, mem(4, "10.0.1.12", false))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, SuspectsUnknown: true}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonSuspectsUnknown,
			suspects: []uint64{4},
		},
		{
			name: "stale member kept when removing it would break quorum",
			obs: func() Observation {
				// 5 voting, 2 dead with no instance, 1 more unhealthy: removing a
				// dead one leaves 2 healthy of 4 < quorum 3.
				in := []Instance{inst("i-a", "10.0.1.10", InService), inst("i-b", "10.0.2.10", InService), inst("i-c", "10.0.3.10", InService)}
				ms := []Member{mem(1, "10.0.1.10", true), mem(2, "10.0.2.10", true), mem(3, "10.0.3.10", false),
					mem(4, "10.0.1.11", false), mem(5, "10.0.2.11", false)}
				return Observation{Now: t0.Add(time.Hour), Instances: in, Members: ms, MembersKnown: true,
					Suspects: map[uint64]time.Time{4: t0, 5: t0}}
			},
			want:     "",
			wantWait: ReasonQuorumAfterRemoval,
			suspects: []uint64{4, 5},
		},
		{
			name: "member list unknown: nothing changes, a live terminating node is held, suspects kept",
			obs: func() Observation {
				in, _ := three()
				in[0].State = TerminatingWait
				return Observation{Now: t0, Instances: in, MembersKnown: false, Suspects: map[uint64]time.Time{7: t0}}
			},
			want:     "heartbeat i-a",
			wantWait: ReasonBlind,
			suspects: []uint64{BlindSince, 7},
			metrics:  &Metrics{HeldTerminations: 1},
		},
		{
			name: "member list unknown, nodes in service: a launch is held, never abandoned (it may have joined by itself)",
			obs: func() Observation {
				in, _ := three()
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				return Observation{Now: t0, Instances: in, MembersKnown: false}
			},
			want:     "heartbeat i-d",
			wantWait: ReasonBlindLaunchHeld,
			suspects: []uint64{BlindSince},
		},
		{
			name: "member list unknown: a termination the ASG calls unhealthy is held too (a scheduled retirement marks a live node so)",
			obs: func() Observation {
				in, _ := three()
				in[0].State, in[0].Healthy = TerminatingWait, false
				return Observation{Now: t0, Instances: in, MembersKnown: false}
			},
			want:     "heartbeat i-a",
			wantWait: ReasonBlindTerminationHeld,
			suspects: []uint64{BlindSince},
		},
		{
			name: "member list unknown: a launch the ASG calls unhealthy is held, not abandoned (it may be a voter)",
			obs: func() Observation {
				in, _ := three()
				d := inst("i-d", "10.0.1.11", PendingWait)
				d.Healthy = false
				return Observation{Now: t0, Instances: append(in, d), MembersKnown: false, Suspects: map[uint64]time.Time{BlindSince: t0.Add(-time.Hour)}}
			},
			want:     "heartbeat i-d",
			suspects: []uint64{BlindSince},
		},
		{
			name: "control plane lost: an unhealthy launch is abandoned, so a healthy one replaces it",
			obs: func() Observation {
				d := inst("i-d", "10.0.1.11", PendingWait)
				d.Healthy = false
				return Observation{Now: t0, Instances: []Instance{d, inst("i-e", "10.0.2.11", PendingWait)}, MembersKnown: false,
					Suspects: map[uint64]time.Time{BlindSince: t0.Add(-5 * time.Minute)}}
			},
			want:     "ABANDON i-d; CONTINUE i-e",
			suspects: []uint64{BlindSince},
		},
		{
			// Issue 27: the first blind sighting is kept in the suspects
			// parameter; unreadable, no later run could confirm the loss,
			// and the launches a restore needs were held for 25 h.
			name: "nothing in service, nothing answers, suspects unreadable: observe again within the run to confirm",
			obs: func() Observation {
				return Observation{Now: t0, Instances: []Instance{inst("i-d", "10.0.1.11", PendingWait)}, MembersKnown: false, SuspectsUnknown: true}
			},
			want:      "heartbeat i-d",
			wantWait:  ReasonBlindUnconfirmed,
			suspects:  []uint64{BlindSince},
			reobserve: DefaultPolicy.MinSuspectAge,
		},
		{
			name: "member list unknown, every other node in standby: still a cluster, the termination is held",
			obs: func() Observation {
				in, _ := three()
				in[0].State = TerminatingWait
				in[1].State, in[2].State = Standby, Standby
				return Observation{Now: t0, Instances: in, MembersKnown: false, Suspects: map[uint64]time.Time{BlindSince: t0.Add(-time.Hour)}}
			},
			want:     "heartbeat i-a",
			suspects: []uint64{BlindSince},
		},
		{
			name: "nothing in service, nothing answers, first sighting: held (one timeout is not a lost control plane)",
			obs: func() Observation {
				a := inst("i-a", "10.0.1.10", TerminatingWait)
				a.Healthy = false
				return Observation{Now: t0, Instances: []Instance{a, inst("i-d", "10.0.1.11", PendingWait), inst("i-e", "10.0.2.11", PendingWait)}, MembersKnown: false}
			},
			want:     "heartbeat i-a; heartbeat i-d; heartbeat i-e",
			wantWait: ReasonBlindUnconfirmed,
			suspects: []uint64{BlindSince},
		},
		{
			name: "control plane lost (nothing in service, nothing answers on two runs): launches go in service for the restore, the termination is still held",
			obs: func() Observation {
				a := inst("i-a", "10.0.1.10", TerminatingWait)
				a.Healthy = false
				return Observation{Now: t0, Instances: []Instance{a, inst("i-d", "10.0.1.11", PendingWait), inst("i-e", "10.0.2.11", PendingWait)}, MembersKnown: false,
					Suspects: map[uint64]time.Time{BlindSince: t0.Add(-5 * time.Minute)}}
			},
			want:     "CONTINUE i-d; CONTINUE i-e; heartbeat i-a",
			wantWait: ReasonBlindTerminationHeld,
			suspects: []uint64{BlindSince},
			metrics:  &Metrics{HeldTerminations: 1},
		},
		{
			// Issue 27: a retirement moves the only node to Terminating:Wait,
			// alive; with nothing in service the guard took it for lost and
			// let it go, and its etcd with it.
			name: "blind one-node retirement: the live node at the terminate hook is held, though no node is in service",
			obs: func() Observation {
				a := inst("i-a", "10.0.1.10", TerminatingWait)
				a.Healthy = false // a scheduled retirement marks the live node so
				return Observation{Now: t0, Instances: []Instance{a, inst("i-b", "10.0.2.10", PendingWait)}, MembersKnown: false,
					Suspects: map[uint64]time.Time{BlindSince: t0.Add(-time.Hour)}}
			},
			want:     "CONTINUE i-b; heartbeat i-a",
			wantWait: ReasonBlindTerminationHeld,
			suspects: []uint64{BlindSince},
			metrics:  &Metrics{HeldTerminations: 1},
		},
		{
			// Issue 27: a paused guard published metrics and nothing else:
			// a termination held for quorum went at the hook's timeout.
			name: "paused: a termination held for quorum is still held; nothing changes",
			obs: func() Observation {
				in, ms := three()
				in[1].State, ms[2].Healthy = TerminatingWait, false
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true}
			},
			paused:   true,
			want:     "heartbeat i-b",
			wantWait: ReasonPaused,
			metrics:  &Metrics{Known: true, VotingMembers: 3, HealthyMembers: 2, DegradedMembers: 1, HeldTerminations: 1},
		},
		{
			name: "paused: a termination that would leave is held too, one without a member and the launches are left to their defaults",
			obs: func() Observation {
				in, ms := three()
				in[0].State = TerminatingWait
				in = append(in, inst("i-x", "10.0.9.9", TerminatingWait), inst("i-d", "10.0.1.11", PendingWait))
				ms = append(ms, mem(4, "10.0.1.11", true))
				return Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Components: map[string]string{"10.0.1.11": ""}, Desired: 3}
			},
			paused:   true,
			want:     "heartbeat i-a",
			wantWait: ReasonPaused,
		},
		{
			name: "paused and blind: every termination held",
			obs: func() Observation {
				in, _ := three()
				in[0].State = TerminatingWait
				in = append(in, inst("i-d", "10.0.1.11", PendingWait))
				return Observation{Now: t0, Instances: in, MembersKnown: false}
			},
			paused:   true,
			want:     "heartbeat i-a",
			wantWait: ReasonPaused,
			suspects: []uint64{BlindSince},
			metrics:  &Metrics{HeldTerminations: 1},
		},
		{
			name: "one-node handover: the last voter but one waits for its replacement's control plane",
			obs: func() Observation {
				return Observation{Now: t0, Instances: []Instance{inst("i-a", "10.0.1.10", TerminatingWait), inst("i-b", "10.0.2.10", PendingWait)},
					Members: []Member{mem(1, "10.0.1.10", true), mem(2, "10.0.2.10", true)}, MembersKnown: true,
					Components: map[string]string{"10.0.2.10": "kube-apiserver: Ready is False"}}
			},
			want:     "heartbeat i-a; heartbeat i-b",
			wantWait: ReasonNoServingControlPlane,
			metrics:  &Metrics{Known: true, VotingMembers: 2, HealthyMembers: 2, HeldTerminations: 1},
		},
		{
			name: "one-node handover: with its replacement's control plane ready, the old node leaves first (snapshotted)",
			obs: func() Observation {
				return Observation{Now: t0, Instances: []Instance{inst("i-a", "10.0.1.10", TerminatingWait), inst("i-b", "10.0.2.10", PendingWait)},
					Members: []Member{mem(1, "10.0.1.10", true), mem(2, "10.0.2.10", true)}, MembersKnown: true,
					Components: map[string]string{"10.0.2.10": ""}}
			},
			want:     "leave 1 via 10.0.1.10; heartbeat i-b",
			snapshot: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pol := DefaultPolicy
			pol.Paused = c.paused
			p := Decide(c.obs(), pol)
			if got := summary(p); got != c.want {
				t.Errorf("plan = %q, want %q (waits: %q)", got, c.want, Waits(p.Waits))
			}
			if c.wantWait != "" && !HasReason(p.Waits, c.wantWait) {
				t.Errorf("waits %q lack the reason %s", Waits(p.Waits), c.wantWait)
			}
			if got := p.Change != nil && p.Change.SnapshotFirst; got != c.snapshot {
				t.Errorf("SnapshotFirst = %t, want %t", got, c.snapshot)
			}
			if p.Reobserve != c.reobserve {
				t.Errorf("Reobserve = %s, want %s", p.Reobserve, c.reobserve)
			}
			if c.metrics != nil && p.Metrics != *c.metrics {
				t.Errorf("metrics = %+v, want %+v", p.Metrics, *c.metrics)
			}
			var ids []uint64
			for id := range p.Suspects {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if len(ids) != len(c.suspects) || (len(ids) > 0 && !reflect.DeepEqual(ids, c.suspects)) {
				t.Errorf("suspects = %v, want %v", ids, c.suspects)
			}
		})
	}
}

// The window's start is the run's time when it removes a member for a
// missing instance, and is dropped once the window has passed.
func TestStaleRemovalWindow(t *testing.T) {
	in, ms := three()
	ms = append(ms, mem(4, "10.0.1.12", false))
	obs := Observation{Now: t0, Instances: in, Members: ms, MembersKnown: true, Suspects: map[uint64]time.Time{4: t0.Add(-time.Hour)}}
	p := Decide(obs, DefaultPolicy)
	if p.Change == nil || !p.Change.Stale || !p.Suspects[StaleRemovedAt].Equal(t0) {
		t.Fatalf("change %+v, suspects %v: want the removal, and the window started now", p.Change, p.Suspects)
	}
	obs.Members, obs.Suspects = ms[:3], map[uint64]time.Time{StaleRemovedAt: t0.Add(-2 * time.Minute)}
	if p := Decide(obs, DefaultPolicy); !p.Suspects[StaleRemovedAt].Equal(t0.Add(-2 * time.Minute)) {
		t.Fatalf("suspects %v: want the window kept while it runs", p.Suspects)
	}
	obs.Suspects = map[uint64]time.Time{StaleRemovedAt: t0.Add(-DefaultPolicy.StaleRemovalEvery)}
	if p := Decide(obs, DefaultPolicy); len(p.Suspects) != 0 {
		t.Fatalf("suspects %v: want the window dropped once it has passed", p.Suspects)
	}
}

func TestSuspectsRoundTrip(t *testing.T) {
	in := map[uint64]time.Time{0x8e9e05c52164694d: t0, 1: t0.Add(time.Minute)}
	s := FormatSuspects(in)
	if s != fmt.Sprintf("1@%d,8e9e05c52164694d@%d", t0.Add(time.Minute).Unix(), t0.Unix()) {
		t.Fatalf("FormatSuspects = %q", s)
	}
	out := ParseSuspects(s + ",garbage")
	if !reflect.DeepEqual(len(out), 2) || !out[1].Equal(in[1]) || !out[0x8e9e05c52164694d].Equal(t0) {
		t.Fatalf("ParseSuspects = %v", out)
	}
	if len(ParseSuspects("")) != 0 {
		t.Fatal("empty string must parse to no suspects")
	}
}
