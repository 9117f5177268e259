package awsapi

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/talos-aws/talos-aws/guard"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestDatums(t *testing.T) {
	ds := Datums("demo", guard.Metrics{Known: true, VotingMembers: 3, HealthyMembers: 2, StaleMembers: 1, DegradedMembers: 1}, now)
	got := map[string]float64{}
	for _, d := range ds {
		if len(d.Dimensions) != 1 || aws.ToString(d.Dimensions[0].Name) != DimensionCluster || aws.ToString(d.Dimensions[0].Value) != "demo" {
			t.Fatalf("dimensions %v", d.Dimensions)
		}
		got[aws.ToString(d.MetricName)] = aws.ToFloat64(d.Value)
	}
	want := map[string]float64{MetricVoting: 3, MetricHealthy: 2, MetricLearners: 0, MetricStale: 1, MetricDegraded: 1}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// Without a member list only "0 healthy" is known: no voting or stale
	// figure may be invented.
	blind := Datums("demo", guard.Metrics{}, now)
	if len(blind) != 1 || aws.ToString(blind[0].MetricName) != MetricHealthy || aws.ToFloat64(blind[0].Value) != 0 {
		t.Fatalf("blind datums = %+v", blind)
	}
}

func TestSampleTakesNewestPoints(t *testing.T) {
	s := sample([]cwtypes.MetricDataResult{
		{Id: aws.String("voting"), Timestamps: []time.Time{now.Add(-2 * time.Minute), now}, Values: []float64{4, 3}},
		{Id: aws.String("healthy"), Timestamps: []time.Time{now.Add(-time.Minute)}, Values: []float64{3}},
		{Id: aws.String("stale"), Timestamps: []time.Time{now}, Values: []float64{0}},
	})
	if !s.HasVoting || !s.HasHealthy || !s.HasStale || s.Voting != 3 || s.Healthy != 3 || s.Stale != 0 || !s.Time.Equal(now.Add(-time.Minute)) {
		t.Fatalf("sample = %+v", s)
	}
	if e := sample([]cwtypes.MetricDataResult{{Id: aws.String("voting")}}); e.HasVoting {
		t.Fatal("an empty series must not count as a sample")
	}
}

func TestRefreshes(t *testing.T) {
	start, end := now.Add(-time.Hour), now
	r := refreshes([]astypes.InstanceRefresh{{InstanceRefreshId: aws.String("r1"), Status: astypes.InstanceRefreshStatusRollbackSuccessful,
		StatusReason: aws.String("alarm"), StartTime: &start, EndTime: &end}})
	if len(r) != 1 || r[0].ID != "r1" || r[0].Status != "RollbackSuccessful" || r[0].StatusReason != "alarm" || !r[0].Start.Equal(start) || !r[0].End.Equal(end) {
		t.Fatalf("refreshes = %+v", r)
	}
	// The status names RolloutState keys on are the SDK's.
	if _, err := guard.RolloutState(r, start.Add(-time.Minute), 3, guard.Sample{}); err == nil {
		t.Fatal("a rolled-back refresh must stop the worker rollout")
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
