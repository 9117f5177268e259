package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/talos-aws/talos-aws/etcdguard/lambda/guard"
)

type oneNodeASG struct{ ins []guard.Instance }

func (a oneNodeASG) Instances(context.Context) ([]guard.Instance, error) {
	if a.ins == nil {
		return nil, fmt.Errorf("tagged group: %w", guard.ErrNoGroup)
	}
	return a.ins, nil
}
func (oneNodeASG) CompleteLifecycleAction(context.Context, guard.Instance, string) error { return nil }
func (oneNodeASG) RecordHeartbeat(context.Context, guard.Instance) error                 { return nil }

type streams map[string][]byte

func (s streams) EtcdSnapshot(_ context.Context, node string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(s[node])), nil
}

type bucket map[string]map[string]string

func (b bucket) Put(_ context.Context, key string, body io.ReadSeeker, _ int64, meta map[string]string) error {
	_, err := io.ReadAll(body)
	b[key] = meta
	return err
}
func (b bucket) Keys(context.Context, string) ([]string, error) { return nil, nil }

// TestBackupInputsDispatch: the schedule's and the pre-change input take a
// snapshot (with their reason); an unknown action is refused; with backups
// off the action fails naming the setting.
func TestBackupInputsDispatch(t *testing.T) {
	db := []byte("bbolt")
	sum := sha256.Sum256(db)
	store := bucket{}
	a := &app{backup: &guard.Backup{
		ASG: oneNodeASG{ins: []guard.Instance{{ID: "i-1", State: guard.InService, PrivateIP: "10.0.0.5"}}}, Snapshotter: streams{"10.0.0.5": append(db, sum[:]...)},
		Store: store, Cluster: "prod", TempDir: t.TempDir(),
	}}
	for input, reason := range map[string]string{`{"action":"backup"}`: "scheduled", `{"action":"backup","reason":"pre-change"}`: "pre-change"} {
		res, err := a.handle(context.Background(), json.RawMessage(input))
		if err != nil || res.Backup == nil || res.Backup.Reason != reason || !strings.HasPrefix(res.Backup.Key, "prod/") {
			t.Errorf("%s: %+v, %v", input, res.Backup, err)
			continue
		}
		if store[res.Backup.Key]["reason"] != reason {
			t.Errorf("%s: stored reason %q", input, store[res.Backup.Key]["reason"])
		}
	}
	a.backup.ASG = oneNodeASG{}
	res, err := a.handle(context.Background(), json.RawMessage(`{"action":"backup","reason":"pre-change"}`))
	if err != nil || res.Backup.Skipped != guard.NoControlPlane {
		t.Errorf("first up: %+v, %v; want success with %q", res.Backup, err, guard.NoControlPlane)
	}
	if _, err := a.handle(context.Background(), json.RawMessage(`{"action":"restore"}`)); err == nil || !strings.Contains(err.Error(), `unknown action "restore"`) {
		t.Errorf("unknown action: %v", err)
	}
	off := &app{}
	if _, err := off.handle(context.Background(), json.RawMessage(`{"action":"backup"}`)); err == nil || !strings.Contains(err.Error(), "backups.enabled") {
		t.Errorf("backups off: %v", err)
	}
}

func TestReadEnv(t *testing.T) {
	full := map[string]string{
		"GUARD_CLUSTER_NAME": "prod", "GUARD_ASG_TAGS": `{"Name":"prod-control-plane"}`, "GUARD_LAUNCH_HOOK": "l", "GUARD_TERMINATE_HOOK": "t",
		"GUARD_SECRET_ID": "s", "GUARD_SUSPECTS_PARAM": "p", "GUARD_BACKUP_BUCKET": "b",
	}
	_, err := readEnv(func(k string) string { return full[k] })
	if err == nil || !strings.Contains(err.Error(), "GUARD_BACKUP_KMS_KEY") {
		t.Errorf("a bucket without its key: %v", err)
	}
	full["GUARD_BACKUP_KMS_KEY"] = "arn:aws:kms:x"
	e, err := readEnv(func(k string) string { return full[k] })
	if err != nil || e.asgTags["Name"] != "prod-control-plane" || e.bucket != "b" {
		t.Errorf("env %+v, %v", e, err)
	}
	full["GUARD_ASG_TAGS"] = "prod-control-plane"
	if _, err := readEnv(func(k string) string { return full[k] }); err == nil || !strings.Contains(err.Error(), "GUARD_ASG_TAGS") {
		t.Errorf("malformed tags: %v", err)
	}
}

// machine is a three-voter etcd, every member healthy.
type machine struct{}

func (machine) EtcdMemberList(context.Context, string) ([]guard.Member, error) {
	var ms []guard.Member
	for i := 1; i <= 3; i++ {
		ms = append(ms, guard.Member{ID: uint64(i), Name: fmt.Sprint(i), PeerURLs: []string{fmt.Sprintf("https://10.0.0.%d:2380", i)}})
	}
	return ms, nil
}
func (machine) EtcdStatus(_ context.Context, ip string) (guard.Status, error) {
	var id uint64
	_, err := fmt.Sscanf(ip, "10.0.0.%d", &id)
	return guard.Status{MemberID: id, Leader: 1}, err
}
func (machine) EtcdForfeitLeadership(context.Context, string) (string, error) { return "", nil }
func (machine) EtcdLeaveCluster(context.Context, string) error {
	return fmt.Errorf("a paused guard makes no node leave")
}
func (machine) EtcdRemoveMemberByID(context.Context, string, uint64) error {
	return fmt.Errorf("a paused guard removes no member")
}
func (machine) ControlPlaneStatus(context.Context, string) (string, error) { return "", nil }

// beats counts heartbeats and refuses completions.
type beats struct {
	oneNodeASG
	n map[string]int
}

func (b beats) RecordHeartbeat(_ context.Context, in guard.Instance) error { b.n[in.ID]++; return nil }
func (beats) CompleteLifecycleAction(context.Context, guard.Instance, string) error {
	return fmt.Errorf("a paused guard completes no lifecycle action")
}

type noSuspects struct{}

func (noSuspects) Load(context.Context) (map[uint64]time.Time, error) { return nil, nil }
func (noSuspects) Save(context.Context, map[uint64]time.Time) error   { return nil }

// With GUARD_PAUSED a lifecycle event still runs the guard, which holds
// the terminating voter and says it is paused (issue 27: it only
// published metrics, and the termination went at the hook's timeout).
func TestPausedInvocationHoldsTerminations(t *testing.T) {
	asg := beats{n: map[string]int{}, oneNodeASG: oneNodeASG{ins: []guard.Instance{
		{ID: "i-1", State: guard.TerminatingWait, PrivateIP: "10.0.0.1", Healthy: true},
		{ID: "i-2", State: guard.InService, PrivateIP: "10.0.0.2", Healthy: true},
		{ID: "i-3", State: guard.InService, PrivateIP: "10.0.0.3", Healthy: true},
	}}}
	a := &app{paused: true, rec: &guard.Reconciler{Machine: machine{}, ASG: asg, Store: noSuspects{}, Policy: policy(true)}}
	res, err := a.handle(context.Background(), json.RawMessage(`{"detail-type":"EC2 Instance-terminate Lifecycle Action","detail":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Paused || len(res.Changes) != 0 || len(res.Completions) != 0 || len(res.Waits) == 0 || !strings.HasPrefix(res.Waits[0], "Paused:") || asg.n["i-1"] != 1 {
		t.Fatalf("result %+v, heartbeats %v; want paused, nothing changed, the terminating voter held", res, asg.n)
	}
}
