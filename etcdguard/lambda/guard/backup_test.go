package guard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/talos-aws/talos-aws/etcdguard/lambda/snapshot"
)

// Fakes for a backup run: an ASG that may not exist yet, a Talos API that
// streams snapshots, an in-memory S3 and a CloudWatch sink.

type backupASG struct {
	ins   []Instance
	err   error
	calls int
	mu    sync.Mutex
	beats map[string]int
}

func (a *backupASG) Instances(context.Context) ([]Instance, error) { a.calls++; return a.ins, a.err }
func (a *backupASG) CompleteLifecycleAction(context.Context, Instance, string) error {
	return errors.New("a backup completes no lifecycle action")
}
func (a *backupASG) RecordHeartbeat(_ context.Context, in Instance) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.beats == nil {
		a.beats = map[string]int{}
	}
	a.beats[in.ID]++
	return nil
}

type talosSnapshots struct {
	streams map[string][]byte // node -> stream; others refuse
	asked   []string
}

func (f *talosSnapshots) EtcdSnapshot(_ context.Context, node string) (io.ReadCloser, error) {
	f.asked = append(f.asked, node)
	b, ok := f.streams[node]
	if !ok {
		return nil, fmt.Errorf("dial %s:50000: connection refused", node)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

type memS3 struct {
	objects map[string][]byte
	meta    map[string]map[string]string
	putErr  error
	lists   []string
}

func newMemS3() *memS3 {
	return &memS3{objects: map[string][]byte{}, meta: map[string]map[string]string{}}
}

func (s *memS3) Put(_ context.Context, key string, body io.ReadSeeker, size int64, meta map[string]string) error {
	if s.putErr != nil {
		return s.putErr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("content length %d, body %d bytes", size, len(b))
	}
	s.objects[key], s.meta[key] = b, meta
	return nil
}

func (s *memS3) Keys(_ context.Context, prefix string) ([]string, error) {
	s.lists = append(s.lists, prefix)
	var out []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

type ages []float64

func (a *ages) PublishSnapshotAge(_ context.Context, s float64) error { *a = append(*a, s); return nil }

func etcdStream(db []byte) []byte {
	sum := sha256.Sum256(db)
	return append(append([]byte(nil), db...), sum[:]...)
}

// TestBackupEndToEnd: a scheduled and a pre-change run against three nodes
// (one refusing, one sending a truncated stream), age encryption, key
// layout, metadata, and the freshness metric.
func TestBackupEndToEnd(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	db := bytes.Repeat([]byte("etcd-bbolt-page "), 4096)
	stream := etcdStream(db)
	talos := &talosSnapshots{streams: map[string][]byte{"10.0.1.10": stream[:len(stream)-7], "10.0.2.10": stream}}
	asg := &backupASG{ins: []Instance{
		{ID: "i-a", State: InService, PrivateIP: "10.0.0.10", Healthy: true},
		{ID: "i-b", State: InService, PrivateIP: "10.0.1.10", Healthy: true},
		{ID: "i-c", State: InService, PrivateIP: "10.0.2.10", Healthy: true},
		{ID: "i-d", State: PendingWait, PrivateIP: "10.0.2.11", Healthy: true}, // launching: asked only if the others fail
	}}
	store, published := newMemS3(), &ages{}
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	b := &Backup{ASG: asg, Snapshotter: talos, Store: store, Freshness: published, Cluster: "prod", Recipient: id.Recipient(),
		TempDir: t.TempDir(), Now: func() time.Time { return now }}

	rep, err := b.Run(context.Background(), "pre-change")
	if err != nil {
		t.Fatal(err)
	}
	wantKey := "prod/2026/03/04/20260304T050607Z-10.0.2.10.db.age"
	if rep.Key != wantKey || rep.Node != "10.0.2.10" || rep.Skipped != "" {
		t.Fatalf("report %+v, want %s from the one node with a whole snapshot", rep, wantKey)
	}
	if strings.Join(talos.asked, ",") != "10.0.0.10,10.0.1.10,10.0.2.10" {
		t.Errorf("asked %v: in address order, up to the first whole snapshot", talos.asked)
	}
	obj := store.objects[wantKey]
	if bytes.Contains(obj, []byte("etcd-bbolt-page")) {
		t.Error("the stored object holds plaintext")
	}
	sum := sha256.Sum256(stream)
	m := store.meta[wantKey]
	if m[snapshot.MetaSHA256] != hex.EncodeToString(sum[:]) || m[snapshot.MetaReason] != "pre-change" || m[snapshot.MetaEncrypted] != "age" || m[snapshot.MetaNode] != "10.0.2.10" {
		t.Errorf("metadata %v", m)
	}
	plain, err := snapshot.Open(wantKey, bytes.NewReader(obj), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(plain)
	if err != nil || !bytes.Equal(got, stream) {
		t.Fatalf("decrypted snapshot differs from the stream (%v)", err)
	}
	if err := snapshot.VerifyTrailer(bytes.NewReader(got)); err != nil {
		t.Errorf("restored file fails etcd's trailer check: %v", err)
	}
	if len(*published) != 1 || (*published)[0] != 0 || rep.AgeSeconds != 0 {
		t.Errorf("published %v, want one age of 0 after a success", *published)
	}
}

// TestBackupNoControlPlaneYet: the first `pulumi up` invokes the backup
// before the control-plane group exists; it must succeed and report it.
func TestBackupNoControlPlaneYet(t *testing.T) {
	for name, asg := range map[string]*backupASG{
		"no group":     {err: fmt.Errorf("no auto scaling group tagged map[Name:prod-control-plane]: %w", ErrNoGroup)},
		"no instances": {},
		"only dead":    {ins: []Instance{{ID: "i-x", State: Terminated, PrivateIP: "10.0.0.9"}}},
	} {
		talos, store, published := &talosSnapshots{}, newMemS3(), &ages{}
		b := &Backup{ASG: asg, Snapshotter: talos, Store: store, Freshness: published, Cluster: "prod", TempDir: t.TempDir()}
		rep, err := b.Run(context.Background(), "pre-change")
		if err != nil || rep.Skipped != NoControlPlane {
			t.Errorf("%s: %+v, %v; want success with %q", name, rep, err, NoControlPlane)
		}
		if len(talos.asked) != 0 || len(store.objects) != 0 {
			t.Errorf("%s: asked %v, stored %d objects", name, talos.asked, len(store.objects))
		}
		if len(*published) != 0 {
			t.Errorf("%s: published an age %v for a bucket that never held a snapshot", name, *published)
		}
	}
	// Any other failure to list the group is an error.
	b := &Backup{ASG: &backupASG{err: errors.New("AccessDenied")}, Snapshotter: &talosSnapshots{}, Store: newMemS3(), Cluster: "prod", TempDir: t.TempDir()}
	if _, err := b.Run(context.Background(), "scheduled"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("list failure: %v", err)
	}
}

// TestBackupFailurePublishesTrueAge: when no node gives a snapshot the run
// fails and the metric says how old the newest stored one is, or, with none
// in two days, more than a day, which breaches every threshold.
func TestBackupFailurePublishesTrueAge(t *testing.T) {
	now := time.Date(2026, 3, 4, 0, 30, 0, 0, time.UTC)
	store := newMemS3()
	older := snapshot.Key("prod", now.Add(-50*time.Minute), "10.0.0.10", false) // yesterday's prefix
	store.objects[older] = []byte("x")
	store.objects[snapshot.Key("other", now, "10.0.0.10", false)] = []byte("x") // another cluster's: ignored
	asg := &backupASG{ins: []Instance{{ID: "i-a", State: InService, PrivateIP: "10.0.0.10"}}}
	published := &ages{}
	b := &Backup{ASG: asg, Snapshotter: &talosSnapshots{}, Store: store, Freshness: published, Cluster: "prod", TempDir: t.TempDir(), Now: func() time.Time { return now }}
	_, err := b.Run(context.Background(), "scheduled")
	if err == nil || !strings.Contains(err.Error(), "10.0.0.10: dial 10.0.0.10:50000: connection refused") {
		t.Fatalf("error %v, want the node's failure", err)
	}
	if len(*published) != 1 || (*published)[0] != 3000 {
		t.Errorf("published %v, want 3000 s (the snapshot 50 minutes ago, across midnight)", *published)
	}
	if strings.Join(store.lists, " ") != "prod/2026/03/04/ prod/2026/03/03/" {
		t.Errorf("listed %v, want today's and yesterday's prefixes only", store.lists)
	}

	delete(store.objects, older)
	*published = nil
	if _, err := b.Run(context.Background(), "scheduled"); err == nil {
		t.Fatal("failure reported as success")
	}
	if len(*published) != 1 || (*published)[0] != 86400+1800 {
		t.Errorf("published %v, want the lower bound 88200 s (since yesterday 00:00)", *published)
	}

	// A failed upload fails the run too.
	store.putErr = errors.New("AccessDenied: kms:GenerateDataKey")
	b.Snapshotter = &talosSnapshots{streams: map[string][]byte{"10.0.0.10": etcdStream([]byte("db"))}}
	if _, err := b.Run(context.Background(), "scheduled"); err == nil || !strings.Contains(err.Error(), "kms:GenerateDataKey") {
		t.Errorf("upload failure: %v", err)
	}
}

// Every live node with an address may be the source: which one is, the
// member status decides (SnapshotSources). Issue 27: only InService nodes
// were asked while any was, so a backup was refused when the only healthy
// current voter sat at the terminate hook.
func TestSnapshotNodes(t *testing.T) {
	ins := []Instance{
		{ID: "1", State: InService, PrivateIP: "10.0.1.1"}, {ID: "2", State: InService, PrivateIP: "10.0.0.1"},
		{ID: "3", State: PendingWait, PrivateIP: "10.0.2.1"}, {ID: "4", State: InService},
		{ID: "5", State: TerminatingWait, PrivateIP: "10.0.3.1"}, {ID: "6", State: TerminatingProceed, PrivateIP: "10.0.4.1"},
	}
	if got := SnapshotNodes(ins); strings.Join(got, ",") != "10.0.0.1,10.0.1.1,10.0.2.1,10.0.3.1" {
		t.Errorf("nodes %v, want every live one with an address, sorted", got)
	}
}

func TestSnapshotSources(t *testing.T) {
	ms := []Member{mem(1, "10.0.1.10", false), mem(2, "10.0.2.10", false), mem(3, "10.0.3.10", false), learner(4, "10.0.1.11")}
	st := func(id, leader uint64, commit, applied uint64) Status {
		return Status{MemberID: id, Leader: leader, RaftTerm: 7, RaftIndex: commit, RaftAppliedIndex: applied}
	}
	cases := []struct {
		name   string
		status map[string]Status
		want   string
		why    string
	}{
		{name: "all current: every voter, never the learner", want: "10.0.1.10,10.0.2.10,10.0.3.10",
			status: map[string]Status{"10.0.1.10": st(1, 2, 5000, 5000), "10.0.2.10": st(2, 2, 5000, 4999), "10.0.3.10": st(3, 2, 5000, 5000), "10.0.1.11": st(4, 2, 5000, 5000)}},
		{name: "a member partitioned for hours (its own stale view, no leader) is never the source", want: "10.0.2.10,10.0.3.10",
			status: map[string]Status{"10.0.1.10": st(1, 0, 1200, 1200), "10.0.2.10": st(2, 2, 90000, 90000), "10.0.3.10": st(3, 2, 90000, 90000)}},
		{name: "a member that knows a leader but trails it is not current", want: "10.0.2.10,10.0.3.10",
			status: map[string]Status{"10.0.1.10": st(1, 2, 88000, 88000), "10.0.2.10": st(2, 2, 90000, 90000), "10.0.3.10": st(3, 2, 90000, 89500)}},
		{name: "a member reporting errors (NOSPACE, corrupt) is not a source", want: "10.0.3.10",
			status: map[string]Status{"10.0.1.10": {MemberID: 1, Leader: 3, Errors: []string{"NOSPACE"}, RaftIndex: 10, RaftAppliedIndex: 10},
				"10.0.3.10": st(3, 3, 10, 10)}},
		{name: "an address answering as another member is not a source", want: "10.0.3.10",
			status: map[string]Status{"10.0.1.10": st(9, 3, 10, 10), "10.0.3.10": st(3, 3, 10, 10)}},
		{name: "quorum lost: refused", why: "no healthy voting member",
			status: map[string]Status{"10.0.1.10": st(1, 0, 10, 10)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes, meta, why := SnapshotSources(ms, c.status)
			if got := strings.Join(nodes, ","); got != c.want || !strings.Contains(why, c.why) {
				t.Fatalf("sources %q (%q), want %q (%q)", got, why, c.want, c.why)
			}
			for _, n := range nodes {
				if meta[n][MetaAppliedIndex] != fmt.Sprint(c.status[n].RaftAppliedIndex) || meta[n][MetaCommitIndex] == "" || meta[n][MetaMember] == "" {
					t.Errorf("metadata of %s: %v", n, meta[n])
				}
			}
		})
	}
}

// slowStreams sends each node's stream after a delay; a node in stall
// sends nothing until its request's context ends (a node whose traffic
// is dropped mid-stream).
type slowStreams struct {
	streams map[string][]byte
	delay   time.Duration
	stall   map[string]bool
}

func (f *slowStreams) EtcdSnapshot(ctx context.Context, node string) (io.ReadCloser, error) {
	if f.stall[node] {
		return io.NopCloser(ctxReader{ctx}), nil
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return io.NopCloser(bytes.NewReader(f.streams[node])), nil
}

// ctxReader blocks until ctx ends, as a gRPC stream whose peer went
// silent does.
type ctxReader struct{ ctx context.Context }

func (r ctxReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// Issue 27: a backup run sent no heartbeats, and a snapshot stream had no
// deadline: with reserved concurrency 1, a backup that outlasts a hook's
// 15 minutes (a stalled stream holds it to the Lambda's timeout, and the
// next run may be a backup again) let a held termination reach its
// default. A backup now holds every hook while it runs, and a stalled
// node's stream gives way to the next node.
func TestBackupHoldsTheHooksAndBoundsTheStream(t *testing.T) {
	stream := etcdStream([]byte("bbolt"))
	asg := &backupASG{ins: []Instance{
		{ID: "i-a", State: TerminatingWait, PrivateIP: "10.0.0.10", Healthy: true},
		{ID: "i-b", State: InService, PrivateIP: "10.0.1.10", Healthy: true},
		{ID: "i-c", State: PendingWait, PrivateIP: "10.0.2.10", Healthy: true},
	}}
	talos := &slowStreams{streams: map[string][]byte{"10.0.1.10": stream}, delay: 150 * time.Millisecond, stall: map[string]bool{"10.0.0.10": true}}
	b := &Backup{ASG: asg, Snapshotter: talos, Store: newMemS3(), Cluster: "prod", TempDir: t.TempDir(),
		HeartbeatEvery: 50 * time.Millisecond, StreamTimeout: 250 * time.Millisecond}
	done := make(chan error, 1)
	var rep BackupReport
	go func() {
		var err error
		rep, err = b.Run(context.Background(), "scheduled")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil || rep.Node != "10.0.1.10" {
			t.Fatalf("backup %+v, %v: want the snapshot from the node that sends one", rep, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled stream held the backup: no deadline")
	}
	asg.mu.Lock()
	defer asg.mu.Unlock()
	// 250 ms of stall and 150 ms of stream at 50 ms: several beats each.
	if asg.beats["i-a"] < 4 || asg.beats["i-c"] < 4 || asg.beats["i-b"] != 0 {
		t.Errorf("heartbeats %v: want both hooks held through the run, none for the node in service", asg.beats)
	}
}
