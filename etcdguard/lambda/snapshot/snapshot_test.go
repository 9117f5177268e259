package snapshot

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
)

// memStore is an in-memory S3: objects with their metadata.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	meta    map[string]map[string]string
}

func newMemStore() *memStore {
	return &memStore{objects: map[string][]byte{}, meta: map[string]map[string]string{}}
}

func (s *memStore) Put(_ context.Context, key string, body io.ReadSeeker, size int64, metadata map[string]string) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("declared %d bytes, sent %d", size, len(b))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key], s.meta[key] = b, metadata
	return nil
}

func (s *memStore) Keys() []string {
	var out []string
	for k := range s.objects {
		out = append(out, k)
	}
	return out
}

// withTrailer makes a snapshot the way etcd sends it: database + SHA-256.
func withTrailer(db []byte) []byte {
	sum := sha256.Sum256(db)
	return append(append([]byte(nil), db...), sum[:]...)
}

type fakeSnap map[string][]byte // node -> stream; missing node: error

func (f fakeSnap) EtcdSnapshot(_ context.Context, node string) (io.ReadCloser, error) {
	b, ok := f[node]
	if !ok {
		return nil, errors.New("connection refused")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func TestKeyLayout(t *testing.T) {
	at := time.Date(2026, 3, 7, 4, 5, 6, 0, time.FixedZone("x", 8*3600))
	if got := Key("prod", at, "10.0.1.5", false); got != "prod/2026/03/06/20260306T200506Z-10.0.1.5.db" {
		t.Errorf("key %q (UTC date and time expected)", got)
	}
	if got := Key("prod", at, "10.0.1.5", true); !strings.HasSuffix(got, ".db.age") {
		t.Errorf("encrypted key %q", got)
	}
	back, err := TakenAt(Key("prod", at, "10.0.1.5", true))
	if err != nil || !back.Equal(at) {
		t.Errorf("TakenAt = %v, %v; want %v", back, err, at)
	}
}

func TestNewestAndAge(t *testing.T) {
	t0 := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	keys := []string{Key("c", t0, "a", false), Key("c", t0.Add(2*time.Hour), "b", true), Key("c", t0.Add(time.Hour), "a", false), "c/README"}
	newest, ok := Newest(keys)
	if !ok || !newest.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("newest %v %v, want the one across midnight", newest, ok)
	}
	if _, ok := Newest([]string{"c/README"}); ok {
		t.Error("no snapshot keys, yet a newest one")
	}
	if got := AgeSeconds(newest, newest.Add(90*time.Minute)); got != 5400 {
		t.Errorf("age %v s, want 5400", got)
	}
	if got := AgeSeconds(newest, newest.Add(-time.Minute)); got != 0 {
		t.Errorf("clock skew gives negative age %v", got)
	}
}

func TestVerifyTrailer(t *testing.T) {
	good := withTrailer([]byte("bolt database pages"))
	if err := VerifyTrailer(bytes.NewReader(good)); err != nil {
		t.Errorf("good snapshot rejected: %v", err)
	}
	for name, b := range map[string][]byte{"truncated": good[:len(good)-1], "flipped": append([]byte{'X'}, good[1:]...), "tiny": []byte("x")} {
		if err := VerifyTrailer(bytes.NewReader(b)); !errors.Is(err, ErrBadTrailer) {
			t.Errorf("%s snapshot: %v, want ErrBadTrailer", name, err)
		}
	}
}

func TestRunSkipsBadNodesEncryptsAndRecordsHash(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	snapshot := withTrailer(bytes.Repeat([]byte("etcd"), 10000))
	snap := fakeSnap{
		"10.0.1.5": snapshot[:len(snapshot)-5], // truncated stream: rejected
		"10.0.2.5": snapshot,
		// 10.0.0.5 refuses the connection
	}
	store := newMemStore()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	res, err := Run(context.Background(), Job{Cluster: "prod", Nodes: []string{"10.0.2.5", "10.0.0.5", "10.0.1.5"}, Recipient: id.Recipient(),
		TempDir: t.TempDir(), Now: func() time.Time { return at }}, snap, store)
	if err != nil {
		t.Fatal(err)
	}
	if res.Node != "10.0.2.5" || res.Key != "prod/2026/05/01/20260501T120000Z-10.0.2.5.db.age" {
		t.Errorf("result %+v", res)
	}
	stored := store.objects[res.Key]
	if bytes.Contains(stored, []byte("etcdetcd")) {
		t.Error("stored object contains plaintext")
	}
	want := sha256.Sum256(snapshot)
	if m := store.meta[res.Key]; m[MetaSHA256] != hex.EncodeToString(want[:]) || m[MetaEncrypted] != "age" || m[MetaNode] != "10.0.2.5" {
		t.Errorf("metadata %v", m)
	}
	plain, err := Open(res.Key, bytes.NewReader(stored), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(plain)
	if err != nil || !bytes.Equal(got, snapshot) {
		t.Fatalf("decrypted snapshot differs (%v)", err)
	}
	if _, err := Open(res.Key, bytes.NewReader(stored), nil); err == nil {
		t.Error("an encrypted snapshot opened without its key")
	}
}

func TestRunFailsNamingEveryNode(t *testing.T) {
	_, err := Run(context.Background(), Job{Cluster: "c", Nodes: []string{"10.0.0.5", "10.0.1.5"}, TempDir: t.TempDir()},
		fakeSnap{"10.0.1.5": []byte("not a snapshot at all, far too short?")}, newMemStore())
	if err == nil || !strings.Contains(err.Error(), "10.0.0.5: connection refused") || !strings.Contains(err.Error(), "10.0.1.5: etcd snapshot: SHA-256 trailer") {
		t.Errorf("error %v", err)
	}
	if _, err := Run(context.Background(), Job{Cluster: "c"}, fakeSnap{}, newMemStore()); err == nil {
		t.Error("no nodes, no error")
	}
}

func TestRunPlainWhenNoRecipient(t *testing.T) {
	snapshot := withTrailer([]byte("db"))
	store := newMemStore()
	res, err := Run(context.Background(), Job{Cluster: "c", Nodes: []string{"10.0.0.5"}, TempDir: t.TempDir()}, fakeSnap{"10.0.0.5": snapshot}, store)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(res.Key, ".age") || !bytes.Equal(store.objects[res.Key], snapshot) || store.meta[res.Key][MetaEncrypted] != "" {
		t.Errorf("plain snapshot stored as %s", res.Key)
	}
}

func TestDayPrefixes(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 10, 0, 0, time.FixedZone("UTC+8", 8*3600)) // 2026-02-28 16:10 UTC
	got := DayPrefixes("prod", now, 2)
	if strings.Join(got, " ") != "prod/2026/02/28/ prod/2026/02/27/" {
		t.Errorf("prefixes %v, want UTC days, newest first", got)
	}
	k := Key("prod", now, "10.0.0.1", true)
	if !strings.HasPrefix(k, got[0]) {
		t.Errorf("key %s is not under today's prefix %s", k, got[0])
	}
}
