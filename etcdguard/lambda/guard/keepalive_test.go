package guard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowMachine is a four-voter etcd whose leave takes a while, as Talos'
// does when it retries (up to five minutes).
type slowMachine struct {
	mu      sync.Mutex
	members []Member
	leave   time.Duration
	// notReady is, by address, why a node's control plane is not ready.
	notReady map[string]string
}

func (m *slowMachine) EtcdMemberList(context.Context, string) ([]Member, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Member(nil), m.members...), nil
}

func (m *slowMachine) EtcdStatus(_ context.Context, ip string) (Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.members {
		if x.IP() == ip {
			return Status{MemberID: x.ID, Leader: 1}, nil
		}
	}
	return Status{}, ErrMemberNotFound
}

func (m *slowMachine) EtcdForfeitLeadership(context.Context, string) (string, error) { return "", nil }

func (m *slowMachine) EtcdLeaveCluster(ctx context.Context, ip string) error {
	select {
	case <-time.After(m.leave):
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.members {
		if x.IP() == ip {
			m.members = append(m.members[:i], m.members[i+1:]...)
			return nil
		}
	}
	return ErrMemberNotFound
}

func (m *slowMachine) EtcdRemoveMemberByID(context.Context, string, uint64) error { return nil }

func (m *slowMachine) ControlPlaneStatus(_ context.Context, ip string) (string, error) {
	return m.notReady[ip], nil
}

// beatASG has three nodes in service, one terminating and one launching;
// it counts heartbeats by instance.
type beatASG struct {
	mu    sync.Mutex
	ins   []Instance
	beats map[string]int
	done  map[string]string
}

func (a *beatASG) Instances(context.Context) ([]Instance, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Instance
	for _, in := range a.ins {
		if _, ok := a.done[in.ID]; !ok {
			out = append(out, in)
		}
	}
	return out, nil
}

func (a *beatASG) CompleteLifecycleAction(_ context.Context, in Instance, result string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done[in.ID] = result
	return nil
}

func (a *beatASG) RecordHeartbeat(_ context.Context, in Instance) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.beats[in.ID]++
	return nil
}

type memStore struct{}

func (memStore) Load(context.Context) (map[uint64]time.Time, error) {
	return map[uint64]time.Time{}, nil
}
func (memStore) Save(context.Context, map[uint64]time.Time) error { return nil }

// fourOneLeaving is four healthy voters in service but the fourth, which
// is terminating; its leave takes leave.
func fourOneLeaving(leave time.Duration) (*slowMachine, *beatASG) {
	m := &slowMachine{leave: leave}
	a := &beatASG{beats: map[string]int{}, done: map[string]string{}}
	for i := 1; i <= 4; i++ {
		ip := fmt.Sprintf("10.0.0.%d", i)
		m.members = append(m.members, Member{ID: uint64(i), Name: "n" + ip, PeerURLs: []string{"https://" + ip + ":2380"}})
		st := InService
		if i == 4 {
			st = TerminatingWait
		}
		a.ins = append(a.ins, Instance{ID: fmt.Sprintf("i-%d", i), PrivateIP: ip, State: st, Healthy: true})
	}
	return m, a
}

// A leave that outlasts a heartbeat interval keeps every waiting hook held
// (the leaving node's own and the launching node's), beating at the
// interval while it runs; nothing is completed by a default meanwhile.
// The launching node is a voter whose control plane is not ready yet (a
// replacement that is not yet a voter would hold the leave back).
func TestLongLeaveKeepsTheHooksHeld(t *testing.T) {
	m, a := fourOneLeaving(450 * time.Millisecond)
	a.ins = append(a.ins, Instance{ID: "i-new", PrivateIP: "10.0.0.9", State: PendingWait, Healthy: true})
	m.members = append(m.members, Member{ID: 9, Name: "new", PeerURLs: []string{"https://10.0.0.9:2380"}})
	m.notReady = map[string]string{"10.0.0.9": "kube-apiserver: Ready is False"}
	r := &Reconciler{Machine: m, ASG: a, Store: memStore{}, Policy: DefaultPolicy, Logf: t.Logf,
		CallTimeout: time.Second, SettleTimeout: 5 * time.Second, SettleEvery: 10 * time.Millisecond, HeartbeatEvery: 100 * time.Millisecond}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].Kind != Leave || rep.Changes[0].Node != "10.0.0.4" {
		t.Fatalf("changes %+v, want the terminating node's leave", rep.Changes)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// 450 ms of leave at 100 ms: at least 3 beats each, during the change.
	for _, id := range []string{"i-4", "i-new"} {
		if a.beats[id] < 3 {
			t.Errorf("%s: %d heartbeats during a 450 ms leave at 100 ms", id, a.beats[id])
		}
	}
	if a.done["i-4"] != Continue {
		t.Errorf("the left node's hook: %q, want CONTINUE after its leave", a.done["i-4"])
	}
	if r, ok := a.done["i-new"]; ok {
		t.Errorf("the launching node (its control plane not ready) was completed %s", r)
	}
}

