package etcdguard

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestRolloutState(t *testing.T) {
	since := t0
	ok := Sample{Time: t0.Add(time.Hour), Voting: 3, Healthy: 3, HasVoting: true, HasHealthy: true, HasStale: true}
	cases := []struct {
		name      string
		refreshes []Refresh
		sample    Sample
		done      bool
		wait, err string
		paused    bool
	}{
		{name: "no refresh at all: nothing rolled, done", done: true},
		{name: "no refresh, etcd at the count: done", sample: ok, done: true},
		{name: "no refresh, count lowered 5 to 3: wait for the guard's scale-in",
			sample: Sample{Time: t0, Voting: 5, Healthy: 5, HasVoting: true, HasHealthy: true, HasStale: true}, wait: "etcd has 5 voting members; want 3"},
		{name: "no refresh, count raised: wait for the new members",
			sample: Sample{Time: t0, Voting: 2, Healthy: 2, HasVoting: true, HasHealthy: true, HasStale: true}, wait: "want 3"},
		{name: "no refresh, a degraded member at the count: done (the degraded alarm's business, not the workers')",
			sample: Sample{Time: t0, Voting: 3, Healthy: 2, Stale: 0, HasVoting: true, HasHealthy: true, HasStale: true}, done: true},
		{name: "no refresh, count lowered with the guard paused: nothing would scale, done",
			sample: Sample{Time: t0, Voting: 5, Healthy: 5, HasVoting: true, HasHealthy: true, HasStale: true}, paused: true, done: true},
		{name: "only an old refresh from an earlier up: done", refreshes: []Refresh{{ID: "r0", Status: "Failed", Start: t0.Add(-time.Hour)}}, done: true},
		{name: "runner clock a minute ahead: the refresh it started still counts", refreshes: []Refresh{{ID: "r1", Status: "RollbackFailed", Start: t0.Add(-time.Minute)}},
			err: "r1 ended RollbackFailed"},
		{name: "refresh running: wait", refreshes: []Refresh{{ID: "r1", Status: "InProgress", Start: t0.Add(time.Minute)}}, wait: "r1 is InProgress"},
		{name: "an older refresh still running also blocks", refreshes: []Refresh{{ID: "r0", Status: "Cancelling", Start: t0.Add(-time.Hour)}}, wait: "r0 is Cancelling"},
		{name: "refresh rolled back (by hand: the alarm only stops it): error", refreshes: []Refresh{{ID: "r1", Status: "RollbackSuccessful", StatusReason: "alarm etcd-degraded", Start: t0.Add(time.Minute)}},
			err: "r1 ended RollbackSuccessful (alarm etcd-degraded); worker pools were not rolled"},
		{name: "refresh done, no audit since: wait", refreshes: []Refresh{{ID: "r1", Status: "Successful", Start: t0.Add(time.Minute), End: t0.Add(2 * time.Hour)}},
			sample: ok, wait: "first audit after refresh r1"},
		{name: "refresh done, etcd short a member: wait", refreshes: []Refresh{{ID: "r1", Status: "Successful", Start: t0.Add(time.Minute), End: t0.Add(30 * time.Minute)}},
			sample: Sample{Time: t0.Add(time.Hour), Voting: 3, Healthy: 2, Stale: 1, HasVoting: true, HasHealthy: true, HasStale: true}, wait: "3 voting, 2 healthy, 1 stale"},
		{name: "refresh done, etcd whole: done", refreshes: []Refresh{{ID: "r1", Status: "Successful", Start: t0.Add(time.Minute), End: t0.Add(30 * time.Minute)}},
			sample: ok, done: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := RolloutState(c.refreshes, since, 3, c.sample, !c.paused)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Done != c.done || !strings.Contains(r.Wait, c.wait) {
				t.Fatalf("result = %+v, want done=%v wait~%q", r, c.done, c.wait)
			}
		})
	}
}
