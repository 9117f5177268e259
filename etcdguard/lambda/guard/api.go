package guard

import (
	"context"
	"errors"
	"time"
)

// MachineAPI is the part of the Talos machine API the guard calls. Every
// call names the node (its private address) the request is for, as
// `talosctl -n <node>` does. RBAC (talos v1.12.0,
// internal/app/machined/pkg/system/services/machined.go): EtcdMemberList and
// EtcdStatus are open to os:reader; EtcdForfeitLeadership, EtcdLeaveCluster
// and EtcdRemoveMemberByID need os:admin, so the guard holds an admin
// client certificate.
type MachineAPI interface {
	// EtcdMemberList lists the members as the node's etcd client sees them
	// (Talos asks every control-plane address, with WithRequireLeader: a
	// node answers only while the cluster has a leader).
	EtcdMemberList(ctx context.Context, node string) ([]Member, error)
	// EtcdStatus is the node's local etcd status.
	EtcdStatus(ctx context.Context, node string) (Status, error)
	// EtcdForfeitLeadership moves leadership away from the node's member if
	// it leads; it returns the new leader's name, or "".
	EtcdForfeitLeadership(ctx context.Context, node string) (string, error)
	// EtcdLeaveCluster removes the node's own member and wipes its data.
	EtcdLeaveCluster(ctx context.Context, node string) error
	// EtcdRemoveMemberByID removes a member through the node's etcd client;
	// ErrMemberNotFound when it is already gone.
	EtcdRemoveMemberByID(ctx context.Context, node string, id uint64) error
	// ControlPlaneStatus says why the node's kube-apiserver,
	// kube-controller-manager or kube-scheduler is not ready, or "" when
	// all three are (Cluster API's preflight checks the same three).
	ControlPlaneStatus(ctx context.Context, node string) (string, error)
}

// ErrMemberNotFound is returned by EtcdRemoveMemberByID for a member that
// is no longer there (Talos maps etcd's ErrMemberNotFound to NotFound).
var ErrMemberNotFound = errors.New("etcd member not found")

// Status is a node's local etcd status.
type Status struct {
	MemberID uint64
	Leader   uint64
	Learner  bool
	Errors   []string
	// RaftTerm, RaftIndex (committed) and RaftAppliedIndex place the
	// member against the others: a snapshot comes from a current one.
	RaftTerm, RaftIndex, RaftAppliedIndex uint64
}

// healthyAs reports whether st, read from m's node, shows m healthy: the
// node answered as that member, knows a leader and reports no error.
func (st Status) healthyAs(m Member) bool {
	return st.MemberID == m.ID && st.Leader != 0 && len(st.Errors) == 0
}

// callTimeout is d, or 10 s when unset: the bound on each Talos call.
func callTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return 10 * time.Second
	}
	return d
}

// readMembers asks nodes, in order, for the member list (the first answer
// wins), then asks each member's node for which statusOf is true (nil:
// every member) for its EtcdStatus; every call is bounded by d. known is
// false when no node answered; lastErr is then the last failure.
func readMembers(ctx context.Context, m MachineAPI, nodes []string, statusOf func(ip string) bool, d time.Duration) (members []Member, status map[string]Status, known bool, lastErr error) {
	for _, n := range nodes {
		cctx, cancel := context.WithTimeout(ctx, d)
		ms, err := m.EtcdMemberList(cctx, n)
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		members, known = ms, true
		break
	}
	status = map[string]Status{}
	for _, mem := range members {
		ip := mem.IP()
		if ip == "" || (statusOf != nil && !statusOf(ip)) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, d)
		st, err := m.EtcdStatus(cctx, ip)
		cancel()
		if err == nil {
			status[ip] = st
		}
	}
	return members, status, known, lastErr
}

// ErrNoGroup is returned by ASGAPI.Instances while the control-plane group
// does not exist (the first `pulumi up` snapshots before creating it).
var ErrNoGroup = errors.New("control-plane auto scaling group not found")

// ErrAddresses is returned (wrapped) by ASGAPI.Instances with the group's
// instances when their private addresses could not be read (EC2
// DescribeInstances failed): the instances come without addresses, so a
// run can still hold their hooks.
var ErrAddresses = errors.New("instance addresses unknown")

// ASGAPI is the part of the Auto Scaling API the guard calls, scoped to the
// control-plane group.
type ASGAPI interface {
	// Instances lists the group's instances with their private addresses;
	// ErrNoGroup (wrapped) when the group does not exist; the instances
	// without addresses and ErrAddresses (wrapped) when only the addresses
	// could not be read.
	Instances(ctx context.Context) ([]Instance, error)
	// CompleteLifecycleAction completes the pending launch or terminate
	// action of the instance (the hook follows from its state).
	CompleteLifecycleAction(ctx context.Context, in Instance, result string) error
	// RecordHeartbeat extends the pending action's timeout.
	RecordHeartbeat(ctx context.Context, in Instance) error
}

// CapacityAPI is the part of the Auto Scaling API that brings the group
// back to its desired size: an ASGAPI that implements it lets the guard
// scale in one node at a time (Decide: Unprotect, Protect).
type CapacityAPI interface {
	// Capacity is the group's desired capacity and whether an instance
	// refresh is pending or in progress.
	Capacity(ctx context.Context) (desired int, refreshing bool, err error)
	// SetProtection sets an instance's scale-in protection.
	SetProtection(ctx context.Context, in Instance, protected bool) error
}

// SuspectStore keeps the previous audit's suspects between runs.
type SuspectStore interface {
	Load(ctx context.Context) (map[uint64]time.Time, error)
	Save(ctx context.Context, suspects map[uint64]time.Time) error
}

// MetricsSink publishes a run's metrics.
type MetricsSink interface {
	Publish(ctx context.Context, m Metrics) error
}
