// Package guard owns the etcd membership of the control-plane Auto Scaling
// Group. Talos leaves etcd only through `reset --graceful`, EtcdLeaveCluster
// or EtcdRemoveMemberByID; an EC2 termination reaches Talos as an ACPI power
// event and shuts down with no leave step, and a replacement evicts only a
// member with its own hostname (talos v1.12.0,
// internal/app/machined/pkg/system/services/etcd.go: addMember). Every AWS
// replacement therefore leaves a stale voting member behind unless something
// removes it: this package is that something.
//
// The design is a stateless reconciler, as Cluster API's KubeadmControlPlane,
// the Talos control-plane provider and Omni do it: every trigger (a lifecycle
// hook, a schedule) observes the ASG's instances and the etcd member list,
// Decide computes at most one membership change plus the lifecycle actions
// that are safe, and the executor applies them. The only state kept between
// runs is the set of members a previous audit found without an instance.
package guard

import (
	"net"
	"net/url"
	"time"
)

// Lifecycle is an Auto Scaling instance lifecycle state, as
// DescribeAutoScalingGroups reports it.
type Lifecycle string

// The lifecycle states the guard reasons about (AWS Auto Scaling API,
// LifecycleState enum).
const (
	Pending            Lifecycle = "Pending"
	PendingWait        Lifecycle = "Pending:Wait"
	PendingProceed     Lifecycle = "Pending:Proceed"
	InService          Lifecycle = "InService"
	Terminating        Lifecycle = "Terminating"
	TerminatingWait    Lifecycle = "Terminating:Wait"
	TerminatingProceed Lifecycle = "Terminating:Proceed"
	Terminated         Lifecycle = "Terminated"
	Standby            Lifecycle = "Standby"
)

// Lifecycle action results.
const (
	Continue = "CONTINUE"
	Abandon  = "ABANDON"
)

// Instance is one instance of the control-plane ASG.
type Instance struct {
	ID        string
	PrivateIP string
	State     Lifecycle
	// Healthy is the ASG's health status ("Healthy"/"Unhealthy").
	Healthy bool
	// AZ is the instance's Availability Zone; Protected its scale-in
	// protection (the group protects every node; the guard lifts it from
	// the one node a scale-in may take).
	AZ        string
	Protected bool
}

// live reports whether the instance still backs an etcd member: an
// instance past its terminate hook (or gone) does not.
func (i Instance) live() bool {
	switch i.State {
	case TerminatingProceed, Terminated:
		return false
	}
	return true
}

// Member is one etcd member as Talos' EtcdMemberList reports it, plus the
// guard's health probe.
type Member struct {
	ID       uint64
	Name     string
	PeerURLs []string
	Learner  bool
	// Healthy: the member's node answered EtcdStatus with a known leader
	// and no errors.
	Healthy bool
}

// IP is the host of the member's first parseable peer URL. Talos names a
// member after the node's hostname but advertises its address in the peer
// URLs (https://10.0.1.23:2380), and the address is what the ASG knows.
func (m Member) IP() string {
	for _, raw := range m.PeerURLs {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); ip != nil {
			return ip.String()
		}
	}
	return ""
}

// Observation is everything one run sees.
type Observation struct {
	Now       time.Time
	Instances []Instance
	// Members is the etcd member list; MembersKnown is false when no
	// control-plane node answered EtcdMemberList.
	Members      []Member
	MembersKnown bool
	// Suspects are the members a previous run found without an instance,
	// with the time they were first seen so. SuspectsUnknown: they could
	// not be read (Suspects is empty, and is not saved back).
	Suspects        map[uint64]time.Time
	SuspectsUnknown bool
	// Desired is the group's desired capacity (0: unknown). Refreshing: an
	// instance refresh is pending or in progress.
	Desired    int
	Refreshing bool
	// Incomplete is what could not be read though the run goes on (the
	// instances' addresses): the run acts on the rest and fails at the
	// end, so the errors alarm counts it.
	Incomplete error
	// Components is, for each launching node that is a voter, why its
	// Kubernetes control plane (kube-apiserver, kube-controller-manager,
	// kube-scheduler) is not ready, or "" when it is. A node missing from
	// it was not checked.
	Components map[string]string
}

// Policy tunes Decide.
type Policy struct {
	// MinSuspectAge is how long a member must have been seen without an
	// instance, on two runs, before the audit removes it (Omni's
	// memberRemoveTimeout: one minute).
	MinSuspectAge time.Duration
	// StaleRemovalEvery caps removals for a missing instance at one per
	// window (the audit's rate): runs start on every lifecycle event,
	// seconds apart, so a per-run cap let a wrong address or a partial
	// instance list cascade.
	StaleRemovalEvery time.Duration
	// Paused (GUARD_PAUSED): an operator acts by hand. The guard changes
	// no member, completes no lifecycle action and moves no scale-in
	// protection; it still holds every termination that may hold a
	// member (issue 27: one held for quorum went at its hook's timeout),
	// and leaves launches to their default, CONTINUE.
	Paused bool
}

