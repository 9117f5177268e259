package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

func freeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return url.URL{Scheme: "http", Host: addr}
}

// startEtcd runs a one-member etcd v3.6.7 in dir, as Talos runs its member.
func startEtcd(t *testing.T, name, dir string, peer, client url.URL) (*embed.Etcd, *clientv3.Client) {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir, cfg.LogLevel = name, dir, "error"
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.InitialCluster = name + "=" + peer.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		t.Fatal("etcd did not become ready")
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{client.String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	return e, c
}

// etcdSnapshotter is what Talos' EtcdSnapshot does on a node: the etcd v3
// client's Maintenance.Snapshot, streamed as is (talos v1.12.0
// v1alpha1_server.go EtcdSnapshot).
type etcdSnapshotter struct{ c *clientv3.Client }

func (s etcdSnapshotter) EtcdSnapshot(ctx context.Context, _ string) (io.ReadCloser, error) {
	return s.c.Snapshot(ctx)
}

// The restore drill: data in a real etcd, a snapshot taken and stored the
// way the stack stores it (age-encrypted, in an S3 stand-in), the member
// lost, the snapshot fetched, decrypted, checked and restored the way
// Talos' `bootstrap --recover-from` restores it, and the data read back.
func TestRestoreFromStoredSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd twice")
	}
	ctx := context.Background()
	root := t.TempDir()
	step := func(name string, start time.Time) {
		t.Logf("%-52s %8.1f ms", name, float64(time.Since(start).Microseconds())/1000)
	}

	// 1. A cluster with data: 2000 objects of 1 KiB, then an update, so the
	//    snapshot holds history as well.
	t0 := time.Now()
	peer, client := freeURL(t), freeURL(t)
	e, c := startEtcd(t, "cp-1", filepath.Join(root, "etcd"), peer, client)
	step("start etcd v3.6.7", t0)
	t0 = time.Now()
	value := strings.Repeat("x", 1024)
	const n = 2000
	for i := range n {
		if _, err := c.Put(ctx, fmt.Sprintf("/registry/configmaps/default/cm-%04d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	put, err := c.Put(ctx, "/registry/sentinel", "before-disaster")
	if err != nil {
		t.Fatal(err)
	}
	wantRev := put.Header.Revision
	step(fmt.Sprintf("write %d keys (revision %d)", n+1, wantRev), t0)

	// 2. Take and store it as the stack does.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	t0 = time.Now()
	res, err := Run(ctx, Job{Cluster: "prod", Nodes: []string{"10.0.1.5"}, Recipient: id.Recipient(), TempDir: root}, etcdSnapshotter{c}, store)
	if err != nil {
		t.Fatal(err)
	}
	step(fmt.Sprintf("snapshot, verify, age-encrypt, store (%d KiB)", res.Bytes/1024), t0)
	t.Logf("stored as %s, sha256 %s, revision %d", res.Key, res.SHA256, res.Revision)
	// The revision recorded with it is the one etcd reached (and the one
	// `etcdutl snapshot status` reads back below).
	if res.Revision != wantRev || store.meta[res.Key][MetaRevision] != fmt.Sprint(wantRev) {
		t.Errorf("recorded revision %d (metadata %q), want %d", res.Revision, store.meta[res.Key][MetaRevision], wantRev)
	}

	// 3. Disaster: the member and its data are gone; writes after the
	//    snapshot are lost with it.
	if _, err := c.Put(ctx, "/registry/sentinel", "after-snapshot"); err != nil {
		t.Fatal(err)
	}
	_ = c.Close() //nolint:errcheck // closing
	e.Close()
	if err := os.RemoveAll(filepath.Join(root, "etcd")); err != nil {
		t.Fatal(err)
	}

	// 4. Get it back: fetch, decrypt, check the trailer and status
	//    (`etcdutl snapshot status`).
	t0 = time.Now()
	plain, err := Open(res.Key, bytes.NewReader(store.objects[res.Key]), id)
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(root, "restore.db")
	f, err := os.Create(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, plain); err != nil {
		t.Fatal(err)
	}
	if err := VerifyTrailer(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	step("fetch, decrypt, verify trailer", t0)
	t0 = time.Now()
	mgr := snapshot.NewV3(zap.NewNop())
	st, err := mgr.Status(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	step(fmt.Sprintf("snapshot status: revision %d, %d keys, %d KiB", st.Revision, st.TotalKey, st.TotalSize/1024), t0)
	if st.Revision != wantRev {
		t.Errorf("snapshot at revision %d, want %d", st.Revision, wantRev)
	}

	// 5. Restore as Talos' recoverFromSnapshot does (talos v1.12.0
	//    internal/app/machined/pkg/system/services/etcd.go: Status, then
	//    Restore with the member's name, data dir, peer URLs and a
	//    one-member initial cluster; the hash is checked).
	t0 = time.Now()
	peer2, client2 := freeURL(t), freeURL(t)
	dataDir := filepath.Join(root, "restored")
	if err := mgr.Restore(snapshot.RestoreConfig{
		SnapshotPath: dbPath, Name: "cp-2", OutputDataDir: dataDir,
		PeerURLs: []string{peer2.String()}, InitialCluster: "cp-2=" + peer2.String(),
	}); err != nil {
		t.Fatal(err)
	}
	step("etcdutl snapshot restore into a new data dir", t0)

	// 6. Start on it and read the data back.
	t0 = time.Now()
	e2, c2 := startEtcd(t, "cp-2", dataDir, peer2, client2)
	defer e2.Close()
	defer c2.Close() //nolint:errcheck // closing
	step("start etcd on the restored data", t0)
	t0 = time.Now()
	got, err := c2.Get(ctx, "/registry/configmaps/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != n {
		t.Errorf("%d objects after restore, want %d", got.Count, n)
	}
	sentinel, err := c2.Get(ctx, "/registry/sentinel")
	if err != nil {
		t.Fatal(err)
	}
	if len(sentinel.Kvs) != 1 || string(sentinel.Kvs[0].Value) != "before-disaster" {
		t.Errorf("sentinel %v, want the value at snapshot time", sentinel.Kvs)
	}
	one, err := c2.Get(ctx, "/registry/configmaps/default/cm-1234")
	if err != nil || len(one.Kvs) != 1 || string(one.Kvs[0].Value) != value {
		t.Errorf("cm-1234 not restored intact: %v", err)
	}
	if members, err := c2.MemberList(ctx); err != nil || len(members.Members) != 1 || members.Members[0].Name != "cp-2" {
		t.Errorf("restored cluster members %v (%v), want only the new member", members, err)
	}
	// Writes continue from the snapshot's revision.
	if p, err := c2.Put(ctx, "/registry/sentinel", "after-restore"); err != nil || p.Header.Revision <= wantRev {
		t.Errorf("write after restore: %v", err)
	}
	step("read back and write", t0)
}