// Members at addresses no instance has are removed at most one a window
// (issue 27: one a run, and lifecycle events start runs seconds apart):
// three dead members with a launch waiting (the review's probe: a wrong
// address removed two, then stopped at the last voter) lose one member
// this run, none on a run ten seconds later, the next after the window.
func TestStaleRemovalsCappedPerWindow(t *testing.T) {
	m := &slowMachine{}
	a := &beatASG{beats: map[string]int{}, done: map[string]string{}}
	for i := 1; i <= 5; i++ {
		ip := fmt.Sprintf("10.0.0.%d", i)
		m.members = append(m.members, Member{ID: uint64(i), Name: "n" + ip, PeerURLs: []string{"https://" + ip + ":2380"}})
		if i <= 3 {
			a.ins = append(a.ins, Instance{ID: fmt.Sprintf("i-%d", i), PrivateIP: ip, State: InService, Healthy: true})
		}
	}
	a.ins = append(a.ins, Instance{ID: "i-new", PrivateIP: "10.0.0.9", State: PendingWait, Healthy: true})
	dead := &deadAt{slowMachine: m, dead: map[string]bool{"10.0.0.4": true, "10.0.0.5": true}}
	now := t0
	store := &mapStore{}
	r := &Reconciler{Machine: dead, ASG: a, Store: store, Policy: DefaultPolicy, Logf: t.Logf, Now: func() time.Time { return now },
		CallTimeout: time.Second, SettleTimeout: time.Second, SettleEvery: 10 * time.Millisecond}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || !rep.Changes[0].Stale || !HasReason(rep.Waits, ReasonStaleRemovalCap) {
		t.Fatalf("changes %+v, waits %q; want one removal of a member without instance, the other capped", rep.Changes, Waits(rep.Waits))
	}
	now = now.Add(10 * time.Second) // the next lifecycle event
	if rep, err = r.Run(context.Background()); err != nil || len(rep.Changes) != 0 || !HasReason(rep.Waits, ReasonStaleRemovalCap) {
		t.Fatalf("a run 10 s later: %+v, %v; want no removal", rep.Changes, err)
	}
	now = now.Add(DefaultPolicy.StaleRemovalEvery)
	if rep, err = r.Run(context.Background()); err != nil || len(rep.Changes) != 1 {
		t.Fatalf("a run after the window: %+v, %v; want the second removal", rep.Changes, err)
	}

	// A window that cannot be saved is not opened: no removal.
	m.members = append(m.members, Member{ID: 6, Name: "n6", PeerURLs: []string{"https://10.0.0.6:2380"}})
	dead.dead["10.0.0.6"] = true
	now = now.Add(time.Hour)
	store.failSave = true
	if rep, err = r.Run(context.Background()); err == nil || len(rep.Changes) != 0 || !HasReason(rep.Waits, ReasonStaleRemovalCap) {
		t.Fatalf("with the window unsaved: %+v, %v; want no removal and the save failure", rep.Changes, err)
	}
}

// mapStore keeps the suspects in memory, as the SSM parameter does.
type mapStore struct {
	m        map[uint64]time.Time
	failSave bool
}

func (s *mapStore) Load(context.Context) (map[uint64]time.Time, error) {
	return ParseSuspects(FormatSuspects(s.m)), nil
}

func (s *mapStore) Save(_ context.Context, m map[uint64]time.Time) error {
	if s.failSave {
		return errors.New("ThrottlingException: ssm:PutParameter")
	}
	s.m = m
	return nil
}

// deadAt is slowMachine whose members at dead addresses do not answer, and
// which removes members by ID.
type deadAt struct {
	*slowMachine
	dead map[string]bool
}

func (d *deadAt) EtcdStatus(ctx context.Context, ip string) (Status, error) {
	if d.dead[ip] {
		return Status{}, context.DeadlineExceeded
	}
	return d.slowMachine.EtcdStatus(ctx, ip)
}

func (d *deadAt) EtcdRemoveMemberByID(_ context.Context, _ string, id uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, x := range d.members {
		if x.ID == id {
			d.members = append(d.members[:i], d.members[i+1:]...)
			return nil
		}
	}
	return ErrMemberNotFound
}

// brokenStore cannot read the suspects (an SSM outage, a missing grant)
// and records whether anything was written back.
type brokenStore struct{ saved bool }

func (*brokenStore) Load(context.Context) (map[uint64]time.Time, error) {
	return nil, errors.New("AccessDeniedException: ssm:GetParameter")
}
func (s *brokenStore) Save(context.Context, map[uint64]time.Time) error { s.saved = true; return nil }

