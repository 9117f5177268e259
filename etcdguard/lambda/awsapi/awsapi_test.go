package awsapi

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/talos-aws/talos-aws/etcdguard/contract"
	"github.com/talos-aws/talos-aws/etcdguard/lambda/guard"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestDatums(t *testing.T) {
	ds := Datums("demo", guard.Metrics{Known: true, VotingMembers: 3, HealthyMembers: 2, StaleMembers: 1, DegradedMembers: 1, HeldTerminations: 1}, now)
	got := map[string]float64{}
	for _, d := range ds {
		if len(d.Dimensions) != 1 || aws.ToString(d.Dimensions[0].Name) != contract.DimensionCluster || aws.ToString(d.Dimensions[0].Value) != "demo" {
			t.Fatalf("dimensions %v", d.Dimensions)
		}
		got[aws.ToString(d.MetricName)] = aws.ToFloat64(d.Value)
	}
	want := map[string]float64{contract.MetricVoting: 3, contract.MetricHealthy: 2, contract.MetricLearners: 0, contract.MetricStale: 1, contract.MetricDegraded: 1, contract.MetricBlind: 0, contract.MetricHeld: 1}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// Without a member list no voting or stale figure may be invented,
	// and the run counts as degraded (the alarm stops a refresh) and blind.
	blind := map[string]float64{}
	for _, d := range Datums("demo", guard.Metrics{HeldTerminations: 2}, now) {
		blind[aws.ToString(d.MetricName)] = aws.ToFloat64(d.Value)
	}
	if len(blind) != 4 || blind[contract.MetricHealthy] != 0 || blind[contract.MetricDegraded] != 1 || blind[contract.MetricBlind] != 1 || blind[contract.MetricHeld] != 2 {
		t.Fatalf("blind datums = %v", blind)
	}
}

func TestHookFollowsState(t *testing.T) {
	a := &ASG{LaunchHook: "l", TerminateHook: "t"}
	for st, want := range map[guard.Lifecycle]string{guard.PendingWait: "l", guard.TerminatingWait: "t"} {
		if h, err := a.hook(guard.Instance{ID: "i", State: st}); err != nil || h != want {
			t.Errorf("%s: hook %q, %v", st, h, err)
		}
	}
	if _, err := a.hook(guard.Instance{ID: "i", State: guard.InService}); err == nil {
		t.Error("an InService instance has no lifecycle action to complete")
	}
}
