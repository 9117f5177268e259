package contract

import "testing"

// The statuses of autoscaling's InstanceRefreshStatus enum: under way, or
// ended (either way the refresh no longer moves nodes).
func TestRefreshActive(t *testing.T) {
	for _, s := range []string{"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"} {
		if !RefreshActive(s) {
			t.Errorf("%s is under way", s)
		}
	}
	for _, s := range []string{"Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed", ""} {
		if RefreshActive(s) {
			t.Errorf("%q has ended", s)
		}
	}
}
