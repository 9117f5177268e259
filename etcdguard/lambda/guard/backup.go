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
	Store       SnapshotStore
	Freshness   FreshnessSink // optional
	Cluster     string
	Recipient   age.Recipient // optional: age-encrypt before upload
	TempDir     string
	Now         func() time.Time
	Logf        func(format string, args ...any)
}

// BackupReport is what one backup run did.
type BackupReport struct {
	Reason  string `json:"reason"`
	Skipped string `json:"skipped,omitempty"`
	Key     string `json:"key,omitempty"`
	Node    string `json:"node,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
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

// SnapshotNodes are the addresses to snapshot from: InService instances,
// or, when none is, every live one (a learner's copy beats none).
func SnapshotNodes(ins []Instance) []string {
	var serving, live []string
	for _, in := range ins {
		if in.PrivateIP == "" || !in.live() {
			continue
		}
		live = append(live, in.PrivateIP)
		if in.State == InService {
			serving = append(serving, in.PrivateIP)
		}
	}
	out := serving
	if len(out) == 0 {
		out = live
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
		b.publishFromIndex(ctx, &rep, true)
		return rep, fmt.Errorf("list control-plane instances: %w", err)
	}
	nodes := SnapshotNodes(ins)
	if len(nodes) == 0 {
		rep.Skipped = NoControlPlane
		b.logf("backup (%s): %s", reason, NoControlPlane)
		// Report what exists, without inventing an age for a bucket that
		// has never held a snapshot.
		b.publishFromIndex(ctx, &rep, false)
		return rep, nil
	}
	res, err := snapshot.Run(ctx, snapshot.Job{
		Cluster: b.Cluster, Nodes: nodes, Recipient: b.Recipient, TempDir: b.TempDir, Reason: reason, Now: b.Now,
	}, b.Snapshotter, b.Store)
	if err != nil {
		b.publishFromIndex(ctx, &rep, true)
		return rep, fmt.Errorf("etcd snapshot (%s): %w", reason, err)
	}
	rep.Key, rep.Node, rep.Bytes, rep.SHA256 = res.Key, res.Node, res.Bytes, res.SHA256
	b.logf("backup (%s): %s from %s, %d bytes, sha256 %s, in %s", reason, res.Key, res.Node, res.Bytes, res.SHA256, res.Duration)
	b.publish(ctx, &rep, snapshot.AgeSeconds(res.TakenAt, b.now()))
	return rep, nil
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
