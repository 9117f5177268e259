package guard

// Scenario tests: the reconciler against a fake Talos machine API backed by
// real etcd (go.etcd.io/etcd/server/v3 v3.6.7, the etcd Talos v1.12.0 runs:
// pkg/machinery/constants DefaultEtcdVersion), several members on loopback
// addresses 127.0.S.N, and a fake Auto Scaling Group that behaves as AWS does
// for hooks: an instance waits in Pending:Wait / Terminating:Wait until its
// lifecycle action completes. The fake Talos node joins as Talos v1.12.0 does
// (services/etcd.go addMember: evict the same hostname, MemberAddAsLearner,
// then promote), leaves as EtcdLeaveCluster does (remove self, stop, wipe)
// and forfeits as EtcdForfeitLeadership does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver"
	"go.uber.org/zap"
)

type node struct {
	ip, name           string
	peerURL, clientURL string
	dir                string
	etcd               *embed.Etcd
	reachable          bool // apid and etcd reachable (false: dead or partitioned)
	learnerID          uint64
	// controlPlane is why the node's Kubernetes control plane is not
	// ready ("" ready): a broken upgrade sets it.
	controlPlane string
	// quota is etcd's --quota-backend-bytes (0: etcd's default).
	quota int64
}

type instance struct {
	Instance
	node *node
	// beat is when the instance's lifecycle action began or was last
	// extended: a hook left alone for hookTimeout takes its default.
	beat time.Time
}

// hookTimeout is the hooks' heartbeat timeout (etcdguard
// LaunchHookTimeout and TerminateHookTimeout, 900 s); both defaults are
// CONTINUE.
const hookTimeout = 15 * time.Minute

type cluster struct {
	t       *testing.T
	name    string
	subnet  int
	nodes   map[string]*node
	inst    map[string]*instance
	nextIP  int
	nextID  int
	now     time.Time
	store   map[uint64]time.Time
	metrics Metrics
	// published is every Publish, in order.
	published []Metrics
	rec       *Reconciler
	// mutations records the voting member count seen just before each
	// membership change the guard made, and the count right after.
	mutations []string
	// goneAt counts audits since a member's instance disappeared.
	staleAudits map[uint64]int
	// table collects "step | membership" rows for the report.
	table  []string
	audits int
	// desired is the group's desired capacity (0: unknown, the guard then
	// scales nothing); refreshing marks an instance refresh. blind makes
	// every Talos call fail (an expired certificate, a revoked rule).
	desired    int
	refreshing bool
	blind      bool
	// snapshots counts the guard's snapshots before a change.
	snapshots int
	// started is when the cluster's etcd had started.
	started time.Time
	// hidden are instances whose address the group listing misses (EC2
	// DescribeInstances left them out); describeFails: DescribeInstances
	// fails, so no address is known.
	hidden        map[string]bool
	describeFails bool
	// storeBroken: the suspects parameter cannot be read (nor written).
	storeBroken bool
	// runErr is the last run's error when the scenario expects one
	// (tolerateErr).
	tolerateErr bool
	runErr      error
}

var subnetSeq struct {
	sync.Mutex
	n int
}

func newCluster(t *testing.T, name string, size int) *cluster {
	t.Helper()
	subnetSeq.Lock()
	subnetSeq.n++
	sub := 100 + subnetSeq.n
	subnetSeq.Unlock()
	c := &cluster{t: t, name: name, subnet: sub, nodes: map[string]*node{}, inst: map[string]*instance{},
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), store: map[uint64]time.Time{}, staleAudits: map[uint64]int{}, nextIP: 10}
	c.rec = &Reconciler{
		Machine: &fakeTalos{c: c}, ASG: &fakeASG{c: c}, Store: &fakeStore{c: c}, Metrics: &fakeMetrics{c: c},
		Policy: DefaultPolicy, Now: func() time.Time { return c.now },
		Logf:        func(f string, a ...any) { t.Logf("guard: "+f, a...) },
		CallTimeout: 3 * time.Second, SettleTimeout: 20 * time.Second, SettleEvery: 50 * time.Millisecond,
		Snapshot: func(context.Context) error { c.snapshots++; return nil },
	}
	var initial []string
	var ns []*node
	for i := 0; i < size; i++ {
		n := c.newNode()
		ns = append(ns, n)
		initial = append(initial, n.name+"="+n.peerURL)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ns))
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(n, strings.Join(initial, ","), embed.ClusterStateFlagNew)
		}()
	}
	wg.Wait()
	for i, n := range ns {
		if errs[i] != nil {
			t.Fatalf("start %s: %v", n.name, errs[i])
		}
		c.addInstance(n, InService)
	}
	t.Cleanup(c.close)
	c.started = time.Now()
	return c
}

