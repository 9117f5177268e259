package etcdguard

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

var now = t0

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
	if _, err := RolloutState(r, start.Add(-time.Minute), 3, Sample{}, true); err == nil {
		t.Fatal("a rolled-back refresh must stop the worker rollout")
	}
}
