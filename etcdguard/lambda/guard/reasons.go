package guard

import (
	"fmt"
	"strings"
)

// WaitReason says why a run leaves something undone, as a constant that
// tests, logs and alarms can match (Cluster API's …Reason constants). The
// Wait that carries it names the instance and member, and the figures.
type WaitReason string

// Why a member may not go now.
const (
	// ReasonLastVoter: the member is the last voter; removing it ends the
	// cluster (restore from a backup instead). Its termination is held.
	ReasonLastVoter WaitReason = "LastVoter"
	// ReasonQuorumAfterRemoval: after the removal, fewer voters would be
	// healthy than the rest need for quorum.
	ReasonQuorumAfterRemoval WaitReason = "QuorumAfterRemoval"
	// ReasonLearnerPromoting: a healthy voter does not go while a learner
	// is being promoted (Cluster API: no member out while the cluster is
	// between two configurations); a dead one still does.
	ReasonLearnerPromoting WaitReason = "LearnerPromoting"
	// ReasonNoHealthyPeer: no healthy voter can remove the member by ID.
	ReasonNoHealthyPeer WaitReason = "NoHealthyPeer"
	// ReasonNoServingControlPlane: a healthy voter's node does not leave
	// until another voter's node serves a ready control plane.
	ReasonNoServingControlPlane WaitReason = "NoServingControlPlane"
	// ReasonReplacementJoining: a healthy voter does not leave while a
	// launching node is not yet a healthy voter (Cluster API: one change,
	// then wait for the replacement); its leave would spend the fault
	// tolerance the join needs.
	ReasonReplacementJoining WaitReason = "ReplacementJoining"
	// ReasonAddressUnknown: a live instance's address is unknown, so the
	// members it may hold are unknown: its hook is held, and no member is
	// removed for having no instance.
	ReasonAddressUnknown WaitReason = "AddressUnknown"
	// ReasonOneChangeAtATime: another membership change goes first; this
	// waits for the next observation.
	ReasonOneChangeAtATime WaitReason = "OneChangeAtATime"
)

// Members without an instance (stale).
const (
	// ReasonStaleSuspect: seen without an instance once, or too recently:
	// removed when a later run still sees it so.
	ReasonStaleSuspect WaitReason = "StaleSuspect"
	// ReasonStaleAnswersHealthy: a voter answers as healthy at an address
	// no instance of the group has shown: a wrong address or a partial
	// instance list, never removed for it.
	ReasonStaleAnswersHealthy WaitReason = "StaleAnswersHealthy"
	// ReasonStaleRemovalCap: a member without an instance was removed
	// less than StaleRemovalEvery (5 minutes) ago, or that removal's time
	// could not be saved:
	// a wrong address or a partial instance list must not cascade through
	// the members, however close together the runs are.
	ReasonStaleRemovalCap WaitReason = "StaleRemovalCap"
	// ReasonSuspectsUnknown: the suspects parameter could not be read, so
	// neither the sightings nor the removal window are known: no member
	// is removed for having no instance.
	ReasonSuspectsUnknown WaitReason = "SuspectsUnknown"
)

// Launches.
const (
	// ReasonNotJoined: the launching node has no member yet.
	ReasonNotJoined WaitReason = "NotJoined"
	// ReasonLearnerNotPromoted: the launching node is a learner.
	ReasonLearnerNotPromoted WaitReason = "LearnerNotPromoted"
	// ReasonVoterNotHealthy: the launching node votes but is not healthy.
	ReasonVoterNotHealthy WaitReason = "VoterNotHealthy"
	// ReasonEtcdNotSettled: a voter is unhealthy, a member stale, or a
	// learner present: no launch goes in service, no node is scaled in.
	ReasonEtcdNotSettled WaitReason = "EtcdNotSettled"
	// ReasonControlPlaneNotChecked: the node's Kubernetes control plane
	// was not checked (its voter was not healthy when the run looked).
	ReasonControlPlaneNotChecked WaitReason = "ControlPlaneNotChecked"
	// ReasonControlPlaneNotReady: the node's kube-apiserver,
	// kube-controller-manager or kube-scheduler is not ready; the wait
	// says which, and why.
	ReasonControlPlaneNotReady WaitReason = "ControlPlaneNotReady"
)

// A blind guard (no member list).
const (
	// ReasonBlind: no control-plane node answered EtcdMemberList.
	ReasonBlind WaitReason = "Blind"
	// ReasonBlindLaunchHeld: a launch is held; the node may have joined
	// etcd by itself.
	ReasonBlindLaunchHeld WaitReason = "BlindLaunchHeld"
	// ReasonBlindTerminationHeld: a termination is held, in any state of
	// the rest of the group; its node may hold a voter, or the only copy
	// of etcd.
	ReasonBlindTerminationHeld WaitReason = "BlindTerminationHeld"
	// ReasonBlindUnconfirmed: no node in service or standby and none
	// answers, seen once: launches go in service for a restore if a
	// later run sees the same (or, when that sighting cannot be stored,
	// the same run a minute later).
	ReasonBlindUnconfirmed WaitReason = "BlindUnconfirmed"
)

// Group size.
const (
	// ReasonScaleInPending: a node already lost its scale-in protection;
	// the group takes it next.
	ReasonScaleInPending WaitReason = "ScaleInPending"
	// ReasonScaleInAllowed: the node named may now be scaled in.
	ReasonScaleInAllowed WaitReason = "ScaleInAllowed"
	// ReasonNodeAtHook: a scale-in waits while a node is at a hook or
	// otherwise not in service.
	ReasonNodeAtHook WaitReason = "NodeAtHook"
	// ReasonRefreshing: a scale-in waits for the instance refresh.
	ReasonRefreshing WaitReason = "Refreshing"
)

// An operator at work.
const (
	// ReasonPaused: the guard is paused (GUARD_PAUSED): it changes no
	// member and completes no hook, and holds every termination that may
	// hold a member, so none goes by its hook's default meanwhile.
	ReasonPaused WaitReason = "Paused"
)

// Wait is one thing a run leaves undone, and why.
type Wait struct {
	Reason WaitReason
	// Instance and Member name what it concerns ("" when nothing).
	Instance string
	Member   string
	// Detail is the figures and names for people.
	Detail string
}

func (w Wait) String() string {
	var b strings.Builder
	if w.Instance != "" {
		b.WriteString(w.Instance + ": ")
	}
	if w.Member != "" {
		b.WriteString("member " + w.Member + ": ")
	}
	b.WriteString(string(w.Reason))
	if w.Detail != "" {
		b.WriteString(": " + w.Detail)
	}
	return b.String()
}

// Waits renders ws for logs and the invocation's result.
func Waits(ws []Wait) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// HasReason reports whether a wait in ws has reason r.
func HasReason(ws []Wait, r WaitReason) bool {
	for _, w := range ws {
		if w.Reason == r {
			return true
		}
	}
	return false
}

func memberName(m Member) string { return fmt.Sprintf("%s (%x)", m.Name, m.ID) }