func (c *cluster) newNode() *node {
	c.nextIP++
	ip := fmt.Sprintf("127.0.%d.%d", c.subnet, c.nextIP)
	n := &node{ip: ip, name: fmt.Sprintf("ip-127-0-%d-%d", c.subnet, c.nextIP), dir: c.t.TempDir()}
	n.peerURL = "http://" + net.JoinHostPort(ip, freePort(c.t, ip))
	n.clientURL = "http://" + net.JoinHostPort(ip, freePort(c.t, ip))
	c.nodes[ip] = n
	return n
}

func freePort(t *testing.T, ip string) string {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("loopback address %s: %v", ip, err)
	}
	defer func() { _ = l.Close() }()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func (c *cluster) start(n *node, initial, state string) error {
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = n.name, n.dir
	pu, _ := url.Parse(n.peerURL)
	cu, _ := url.Parse(n.clientURL)
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.InitialCluster, cfg.ClusterState, cfg.InitialClusterToken = initial, state, "guard-"+c.name
	cfg.TickMs, cfg.ElectionMs = 25, 250
	cfg.LogLevel = "error"
	cfg.QuotaBackendBytes = n.quota
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		return errors.New("etcd not ready after 20s")
	}
	n.etcd, n.reachable = e, true
	return nil
}

func (c *cluster) stop(n *node) {
	if n.etcd != nil {
		n.etcd.Close()
		n.etcd = nil
	}
	n.reachable = false
}

func (c *cluster) close() {
	for _, n := range c.nodes {
		c.stop(n)
	}
}

func (c *cluster) addInstance(n *node, st Lifecycle) *instance {
	c.nextID++
	in := &instance{Instance: Instance{ID: fmt.Sprintf("i-%02d", c.nextID), PrivateIP: n.ip, State: st, Healthy: true,
		AZ: []string{"az-a", "az-b", "az-c"}[(c.nextID-1)%3], Protected: true}, node: n, beat: c.now}
	c.inst[in.ID] = in
	return in
}

func (c *cluster) byName(id string) *instance {
	in, ok := c.inst[id]
	if !ok {
		c.t.Fatalf("no instance %s", id)
	}
	return in
}

// client talks to every reachable running node, as Talos'
// NewClientFromControlPlaneIPs does.
func (c *cluster) client() (*clientv3.Client, error) {
	var eps []string
	for _, n := range c.nodes {
		if n.etcd != nil && n.reachable {
			eps = append(eps, n.clientURL)
		}
	}
	sort.Strings(eps)
	if len(eps) == 0 {
		return nil, errors.New("no reachable etcd")
	}
	return clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
}

func (c *cluster) members(ctx context.Context) ([]Member, error) {
	cli, err := c.client()
	if err != nil {
		return nil, err
	}
	defer func() { _ = cli.Close() }()
	resp, err := cli.MemberList(clientv3.WithRequireLeader(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(resp.Members))
	for _, m := range resp.Members {
		out = append(out, Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, Learner: m.IsLearner})
	}
	return out, nil
}

// --- Talos node behaviour -------------------------------------------------

// join is one attempt of Talos' addMember + etcd start.
func (c *cluster) join(n *node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, err := c.client()
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	rctx := clientv3.WithRequireLeader(ctx)
	list, err := cli.MemberList(rctx)
	if err != nil {
		return err
	}
	// A member at this node's peer URL is this node's own earlier add
	// whose start failed or whose answer was lost: Talos' retry finds it
	// again (etcd would refuse a second add of the URL) and starts on it.
	var mine uint64
	for _, m := range list.Members {
		if slices.Contains(m.PeerURLs, n.peerURL) {
			mine = m.ID
			continue
		}
		if m.Name == n.name {
			if _, err := cli.MemberRemove(rctx, m.ID); err != nil {
				return err
			}
		}
	}
	members := list.Members
	if mine == 0 {
		add, err := cli.MemberAddAsLearner(rctx, []string{n.peerURL})
		if err != nil {
			return err
		}
		mine, members = add.Member.ID, add.Members
	}
	var initial []string
	for _, m := range members {
		name := m.Name
		if m.ID == mine {
			name = n.name
		}
		if name == "" {
			continue // another learner that has not started: not in our initial cluster
		}
		for _, u := range m.PeerURLs {
			initial = append(initial, name+"="+u)
		}
	}
	n.learnerID = mine
	return c.start(n, strings.Join(initial, ","), embed.ClusterStateFlagExisting)
}

