// Package snapshot takes etcd snapshots through the Talos API and stores them
// in S3, optionally encrypted to an age recipient. It holds no AWS or Talos
// client: callers pass a Snapshotter (Talos' MachineService.EtcdSnapshot)
// and an ObjectStore (S3 PutObject), so every step is tested without them.
//
// Why the Talos API and not a Kubernetes CronJob: EtcdSnapshot is served by
// machined on each control-plane node (talos v1.12.0,
// internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go
// EtcdSnapshot: etcd.NewLocalClient, then client.Snapshot, which is the etcd
// v3 client's Maintenance.Snapshot, streamed back), so it keeps working
// when the Kubernetes API server, the scheduler or the CNI is broken.
package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"
)

// Snapshotter streams a snapshot of one control-plane node's etcd.
type Snapshotter interface {
	EtcdSnapshot(ctx context.Context, node string) (io.ReadCloser, error)
}

// ObjectStore writes one object. body is re-readable from the start and
// size bytes long (S3 PutObject needs the length up front).
type ObjectStore interface {
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, metadata map[string]string) error
}

// Metadata keys stored with each snapshot.
const (
	MetaSHA256    = "etcd-snapshot-sha256" // of the plain snapshot, trailer included
	MetaNode      = "etcd-node"
	MetaTakenAt   = "taken-at"
	MetaEncrypted = "encryption" // "age" or absent
	MetaReason    = "reason"     // "scheduled", "pre-change", ...
	// MetaRevision is the etcd revision the snapshot holds (what `etcdutl
	// snapshot status` reports); absent when the file could not be read.
	MetaRevision = "etcd-revision"
)

// timestampLayout sorts lexically in time order.
const timestampLayout = "20060102T150405Z"

// Key is where a snapshot taken at t from node goes:
// <cluster>/yyyy/mm/dd/<timestamp>-<node>.db, plus .age when encrypted.
// Listing a prefix returns snapshots oldest first; expiry is the bucket's
// lifecycle rule, not this code.
func Key(cluster string, t time.Time, node string, encrypted bool) string {
	t = t.UTC()
	k := fmt.Sprintf("%s/%04d/%02d/%02d/%s-%s.db", cluster, t.Year(), t.Month(), t.Day(), t.Format(timestampLayout), node)
	if encrypted {
		k += ".age"
	}
	return k
}

// TakenAt reads the time back from a key Key made.
func TakenAt(key string) (time.Time, error) {
	base := path.Base(key)
	if len(base) < len(timestampLayout) {
		return time.Time{}, fmt.Errorf("%s: not a snapshot key", key)
	}
	return time.Parse(timestampLayout, base[:len(timestampLayout)])
}

// Newest is the most recent snapshot time among keys; false when none is a
// snapshot key.
func Newest(keys []string) (time.Time, bool) {
	var newest time.Time
	found := false
	for _, k := range keys {
		t, err := TakenAt(k)
		if err != nil {
			continue
		}
		if !found || t.After(newest) {
			newest, found = t, true
		}
	}
	return newest, found
}

// DayPrefixes are the key prefixes of the days a snapshot younger than
// `days` days can be under, newest first: listing them finds the newest
// snapshot without listing the whole retention.
func DayPrefixes(cluster string, now time.Time, days int) []string {
	now = now.UTC()
	out := make([]string, 0, days)
	for i := range days {
		d := now.AddDate(0, 0, -i)
		out = append(out, fmt.Sprintf("%s/%04d/%02d/%02d/", cluster, d.Year(), d.Month(), d.Day()))
	}
	return out
}

// AgeSeconds is the freshness metric: how old the newest snapshot is.
func AgeSeconds(newest, now time.Time) float64 {
	if d := now.Sub(newest); d > 0 {
		return d.Seconds()
	}
	return 0
}

// trailerSize: etcd appends the SHA-256 of the database to a snapshot
// (etcd v3.6.7 server/etcdserver/api/v3rpc/maintenance.go Snapshot), and
// `etcdutl snapshot restore` refuses a file whose trailer does not match.
const trailerSize = sha256.Size

// ErrBadTrailer means a snapshot is truncated or corrupt.
var ErrBadTrailer = errors.New("etcd snapshot: SHA-256 trailer does not match (truncated or corrupt)")