// An unreadable suspects parameter does not drop the hooks: the run still
// lets a terminating node leave and completes it, fails loudly (the errors
// alarm counts it), and leaves the stored suspects as they are.
func TestSuspectsUnreadableHooksStillHandled(t *testing.T) {
	m, a := fourOneLeaving(0)
	store := &brokenStore{}
	r := &Reconciler{Machine: m, ASG: a, Store: store, Policy: DefaultPolicy, Logf: t.Logf,
		CallTimeout: time.Second, SettleTimeout: 5 * time.Second, SettleEvery: 10 * time.Millisecond}
	rep, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "suspects") {
		t.Fatalf("err = %v, want the suspects failure reported", err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].Kind != Leave || a.done["i-4"] != Continue {
		t.Fatalf("changes %+v, completions %v: want the leave and its CONTINUE", rep.Changes, a.done)
	}
	if store.saved {
		t.Error("suspects written back after they could not be read")
	}
}

// A one-node handover whose snapshot keeps failing: each run fails fast,
// before any interval tick, yet extends both hooks, so the old voter's
// hook never reaches its default while the snapshot is refused.
func TestFailedSnapshotStillHoldsTheHooks(t *testing.T) {
	m := &slowMachine{members: []Member{
		{ID: 1, Name: "old", PeerURLs: []string{"https://10.0.0.1:2380"}}, {ID: 2, Name: "new", PeerURLs: []string{"https://10.0.0.2:2380"}},
	}}
	a := &beatASG{beats: map[string]int{}, done: map[string]string{}, ins: []Instance{
		{ID: "i-old", PrivateIP: "10.0.0.1", State: TerminatingWait, Healthy: false},
		{ID: "i-new", PrivateIP: "10.0.0.2", State: InService, Healthy: true},
	}}
	r := &Reconciler{Machine: m, ASG: a, Store: memStore{}, Policy: DefaultPolicy, Logf: t.Logf, CallTimeout: time.Second,
		HeartbeatEvery: time.Hour, Snapshot: func(context.Context) error { return errors.New("etcd snapshot refused: no healthy voting member") }}
	for run := 1; run <= 3; run++ {
		rep, err := r.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "snapshot before leave") || len(rep.Changes) != 0 {
			t.Fatalf("run %d: %+v, %v; want the snapshot failure and no leave", run, rep, err)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.beats["i-old"] != 3 || len(a.done) != 0 {
		t.Errorf("old node: %d heartbeats in 3 failing runs, completions %v; want one a run and none", a.beats["i-old"], a.done)
	}
}

// slowStatus is slowMachine whose EtcdStatus answers after the call's
// deadline: a loaded node, or a disk that stalls fsync.
type slowStatus struct{ *slowMachine }

func (s slowStatus) EtcdStatus(ctx context.Context, _ string) (Status, error) {
	<-ctx.Done()
	return Status{}, ctx.Err()
}

// Issue 27: the only voter answers its status too slowly, so it counts as
// unhealthy; retired, it was left to its hook's default, which deletes
// the only copy. It is held and counted now.
func TestSlowLastVoterHeld(t *testing.T) {
	m := &slowMachine{members: []Member{{ID: 1, Name: "only", PeerURLs: []string{"https://10.0.0.1:2380"}}}}
	a := &beatASG{beats: map[string]int{}, done: map[string]string{}, ins: []Instance{
		{ID: "i-only", PrivateIP: "10.0.0.1", State: TerminatingWait, Healthy: false},
		{ID: "i-new", PrivateIP: "10.0.0.2", State: PendingWait, Healthy: true},
	}}
	r := &Reconciler{Machine: slowStatus{m}, ASG: a, Store: memStore{}, Policy: DefaultPolicy, Logf: t.Logf, CallTimeout: 50 * time.Millisecond}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Metrics.HealthyMembers != 0 || rep.Metrics.HeldTerminations != 1 || !HasReason(rep.Waits, ReasonLastVoter) {
		t.Fatalf("metrics %+v, waits %q: want the slow last voter unhealthy, and held", rep.Metrics, Waits(rep.Waits))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.beats["i-only"] != 1 || len(a.done) != 0 {
		t.Errorf("the last voter: %d heartbeats, completions %v; want one heartbeat, nothing completed", a.beats["i-only"], a.done)
	}
}

// Issue 27: a paused guard observed and published, and sent no heartbeat:
// a termination the guard held (or whose node it would have made leave)
// went at its hook's timeout, with its voter. Paused, a run now changes
// and completes nothing, and holds it.
func TestPausedRunHoldsTerminations(t *testing.T) {
	m, a := fourOneLeaving(0)
	a.ins = append(a.ins, Instance{ID: "i-x", PrivateIP: "10.0.0.99", State: TerminatingWait, Healthy: true})
	pol := DefaultPolicy
	pol.Paused = true
	r := &Reconciler{Machine: m, ASG: a, Store: memStore{}, Policy: pol, Logf: t.Logf, CallTimeout: time.Second}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 0 || len(rep.Completions) != 0 || !HasReason(rep.Waits, ReasonPaused) || rep.Metrics.HeldTerminations != 1 {
		t.Fatalf("paused run: %+v; want nothing changed or completed, the leaving node held", rep)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.beats["i-4"] != 1 || a.beats["i-x"] != 0 || len(a.done) != 0 {
		t.Errorf("heartbeats %v, completions %v; want the member's termination held, the memberless one left to its default", a.beats, a.done)
	}
}