// talosTick runs one round of every node's Talos retry loops: join nodes
// that have no etcd yet, promote learners.
func (c *cluster) talosTick() {
	for _, in := range c.sortedInstances() {
		n := in.node
		if !in.live() || !n.reachable && n.etcd != nil {
			continue
		}
		if n.etcd == nil && in.State == PendingWait {
			if err := c.join(n); err != nil {
				c.t.Logf("talos %s: etcd is waiting to join the cluster: %v", n.name, err)
			}
			continue
		}
		if n.learnerID != 0 && n.etcd != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			cli, err := c.client()
			if err == nil {
				if _, err = cli.MemberPromote(ctx, n.learnerID); err == nil || errors.Is(err, rpctypes.ErrMemberNotLearner) {
					n.learnerID = 0
				}
				_ = cli.Close()
			}
			cancel()
		}
	}
}

// settleTalos repeats talosTick until every launching node is a voter or
// the deadline passes (Talos retries join for 30 minutes and promotion for
// 10; the test waits up to d).
func (c *cluster) settleTalos(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		c.talosTick()
		done := true
		for _, in := range c.inst {
			if in.State == PendingWait && (in.node.etcd == nil || in.node.learnerID != 0) {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *cluster) sortedInstances() []*instance {
	out := make([]*instance, 0, len(c.inst))
	for _, in := range c.inst {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// --- ASG behaviour ----------------------------------------------------------

// launch starts a new instance that waits on the launch hook.
func (c *cluster) launch() *instance {
	return c.addInstance(c.newNode(), PendingWait)
}

// terminateHooked moves an instance to Terminating:Wait (refresh, scale-in,
// health-check replacement: the hook holds it).
func (c *cluster) terminateHooked(id string) {
	in := c.byName(id)
	in.State, in.beat = TerminatingWait, c.now
}

// kill ends an instance with no hook (spot, console, hardware): the node is
// gone and so is the instance.
func (c *cluster) kill(id string) {
	in := c.byName(id)
	c.stop(in.node)
	delete(c.inst, id)
}

// partition makes a node unreachable for peers and the guard; its instance
// stays InService and its data stays on disk.
func (c *cluster) partition(id string) { c.stop(c.byName(id).node) }

// heal brings a partitioned node back with its data.
func (c *cluster) heal(id string) {
	n := c.byName(id).node
	if err := c.start(n, n.name+"="+n.peerURL, embed.ClusterStateFlagExisting); err != nil {
		c.t.Fatalf("heal %s: %v", n.name, err)
	}
}

// asgStep does what AWS does after lifecycle actions complete: a hook
// left without a heartbeat for hookTimeout takes its default (CONTINUE),
// and a Terminating:Proceed instance is terminated and disappears.
func (c *cluster) asgStep() {
	for _, in := range c.sortedInstances() {
		if (in.State == PendingWait || in.State == TerminatingWait) && c.now.Sub(in.beat) > hookTimeout {
			c.t.Logf("asg: %s %s timed out: default CONTINUE", in.ID, in.State)
			if in.State == PendingWait {
				in.State = InService
			} else {
				in.State = TerminatingProceed
			}
		}
	}
	for id, in := range c.inst {
		if in.State == TerminatingProceed {
			c.stop(in.node)
			delete(c.inst, id)
		}
	}
	// Scale-in (AWS: a group above its desired capacity terminates
	// unprotected instances, through the terminate hook).
	if c.desired == 0 {
		return
	}
	inService := 0
	for _, in := range c.inst {
		if in.State == InService {
			inService++
		}
	}
	for _, in := range c.sortedInstances() {
		if inService <= c.desired {
			break
		}
		if in.State == InService && !in.Protected {
			in.State, in.beat = TerminatingWait, c.now
			inService--
		}
	}
}

// guard runs the reconciler as a scheduled audit five minutes after the
// previous one, then lets the ASG act.
func (c *cluster) guard() Report {
	c.t.Helper()
	// A cluster in service has been up for a while: etcd refuses to remove
	// a voter until the leader has been connected to a quorum for
	// HealthInterval (v3.6.7 server/etcdserver/server.go mayRemoveMember,
	// ErrUnhealthy), which a run right after the cluster started would race.
	time.Sleep(time.Until(c.started.Add(etcdserver.HealthInterval)))
	c.now = c.now.Add(5 * time.Minute)
	c.audits++
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	start := time.Now()
	rep, err := c.rec.Run(ctx)
	c.runErr = err
	if err != nil && !c.tolerateErr {
		c.t.Fatalf("guard run %d: %v", c.audits, err)
	}
	c.t.Logf("guard run %d took %s (%d changes, %d completions)", c.audits, time.Since(start).Round(time.Millisecond), len(rep.Changes), len(rep.Completions))
	c.asgStep()
	return rep
}

// --- invariants ---------------------------------------------------------------

type want struct {
	voting, learners int
	quorumLost       bool // the scenario itself destroyed quorum
	allowStale       bool // a stale member the guard must keep (last voter)
	noSpace          bool // etcd refuses writes (a NOSPACE alarm): no write probe
}

// check asserts the membership, that quorum holds (a linearizable write
// lands) and that no stale member has outlived two audits; it records a
// table row.
func (c *cluster) check(step string, w want) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var ms []Member
	var err error
	for {
		ms, err = c.members(ctx)
		if err == nil || w.quorumLost || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if w.quorumLost {
		if err == nil {
			c.t.Errorf("%s: expected no quorum, but the member list answered: %v", step, ms)
		}
		c.row(step, "(no quorum: member list unavailable)")
		return
	}
	if err != nil {
		c.t.Fatalf("%s: member list: %v", step, err)
	}
	voting, learners, alive := 0, 0, 0
	live := map[string]bool{}
	for _, in := range c.inst {
		if in.live() {
			live[in.PrivateIP] = true
		}
	}
	var desc []string
	for _, m := range ms {
		n := c.nodes[m.IP()]
		up := n != nil && n.etcd != nil && n.reachable
		role := "voter"
		if m.Learner {
			learners++
			role = "learner"
		} else {
			voting++
			if up {
				alive++
			}
		}
		state := "up"
		switch {
		case !live[m.IP()]:
			state = "STALE"
		case !up:
			state = "down"
		}
		desc = append(desc, fmt.Sprintf("%s:%s/%s", strings.TrimPrefix(m.Name, fmt.Sprintf("ip-127-0-%d-", c.subnet)), role, state))
	}
	sort.Strings(desc)
	c.row(step, fmt.Sprintf("%d voting, %d learner: %s", voting, learners, strings.Join(desc, " ")))
	if voting != w.voting || learners != w.learners {
		c.t.Errorf("%s: %d voting + %d learners, want %d + %d (%v)", step, voting, learners, w.voting, w.learners, desc)
	}
	if alive < Quorum(voting) {
		c.t.Errorf("%s: quorum dropped: %d of %d voting members alive", step, alive, voting)
	}
	cli, err := c.client()
	if err != nil {
		c.t.Fatalf("%s: %v", step, err)
	}
	defer func() { _ = cli.Close() }()
	_, err = cli.Put(clientv3.WithRequireLeader(ctx), "guard-probe", step)
	if noSpace := w.noSpace && errors.Is(err, rpctypes.ErrNoSpace); err != nil && !noSpace {
		c.t.Errorf("%s: quorum dropped: linearizable write failed: %v", step, err)
	}
	if !w.allowStale {
		for _, m := range ms {
			if !live[m.IP()] && c.staleAudits[m.ID] > 2 {
				c.t.Errorf("%s: stale member %s outlived %d audits", step, m.Name, c.staleAudits[m.ID])
			}
		}
	}
}

func (c *cluster) row(step, membership string) {
	c.table = append(c.table, fmt.Sprintf("| %s | %s | %s |", c.name, step, membership))
	c.t.Logf("%-48s %s", step, membership)
}

// audit runs the guard and counts, for every stale member, the audits it
// survived.
func (c *cluster) audit() Report {
	c.t.Helper()
	before, _ := c.members(context.Background())
	rep := c.guard()
	live := map[string]bool{}
	for _, in := range c.inst {
		if in.live() {
			live[in.PrivateIP] = true
		}
	}
	for _, m := range before {
		if !live[m.IP()] {
			c.staleAudits[m.ID]++
		}
	}
	return rep
}

// --- fakes --------------------------------------------------------------------

type fakeTalos struct{ c *cluster }

func (f *fakeTalos) node(ip string) (*node, error) {
	if f.c.blind {
		return nil, errors.New("rpc error: code = Unavailable desc = connection error: tls: expired certificate")
	}
	n := f.c.nodes[ip]
	if n == nil || n.etcd == nil || !n.reachable {
		return nil, fmt.Errorf("rpc error: code = Unavailable desc = connection error: dial tcp %s:50000: i/o timeout", ip)
	}
	return n, nil
}

func (f *fakeTalos) EtcdMemberList(ctx context.Context, ip string) ([]Member, error) {
	if _, err := f.node(ip); err != nil {
		return nil, err
	}
	return f.c.members(ctx)
}

func (f *fakeTalos) EtcdStatus(ctx context.Context, ip string) (Status, error) {
	n, err := f.node(ip)
	if err != nil {
		return Status{}, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{n.clientURL}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return Status{}, err
	}
	defer func() { _ = cli.Close() }()
	st, err := cli.Status(ctx, n.clientURL)
	if err != nil {
		return Status{}, err
	}
	return Status{MemberID: st.Header.MemberId, Leader: st.Leader, Learner: st.IsLearner, Errors: st.Errors,
		RaftTerm: st.RaftTerm, RaftIndex: st.RaftIndex, RaftAppliedIndex: st.RaftAppliedIndex}, nil
}

// ControlPlaneStatus is the node's static pods as Talos reports them: ready
// unless the scenario broke them.
func (f *fakeTalos) ControlPlaneStatus(_ context.Context, ip string) (string, error) {
	n, err := f.node(ip)
	if err != nil {
		return "", err
	}
	return n.controlPlane, nil
}

// EtcdSnapshot is Talos' EtcdSnapshot: the node's local member's
// snapshot (v1alpha1_server.go: NewLocalClient, then Maintenance.Snapshot).
func (f *fakeTalos) EtcdSnapshot(ctx context.Context, ip string) (io.ReadCloser, error) {
	n, err := f.node(ip)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{n.clientURL}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	return closeBoth{rc, cli}, nil
}

type closeBoth struct {
	io.ReadCloser
	cli *clientv3.Client
}

func (c closeBoth) Close() error {
	err := c.ReadCloser.Close()
	_ = c.cli.Close()
	return err
}

func (f *fakeTalos) localID(ctx context.Context, ip string) (uint64, error) {
	st, err := f.EtcdStatus(ctx, ip)
	return st.MemberID, err
}

// EtcdForfeitLeadership follows internal/pkg/etcd/etcd.go ForfeitLeadership:
// if the node leads, move leadership to the first other member.
func (f *fakeTalos) EtcdForfeitLeadership(ctx context.Context, ip string) (string, error) {
	n, err := f.node(ip)
	if err != nil {
		return "", err
	}
	self, err := f.localID(ctx, ip)
	if err != nil {
		return "", err
	}
	ms, err := f.c.members(ctx)
	if err != nil {
		return "", err
	}
	if len(ms) == 1 {
		return "", errors.New("cannot forfeit leadership, only one member")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{n.clientURL}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return "", err
	}
	defer func() { _ = cli.Close() }()
	st, err := cli.Status(ctx, n.clientURL)
	if err != nil {
		return "", err
	}
	if st.Leader != self {
		return "", nil
	}
	for _, m := range ms {
		if m.ID != self {
			if _, err := cli.MoveLeader(ctx, m.ID); err != nil {
				if errors.Is(err, rpctypes.ErrNotLeader) {
					return "", nil
				}
				return "", err
			}
			return m.Name, nil
		}
	}
	return "", nil
}

// EtcdLeaveCluster follows internal/pkg/etcd/etcd.go LeaveCluster: remove
// self (retrying while etcd says unhealthy), stop etcd, wipe its data.
func (f *fakeTalos) EtcdLeaveCluster(ctx context.Context, ip string) error {
	n, err := f.node(ip)
	if err != nil {
		return err
	}
	self, err := f.localID(ctx, ip)
	if err != nil {
		return err
	}
	before, _ := f.c.members(ctx)
	for {
		err = f.remove(ctx, self)
		if err == nil || errors.Is(err, rpctypes.ErrMemberNotFound) {
			break
		}
		if !errors.Is(err, rpctypes.ErrUnhealthy) && !errors.Is(err, rpctypes.ErrStopped) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
	f.c.stop(n)
	f.c.recordMutation("leave "+n.name, before)
	return os.RemoveAll(n.dir)
}

func (f *fakeTalos) remove(ctx context.Context, id uint64) error {
	cli, err := f.c.client()
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	_, err = cli.MemberRemove(clientv3.WithRequireLeader(ctx), id)
	return err
}

func (f *fakeTalos) EtcdRemoveMemberByID(ctx context.Context, ip string, id uint64) error {
	if _, err := f.node(ip); err != nil {
		return err
	}
	before, _ := f.c.members(ctx)
	err := f.remove(ctx, id)
	if errors.Is(err, rpctypes.ErrMemberNotFound) {
		return ErrMemberNotFound
	}
	if err == nil {
		f.c.recordMutation(fmt.Sprintf("remove %x", id), before)
	}
	return err
}

func (c *cluster) recordMutation(what string, before []Member) {
	after, _ := c.members(context.Background())
	c.mutations = append(c.mutations, fmt.Sprintf("%s: %d->%d", what, len(before), len(after)))
}

type fakeASG struct{ c *cluster }

func (a *fakeASG) Instances(context.Context) ([]Instance, error) {
	var out []Instance
	for _, in := range a.c.sortedInstances() {
		i := in.Instance
		if a.c.hidden[i.ID] || a.c.describeFails {
			i.PrivateIP = ""
		}
		out = append(out, i)
	}
	if a.c.describeFails {
		return out, fmt.Errorf("describe instances: %w: RequestLimitExceeded: Request limit exceeded", ErrAddresses)
	}
	return out, nil
}

func (a *fakeASG) CompleteLifecycleAction(_ context.Context, i Instance, result string) error {
	in, ok := a.c.inst[i.ID]
	if !ok {
		return fmt.Errorf("ValidationError: no active lifecycle action for %s", i.ID)
	}
	switch {
	case in.State == PendingWait && result == Continue:
		in.State = InService
	case in.State == PendingWait && result == Abandon, in.State == TerminatingWait:
		in.State = TerminatingProceed
	default:
		return fmt.Errorf("ValidationError: no active lifecycle action for %s in %s", i.ID, in.State)
	}
	return nil
}

func (a *fakeASG) RecordHeartbeat(_ context.Context, i Instance) error {
	in, ok := a.c.inst[i.ID]
	if !ok || (in.State != PendingWait && in.State != TerminatingWait) {
		return fmt.Errorf("ValidationError: no active lifecycle action for %s", i.ID)
	}
	in.beat = a.c.now
	return nil
}

// Capacity and SetProtection make fakeASG a CapacityAPI.
func (a *fakeASG) Capacity(context.Context) (int, bool, error) {
	return a.c.desired, a.c.refreshing, nil
}

func (a *fakeASG) SetProtection(_ context.Context, i Instance, protected bool) error {
	in, ok := a.c.inst[i.ID]
	if !ok {
		return fmt.Errorf("ValidationError: %s is not in the group", i.ID)
	}
	in.Protected = protected
	return nil
}

type fakeStore struct{ c *cluster }

func (s *fakeStore) Load(context.Context) (map[uint64]time.Time, error) {
	if s.c.storeBroken {
		return nil, errors.New("AccessDeniedException: ssm:GetParameter")
	}
	// Round-trip through the stored form, as the SSM parameter does.
	return ParseSuspects(FormatSuspects(s.c.store)), nil
}

func (s *fakeStore) Save(_ context.Context, m map[uint64]time.Time) error {
	s.c.store = m
	return nil
}

type fakeMetrics struct{ c *cluster }

func (m *fakeMetrics) Publish(_ context.Context, x Metrics) error {
	m.c.metrics = x
	m.c.published = append(m.c.published, x)
	return nil
}

// --- scenarios ------------------------------------------------------------------

func oldest(c *cluster) []string {
	var ids []string
	for _, in := range c.sortedInstances() {
		ids = append(ids, in.ID)
	}
	return ids
}

func writeTable(t *testing.T, c *cluster) {
	if p := os.Getenv("GUARD_SCENARIO_TABLE"); p != "" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		_, _ = fmt.Fprintln(f, strings.Join(c.table, "\n"))
	}
}

func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real etcd members")
	}
	t.Run("replace a dead member (3)", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, "dead-3", 3)
		ids := oldest(c)
		c.check("start", want{voting: 3})
		c.partition(ids[1]) // the node dies; EC2 status checks fail
		c.byName(ids[1]).Healthy = false
		c.terminateHooked(ids[1]) // health-check replacement: terminate first
		c.check("node dies, terminate hook holds it", want{voting: 3})
		rep := c.audit()
		if len(rep.Changes) != 1 || rep.Changes[0].Kind != Remove {
			t.Fatalf("changes = %+v, want one remove through a peer", rep.Changes)
		}
		c.check("guard: remove by ID via peer, CONTINUE", want{voting: 2})
		n := c.launch()
		c.settleTalos(45 * time.Second)
		c.check("replacement joins, promoted", want{voting: 3})
		if c.inst[n.ID].State != PendingWait {
			t.Fatalf("launch went InService without the guard")
		}
		c.audit()
		if c.inst[n.ID].State != InService {
			t.Fatalf("launch not continued: %s", c.inst[n.ID].State)
		}
		c.check("guard: launch CONTINUE", want{voting: 3})
		writeTable(t, c)
	})

	t.Run("roll all members (3)", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, "roll-3", 3)
		c.check("start", want{voting: 3})
		for i, old := range oldest(c) {
			n := c.launch()
			c.settleTalos(20 * time.Second)
			c.check(fmt.Sprintf("refresh %d: new node promoted", i+1), want{voting: 4})
			c.audit()
			if c.inst[n.ID].State != InService {
				t.Fatalf("refresh %d: launch not continued: %s", i+1, c.inst[n.ID].State)
			}
			c.terminateHooked(old)
			rep := c.audit()
			if len(rep.Changes) != 1 || rep.Changes[0].Kind != Leave {
				t.Fatalf("refresh %d: changes = %+v, want one leave", i+1, rep.Changes)
			}
			if _, ok := c.inst[old]; ok {
				t.Fatalf("refresh %d: old instance not terminated", i+1)
			}
			c.check(fmt.Sprintf("refresh %d: old node forfeits, leaves, CONTINUE", i+1), want{voting: 3})
		}
		writeTable(t, c)
	})

	t.Run("abrupt kill with no hook (5)", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, "kill-5", 5)
		ids := oldest(c)
		c.check("start", want{voting: 5})
		c.kill(ids[4])
		c.check("instance killed, no hook", want{voting: 5})
		if rep := c.audit(); len(rep.Changes) != 0 || c.metrics.StaleMembers != 1 {
			t.Fatalf("audit 1: changes %+v, stale %d; want none and 1", rep.Changes, c.metrics.StaleMembers)
		}
		c.check("audit 1: suspect", want{voting: 5})
		before := len(c.published)
		if rep := c.audit(); len(rep.Changes) != 1 {
			t.Fatalf("audit 2: changes %+v, want one removal", rep.Changes)
		}
		c.check("audit 2: stale member removed", want{voting: 4})
		// The run reported before its change (the stale member) and after
		// it: a run busy with a change is never silent to the alarm.
		if got := c.published[before:]; len(got) != 2 || got[0].StaleMembers != 1 || got[1].StaleMembers != 0 || got[1].VotingMembers != 4 {
			t.Fatalf("audit 2 published %+v; want the stale member first, then 4 voting and none stale", got)
		}
		c.launch()
		c.settleTalos(45 * time.Second)
		c.audit()
		c.check("replacement joins, CONTINUE", want{voting: 5})

		// Killed again, and this time the ASG launches the replacement at
		// once: the join is refused until the stale member goes, and the
		// guard removes it on the launch trigger without waiting for audits.
		c.kill(ids[3])
		n := c.launch()
		c.talosTick()
		c.check("kill + immediate replacement: join refused", want{voting: 5})
		if rep := c.audit(); len(rep.Changes) != 1 || rep.Changes[0].Kind != Remove {
			t.Fatalf("launch trigger: changes %+v, want one removal", rep.Changes)
		}
		c.check("guard (launch waiting): stale removed at once", want{voting: 4})
		c.settleTalos(45 * time.Second)
		c.audit()
		if c.inst[n.ID].State != InService {
			t.Fatalf("launch not continued: %s", c.inst[n.ID].State)
		}
		c.check("replacement joins, CONTINUE", want{voting: 5})
		writeTable(t, c)
	})

	t.Run("two terminations at once (5)", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, "two-5", 5)
		ids := oldest(c)
		c.check("start", want{voting: 5})
		c.terminateHooked(ids[0])
		c.terminateHooked(ids[1])
		rep := c.audit()
		if len(rep.Changes) != 2 || rep.Observations < 3 {
			t.Fatalf("changes %+v after %d observations; want two, each planned from a fresh member list", rep.Changes, rep.Observations)
		}
		if want := []string{"5->4", "4->3"}; len(c.mutations) != 2 || !strings.HasSuffix(c.mutations[0], want[0]) || !strings.HasSuffix(c.mutations[1], want[1]) {
			t.Fatalf("mutations %v; want one member at a time: %v", c.mutations, want)
		}
		c.check("both leave, one at a time, CONTINUE", want{voting: 3})
		a, b := c.launch(), c.launch()
		c.settleTalos(30 * time.Second)
		c.audit()
		for _, n := range []*instance{a, b} {
			if c.inst[n.ID].State != InService {
				t.Fatalf("launch %s not continued: %s", n.ID, c.inst[n.ID].State)
			}
		}
		c.check("two replacements join (one learner at a time), CONTINUE", want{voting: 5})
		writeTable(t, c)
	})

	t.Run("a partition that heals (3)", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, "partition-3", 3)
		ids := oldest(c)
		c.check("start", want{voting: 3})
		c.partition(ids[2])
		c.check("node partitioned (instance InService)", want{voting: 3})
		for i := 1; i <= 3; i++ {
			if rep := c.audit(); len(rep.Changes) != 0 {
				t.Fatalf("audit %d removed a partitioned member: %+v", i, rep.Changes)
			}
		}
		if c.metrics.HealthyMembers != 2 || c.metrics.DegradedMembers != 1 || c.metrics.StaleMembers != 0 {
			t.Fatalf("metrics %+v; want 2 healthy, 1 degraded, 0 stale", c.metrics)
		}
		c.check("3 audits: member kept, 2/3 healthy", want{voting: 3})
		n := c.launch()
		c.talosTick()
		c.audit()
		if c.inst[n.ID].State != PendingWait {
			t.Fatalf("launch continued during the partition")
		}
		c.check("refresh launches: join refused, gate holds", want{voting: 3})
		c.heal(ids[2])
		c.settleTalos(20 * time.Second)
		c.audit()
		if c.inst[n.ID].State != InService {
			t.Fatalf("launch not continued after heal: %s", c.inst[n.ID].State)
		}
		c.check("partition heals: join, promote, CONTINUE", want{voting: 4})
		c.terminateHooked(ids[0])
		c.audit()
		c.check("refresh terminates an old node: leave", want{voting: 3})
		writeTable(t, c)
	})

	t.Run("one-node control plane (1)", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, "single-1", 1)
		ids := oldest(c)
		c.check("start", want{voting: 1})
		n := c.launch() // a launch-first refresh
		c.settleTalos(45 * time.Second)
		c.audit()
		c.check("refresh: new node joins, 2 voters, CONTINUE", want{voting: 2})
		c.terminateHooked(ids[0])
		c.audit()
		c.check("refresh: old node leaves, CONTINUE", want{voting: 1})

		// Now the only node dies: terminate-first replacement.
		c.partition(n.ID)
		c.byName(n.ID).Healthy = false
		c.terminateHooked(n.ID)
		// Blind with nothing in service: the dead node's termination is
		// held all the same (a live node looks the same from here; issue
		// 27), and counted, so the held alarm pages; faults_test plays the
		// restore after it.
		for run := 1; run <= 2; run++ {
			rep := c.audit()
			if len(rep.Changes) != 0 || len(rep.Completions) != 0 || rep.Heartbeats != 1 || c.metrics.HeldTerminations != 1 {
				t.Fatalf("blind run %d: %+v, metrics %+v; want the hook held and counted, nothing changed", run, rep, c.metrics)
			}
			if !HasReason(rep.Waits, ReasonBlindTerminationHeld) || c.metrics.Known {
				t.Fatalf("blind run %d: metrics %+v, waits %q", run, c.metrics, Waits(rep.Waits))
			}
		}
		c.check("the only node dies: held, guard cannot help", want{quorumLost: true})
		writeTable(t, c)
	})
}