// VerifyTrailer checks a snapshot's SHA-256 trailer.
func VerifyTrailer(f io.ReadSeeker) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if size <= trailerSize {
		return ErrBadTrailer
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.CopyN(h, f, size-trailerSize); err != nil {
		return err
	}
	trailer := make([]byte, trailerSize)
	if _, err := io.ReadFull(f, trailer); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), trailer) {
		return ErrBadTrailer
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

// Job is one scheduled (or pre-change) snapshot.
type Job struct {
	Cluster string
	// Nodes are the control-plane nodes' private addresses; the first that
	// yields a valid snapshot wins.
	Nodes []string
	// Recipient, when set, encrypts the snapshot before it leaves the
	// process; the private key is never in the stack.
	Recipient age.Recipient
	// TempDir holds the snapshot while it is checked and encrypted
	// (Lambda: /tmp). Empty: os.TempDir().
	TempDir string
	// Reason is stored with the snapshot ("scheduled", "pre-change").
	Reason string
	Now    func() time.Time
	// NodeMeta is more metadata per node (the source member's raft
	// position: package guard).
	NodeMeta map[string]map[string]string
	// NodeTimeout bounds each node's stream (0: only ctx does): a node
	// that stops sending mid-stream gives way to the next one instead of
	// holding the run to its end.
	NodeTimeout time.Duration
}

// Result describes a stored snapshot.
type Result struct {
	Key      string
	Node     string
	Bytes    int64 // stored size
	SHA256   string
	TakenAt  time.Time
	Duration time.Duration
	// Revision is the snapshot's etcd revision (0: unreadable).
	Revision int64
}

// Run takes a snapshot from the first node that gives a valid one, checks
// its trailer, encrypts it if asked, and stores it with its SHA-256.
func Run(ctx context.Context, job Job, snap Snapshotter, store ObjectStore) (Result, error) {
	now := time.Now
	if job.Now != nil {
		now = job.Now
	}
	if len(job.Nodes) == 0 {
		return Result{}, errors.New("no control-plane node to snapshot")
	}
	start := now()
	var errs []error
	for _, node := range sortedCopy(job.Nodes) {
		plain, sum, err := fetch(ctx, snap, node, job.TempDir, job.NodeTimeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", node, err))
			continue
		}
		defer cleanup(plain)
		body, size, err := seal(plain, job.Recipient, job.TempDir)
		if err != nil {
			return Result{}, err
		}
		if body != plain {
			defer cleanup(body)
		}
		taken := now()
		res := Result{Key: Key(job.Cluster, taken, keySafe(node), job.Recipient != nil), Node: node, Bytes: size, SHA256: sum, TakenAt: taken}
		meta := map[string]string{MetaSHA256: sum, MetaNode: node, MetaTakenAt: taken.UTC().Format(time.RFC3339)}
		for k, v := range job.NodeMeta[node] {
			meta[k] = v
		}
		if rev, err := Revision(plain.Name()); err == nil {
			res.Revision = rev
			meta[MetaRevision] = fmt.Sprint(rev)
		}
		if job.Recipient != nil {
			meta[MetaEncrypted] = "age"
		}
		if job.Reason != "" {
			meta[MetaReason] = job.Reason
		}
		if err := store.Put(ctx, res.Key, body, size, meta); err != nil {
			return Result{}, fmt.Errorf("store %s: %w", res.Key, err)
		}
		res.Duration = now().Sub(start)
		return res, nil
	}
	return Result{}, fmt.Errorf("no node gave a valid etcd snapshot: %w", errors.Join(errs...))
}

// Revision is the newest etcd revision in a snapshot file: the last key of
// etcd's "key" bucket, whose keys are revisions (8 bytes big-endian main
// revision, '_', 8 bytes sub revision: etcd v3.6 server/storage/mvcc
// revision.go), as `etcdutl snapshot status` computes it. The file's
// SHA-256 trailer is past bbolt's pages and does not disturb it.
func Revision(path string) (int64, error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer db.Close() //nolint:errcheck // read-only
	var rev int64
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("key"))
		if b == nil {
			return errors.New("no key bucket: not an etcd snapshot")
		}
		k, _ := b.Cursor().Last()
		if len(k) < 8 {
			return errors.New("empty key bucket")
		}
		rev = int64(binary.BigEndian.Uint64(k[:8])) //nolint:gosec // etcd revisions are int64
		return nil
	})
	return rev, err
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// keySafe turns an address into a key component (IPv6 colons out).
func keySafe(node string) string { return strings.ReplaceAll(node, ":", "-") }

func cleanup(f *os.File) {
	_ = f.Close()           //nolint:errcheck // temporary file
	_ = os.Remove(f.Name()) //nolint:errcheck // temporary file
}

// fetch streams a node's snapshot to a temporary file, hashing it, and
// checks its trailer; within d when d is set.
func fetch(ctx context.Context, snap Snapshotter, node, dir string, d time.Duration) (*os.File, string, error) {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	rc, err := snap.EtcdSnapshot(ctx, node)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close() //nolint:errcheck // read side
	f, err := os.CreateTemp(dir, "etcd-*.db")
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), rc); err != nil {
		cleanup(f)
		return nil, "", err
	}
	if err := VerifyTrailer(f); err != nil {
		cleanup(f)
		return nil, "", err
	}
	return f, hex.EncodeToString(h.Sum(nil)), nil
}

// seal encrypts plain to r into a new temporary file, or returns plain.
func seal(plain *os.File, r age.Recipient, dir string) (*os.File, int64, error) {
	if r == nil {
		size, err := plain.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, 0, err
		}
		_, err = plain.Seek(0, io.SeekStart)
		return plain, size, err
	}
	out, err := os.CreateTemp(dir, "etcd-*.db.age")
	if err != nil {
		return nil, 0, err
	}
	w, err := age.Encrypt(out, r)
	if err == nil {
		_, err = io.Copy(w, plain)
	}
	if err == nil {
		err = w.Close()
	}
	var size int64
	if err == nil {
		size, err = out.Seek(0, io.SeekCurrent)
	}
	if err == nil {
		_, err = out.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup(out)
		return nil, 0, fmt.Errorf("encrypt snapshot: %w", err)
	}
	return out, size, nil
}

// Open returns the plain snapshot of a stored object: decrypted with
// identity when the key ends in .age.
func Open(key string, body io.Reader, identity age.Identity) (io.Reader, error) {
	if !strings.HasSuffix(key, ".age") {
		return body, nil
	}
	if identity == nil {
		return nil, fmt.Errorf("%s is age-encrypted: the private key is needed", key)
	}
	return age.Decrypt(body, identity)
}
