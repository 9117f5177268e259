package images

import (
	"strings"
	"testing"
)

func TestSnapshotCost(t *testing.T) {
	// Two AMIs (amd64 control plane, arm64 GPU pool) at the assumed 1 GiB.
	c := CostOf(2, AssumedStoredBytes, Prices)
	if c.Monthly != 0.10 {
		t.Errorf("2 × 1 GiB: $%.2f/month, want $0.10", c.Monthly)
	}
	// 2 × 2048 blocks × $0.006/1000 = $0.02 once.
	if c.OneOff != 0.02 {
		t.Errorf("one-off $%.2f, want $0.02", c.OneOff)
	}
	if !strings.Contains(c.Detail, "2 × 1.00 GB × $0.050/GB-month") || !strings.Contains(c.Detail, "not observed") {
		t.Errorf("detail %q", c.Detail)
	}
	// What is stored, not the 8 GiB volume: 300 blocks written.
	c = CostOf(1, 300*BlockSize, Prices)
	if c.Monthly != 0.01 || !strings.Contains(c.Detail, "0.15 GB") {
		t.Errorf("300 blocks: %+v", c)
	}
	if CostOf(0, AssumedStoredBytes, Prices).Monthly != 0 {
		t.Error("no AMI costs something")
	}
}