// DefaultPolicy is the policy the Lambda runs with.
var DefaultPolicy = Policy{MinSuspectAge: time.Minute, StaleRemovalEvery: 5 * time.Minute}

// ChangeKind is a membership change.
type ChangeKind string

// The membership changes.
const (
	// Leave: EtcdForfeitLeadership then EtcdLeaveCluster on the member's own
	// node (Talos removes itself and wipes its data directory).
	Leave ChangeKind = "leave"
	// Remove: EtcdRemoveMemberByID through a healthy peer, for a member
	// whose node cannot leave by itself.
	Remove ChangeKind = "remove"
)

// Change is one membership change.
type Change struct {
	Kind     ChangeKind
	MemberID uint64
	Member   string // name, for logs
	// Node is the node the call goes to: the leaving node for Leave, a
	// healthy peer for Remove.
	Node   string
	Reason string
	// Stale: the member is removed because no instance has its address.
	// At most one such removal per Policy.StaleRemovalEvery.
	Stale bool
	// SnapshotFirst: the change hands a one-node control plane over to its
	// replacement; with backups on, a snapshot is taken first and the
	// change waits for it (Reconciler.Snapshot).
	SnapshotFirst bool
}

// Completion completes one lifecycle action.
type Completion struct {
	Instance Instance
	Result   string
	Reason   string
}

// Metrics are published to CloudWatch after every run.
type Metrics struct {
	// Known is false when no member list could be read: then only
	// HealthyMembers (0) is meaningful.
	Known          bool
	VotingMembers  int
	HealthyMembers int
	LearnerMembers int
	StaleMembers   int
	// DegradedMembers counts voting members that are unhealthy or stale,
	// once each: the alarm's metric.
	DegradedMembers int
	// HeldTerminations counts terminations the guard holds because letting
	// them go would cost quorum or the last voter: their hooks run out
	// after a day (HeartbeatTimeout x 100), so someone must be paged.
	HeldTerminations int
}

// Plan is Decide's answer.
type Plan struct {
	// Change is at most one membership change: never two at once.
	Change *Change
	// Complete are lifecycle actions that are safe to complete now.
	Complete []Completion
	// Heartbeat are instances whose hooks wait on the guard; their
	// heartbeat timeout is extended.
	Heartbeat []Instance
	// Waits say why something is not done yet.
	Waits []Wait
	// Preflight are the global checks, made before any per-node choice.
	Preflight Preflight
	// Suspects replace the stored suspects.
	Suspects map[uint64]time.Time
	Metrics  Metrics
	// Unprotect is the one node a scale-in may take: the group has more
	// nodes in service than it desires (controlPlane.count lowered, or an
	// Availability Zone rebalance launched one). Its termination then goes
	// through the terminate hook like any other. Protect are nodes whose
	// protection comes back (nothing is in excess any more).
	Unprotect *Instance
	Protect   []Instance
	// Reobserve asks the run to observe again after this long before it
	// ends: a blind run with no node in service or standby whose first
	// sighting cannot be stored (the suspects are unreadable) confirms the
	// loss within itself, or no run ever could.
	Reobserve time.Duration
}

// Preflight holds the global checks Decide makes before any per-node
// choice, as Cluster API's PreflightCheckResults: each set field holds
// something back wherever it matters, so no step checks it again its own
// way.
type Preflight struct {
	// Blind: no member list; only the blind rules apply.
	Blind bool
	// Lost: blind, no node in service or standby, on two runs at least
	// MinSuspectAge apart: there is no cluster to join, so launches go in
	// service for a restore (terminations are held all the same).
	Lost bool
	// LaunchWaiting: a node waits at the launch hook; a member without an
	// instance goes at once, as the join needs it gone.
	LaunchWaiting bool
	// LearnerPromoting: a learner is being promoted; no healthy voter
	// leaves.
	LearnerPromoting bool
	// ReplacementJoining: a launching node the group holds healthy is not
	// yet a healthy voter; no healthy voter leaves (Cluster API: one
	// change, then wait for the replacement to be a healthy voter).
	ReplacementJoining bool
	// StaleRemovalCapped: a member without an instance was removed less
	// than StaleRemovalEvery ago, or the window is unknown (the suspects
	// could not be read): no other such removal now.
	StaleRemovalCapped bool
	// AddressUnknown: a live instance's address is unknown: its hook is
	// held unless every member is at another instance's address, and no
	// member is removed for having no instance (it may be that one's).
	AddressUnknown bool
	// EtcdNotSettled: a voter is unhealthy, a member stale or a learner
	// present: no launch goes in service and no node is scaled in.
	EtcdNotSettled bool
}

// Quorum is the number of voting members etcd needs to make progress.
func Quorum(voting int) int { return voting/2 + 1 }
