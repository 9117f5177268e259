package compute

import "testing"

func TestRefreshMaxHealthyPercentage(t *testing.T) {
	// AWS rounds the instance count down: count*max/100 must be count+1.
	for _, n := range []int{1, 2, 3, 4, 5, 7} {
		p := RefreshMaxHealthyPercentage(n)
		if got := n * p / 100; got != n+1 {
			t.Errorf("count %d: max %d%% allows %d instances, want %d", n, p, got, n+1)
		}
		if p > 200 {
			t.Errorf("count %d: max %d%% is above the AWS limit of 200", n, p)
		}
	}
}
