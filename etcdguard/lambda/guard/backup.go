package guard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"filippo.io/age"

	"github.com/talos-aws/talos-aws/etcdguard/lambda/snapshot"
)

// SnapshotStore stores snapshots and lists their keys under a prefix
// (S3 PutObject and ListObjectsV2).
type SnapshotStore interface {
	snapshot.ObjectStore
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// FreshnessSink publishes the age of the newest snapshot, the metric the
// stack's freshness alarm reads.
type FreshnessSink interface {
	PublishSnapshotAge(ctx context.Context, seconds float64) error
}

// NoControlPlane is the outcome of a backup with nothing to snapshot: the
// first `pulumi up` asks for its pre-change snapshot before the
// control-plane group exists.
const NoControlPlane = "no control plane yet, nothing to snapshot"

// Backup takes one etcd snapshot through the Talos API of a control-plane
// node and stores it. It runs in the guard's Lambda, so it never overlaps a
// membership change (reserved concurrency 1).
type Backup struct {
	ASG         ASGAPI
	Snapshotter snapshot.Snapshotter
	// Machine, when set, picks the source: only a healthy voter current
	// with the others (SnapshotSources); none, and the run is refused.
	// CallTimeout bounds each of its calls (default 10 s): a node whose
	// traffic is dropped must not stall the run to the Lambda's timeout.
	Machine     MachineAPI
	CallTimeout time.Duration
	Store       SnapshotStore
	Freshness   FreshnessSink // optional
	Cluster     string
	Recipient   age.Recipient // optional: age-encrypt before upload
	TempDir     string
	Now         func() time.Time
	Logf        func(format string, args ...any)
	// HeartbeatEvery is how often the run extends every hook still
	// waiting (default a minute): the Lambda runs one invocation at a
	// time, so while a backup runs no membership run can.
	HeartbeatEvery time.Duration
	// StreamTimeout bounds each node's snapshot stream (default
	// DefaultStreamTimeout): a node that goes silent mid-stream gives way
	// to the next instead of holding the run to the Lambda's timeout.
	StreamTimeout time.Duration
}

// DefaultStreamTimeout is the bound on one node's snapshot stream: etcd's
// 8 GiB maximum database in about 80 s at 100 MB/s, with room; three
// sources at most stay within the Lambda's 600 s.
const DefaultStreamTimeout = 2 * time.Minute

// BackupReport is what one backup run did.
type BackupReport struct {
	Reason  string `json:"reason"`
	Skipped string `json:"skipped,omitempty"`
	Key     string `json:"key,omitempty"`
	Node    string `json:"node,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// Revision is the snapshot's etcd revision; AppliedIndex the source
	// member's applied raft index (0: not known).
	Revision     int64  `json:"revision,omitempty"`
	AppliedIndex uint64 `json:"appliedIndex,omitempty"`
	// AgeSeconds is the freshness published (-1: none published).
	AgeSeconds float64 `json:"ageSeconds"`
}

func (b *Backup) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Backup) logf(format string, args ...any) {
	if b.Logf != nil {
		b.Logf(format, args...)
	}
}

// SnapshotNodes are the addresses a snapshot may come from: every live
// instance's, sorted. Which of them is a source the member status decides
// (SnapshotSources): a node at a hook may be the only healthy current
// voter (issue 27: a retiring one at the terminate hook was never asked
// while another node was in service, and the backup was refused).
func SnapshotNodes(ins []Instance) []string {
	var out []string
	for _, in := range ins {
		if in.PrivateIP != "" && in.live() {
			out = append(out, in.PrivateIP)
		}
	}
	sort.Strings(out)
	return out
}

// Run takes a snapshot. With no control-plane group or no live node it
// succeeds with NoControlPlane. The run's error is the snapshot's: a
// freshness metric that cannot be published is logged, and shows as the
// alarm's missing data.
func (b *Backup) Run(ctx context.Context, reason string) (BackupReport, error) {
	rep := BackupReport{Reason: reason, AgeSeconds: -1}
	ins, err := b.ASG.Instances(ctx)
	if err != nil && !errors.Is(err, ErrNoGroup) {
		if len(ins) > 0 { // the addresses are unknown (ErrAddresses): the hooks still are
			_, _ = heartbeat(ctx, b.ASG, waitingAtHooks(ins, nil)) // best effort: the run fails anyway
		}
		b.publishFromIndex(ctx, &rep, true)
		return rep, fmt.Errorf("list control-plane instances: %w", err)
	}
	// Hold every hook while the run lasts (issue 27: a backup sent no
	// heartbeat, and no membership run can start meanwhile).
	stop := keepAlive(ctx, b.ASG, waitingAtHooks(ins, nil), b.HeartbeatEvery, b.logf)
	defer stop()
	nodes := SnapshotNodes(ins)
	if len(nodes) == 0 {
		rep.Skipped = NoControlPlane
		b.logf("backup (%s): %s", reason, NoControlPlane)
		// Report what exists, without inventing an age for a bucket that
		// has never held a snapshot.
		b.publishFromIndex(ctx, &rep, false)
		return rep, nil
	}
	var meta map[string]map[string]string
	if b.Machine != nil {
		var why string
		if nodes, meta, why = b.sources(ctx, nodes); len(nodes) == 0 {
			b.publishFromIndex(ctx, &rep, true)
			return rep, fmt.Errorf("etcd snapshot (%s) refused: %s; the newest stored snapshot stays the newest, and the freshness alarm fires if this lasts", reason, why)
		}
	}
	timeout := b.StreamTimeout
	if timeout == 0 {
		timeout = DefaultStreamTimeout
	}
	res, err := snapshot.Run(ctx, snapshot.Job{
		Cluster: b.Cluster, Nodes: nodes, Recipient: b.Recipient, TempDir: b.TempDir, Reason: reason, Now: b.Now, NodeMeta: meta,
		NodeTimeout: timeout,
	}, b.Snapshotter, b.Store)
	if err != nil {
		b.publishFromIndex(ctx, &rep, true)
		return rep, fmt.Errorf("etcd snapshot (%s): %w", reason, err)
	}
	rep.Key, rep.Node, rep.Bytes, rep.SHA256, rep.Revision = res.Key, res.Node, res.Bytes, res.SHA256, res.Revision
	if m := meta[res.Node]; m != nil {
		_, _ = fmt.Sscan(m[MetaAppliedIndex], &rep.AppliedIndex) //nolint:errcheck // our own number
	}
	b.logf("backup (%s): %s from %s, %d bytes, sha256 %s, revision %d, in %s", reason, res.Key, res.Node, res.Bytes, res.SHA256, res.Revision, res.Duration)
	b.publish(ctx, &rep, snapshot.AgeSeconds(res.TakenAt, b.now()))
	return rep, nil
}

// Metadata stored with a snapshot about its source member.
const (
	MetaMember       = "etcd-member-id"
	MetaRaftTerm     = "etcd-raft-term"
	MetaAppliedIndex = "etcd-raft-applied-index"
	// MetaCommitIndex is the highest commit index any healthy voter
	// reported when the source was picked: the source was at most
	// MaxRaftLag behind it.
	MetaCommitIndex = "etcd-raft-commit-index"
)

// MaxRaftLag is how many entries a member's applied index may trail the
// highest commit index of the healthy voters and still count as current:
// a second or so of writes, against the hours a partitioned member may
// trail.
const MaxRaftLag = 1000

// sources reads the member list and each member's status through the
// candidate nodes and keeps those SnapshotSources accepts.
func (b *Backup) sources(ctx context.Context, nodes []string) ([]string, map[string]map[string]string, string) {
	candidate := map[string]bool{}
	for _, n := range nodes {
		candidate[n] = true
	}
	members, status, known, lastErr := readMembers(ctx, b.Machine, nodes, func(ip string) bool { return candidate[ip] }, callTimeout(b.CallTimeout))
	if !known {
		return nil, nil, fmt.Sprintf("no node answered EtcdMemberList (last: %v)", lastErr)
	}
	return SnapshotSources(members, status)
}

// SnapshotSources are the nodes a snapshot may be taken from: healthy
// voters (the node answers EtcdStatus as that member, knows a leader,
// reports no error) whose applied index is within MaxRaftLag of the
// highest commit index a healthy voter reports. Talos' EtcdSnapshot reads
// the node's local member (v1alpha1_server.go EtcdSnapshot: NewLocalClient),
// so a partitioned or lagging member would store old data as a fresh
// snapshot. why says why none qualifies.
func SnapshotSources(members []Member, status map[string]Status) (nodes []string, meta map[string]map[string]string, why string) {
	var commit uint64
	healthy := map[string]Status{}
	for _, m := range members {
		st, ok := status[m.IP()]
		if m.Learner || !ok || !st.healthyAs(m) {
			continue
		}
		healthy[m.IP()] = st
		commit = max(commit, st.RaftIndex)
	}
	if len(healthy) == 0 {
		return nil, nil, fmt.Sprintf("no healthy voting member among %d members (%d answered)", len(members), len(status))
	}
	meta = map[string]map[string]string{}
	for ip, st := range healthy {
		if st.RaftAppliedIndex+MaxRaftLag < commit {
			continue
		}
		nodes = append(nodes, ip)
		meta[ip] = map[string]string{
			MetaMember: fmt.Sprintf("%x", st.MemberID), MetaRaftTerm: fmt.Sprint(st.RaftTerm),
			MetaAppliedIndex: fmt.Sprint(st.RaftAppliedIndex), MetaCommitIndex: fmt.Sprint(commit),
		}
	}
	sort.Strings(nodes)
	if len(nodes) == 0 {
		return nil, nil, fmt.Sprintf("every healthy voter trails commit index %d by more than %d entries", commit, MaxRaftLag)
	}
	return nodes, meta, ""
}

// freshnessDays: the alarm's threshold is at most a day (two intervals of
// at most 720 minutes), so today's and yesterday's prefixes decide it.
const freshnessDays = 2

// publishFromIndex publishes the newest stored snapshot's age. With none
// in the last freshnessDays days it publishes a lower bound (the time
// since the oldest listed day began), which is above any threshold, only
// when orNone is set.
func (b *Backup) publishFromIndex(ctx context.Context, rep *BackupReport, orNone bool) {
	now := b.now()
	var keys []string
	prefixes := snapshot.DayPrefixes(b.Cluster, now, freshnessDays)
	for _, p := range prefixes {
		ks, err := b.Store.Keys(ctx, p)
		if err != nil {
			b.logf("backup freshness: list %s: %v", p, err)
			return
		}
		keys = append(keys, ks...)
	}
	if newest, ok := snapshot.Newest(keys); ok {
		b.publish(ctx, rep, snapshot.AgeSeconds(newest, now))
		return
	}
	if orNone {
		u := now.UTC()
		oldestDay := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1-freshnessDays)
		b.publish(ctx, rep, snapshot.AgeSeconds(oldestDay, now))
	}
}

func (b *Backup) publish(ctx context.Context, rep *BackupReport, age float64) {
	if b.Freshness == nil {
		return
	}
	if err := b.Freshness.PublishSnapshotAge(ctx, age); err != nil {
		b.logf("backup freshness: publish: %v", err)
		return
	}
	rep.AgeSeconds = age
}
