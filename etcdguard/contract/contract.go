// Package contract is all the etcd guard's two sides share: the stack
// (package etcdguard) deploys and reads the function, the Lambda (the
// etcdguard/lambda tree) runs it. Each side imports this package and
// nothing of the other.
package contract

import "encoding/json"

// Environment variables the stack sets on the function.
const (
	// EnvClusterName is the metric dimension and the snapshot key prefix.
	EnvClusterName = "GUARD_CLUSTER_NAME"
	// EnvASGTags is a JSON tag map that finds the control-plane group (the
	// function exists before the group does).
	EnvASGTags       = "GUARD_ASG_TAGS"
	EnvLaunchHook    = "GUARD_LAUNCH_HOOK"
	EnvTerminateHook = "GUARD_TERMINATE_HOOK"
	// EnvSecretID is the Secrets Manager secret holding the admin talosconfig.
	EnvSecretID = "GUARD_SECRET_ID"
	// EnvSuspectsParam is the SSM parameter the audit keeps suspects in.
	EnvSuspectsParam = "GUARD_SUSPECTS_PARAM"
	// EnvPaused "true": observe, publish metrics and hold the terminations
	// that may hold a member; change and complete nothing.
	EnvPaused = "GUARD_PAUSED"
	// EnvBackupBucket is the backup bucket; unset: backups are off.
	EnvBackupBucket = "GUARD_BACKUP_BUCKET"
	// EnvBackupKMSKey is the bucket's KMS key ARN.
	EnvBackupKMSKey = "GUARD_BACKUP_KMS_KEY"
	// EnvBackupAgeRecipient is an optional age recipient (public key).
	EnvBackupAgeRecipient = "GUARD_BACKUP_AGE_RECIPIENT"
)

// Names of the control-plane group's lifecycle hooks.
const (
	LaunchHook    = "etcd-guard-launch"
	TerminateHook = "etcd-guard-terminate"
)

// Membership metrics the guard publishes; the stack's degraded alarm and
// the control-plane rollout wait read them.
const (
	Namespace        = "TalosAWS/EtcdGuard"
	DimensionCluster = "ClusterName"
	MetricVoting     = "EtcdVotingMembers"
	MetricHealthy    = "EtcdHealthyMembers"
	MetricLearners   = "EtcdLearnerMembers"
	MetricStale      = "EtcdStaleMembers"
	MetricDegraded   = "EtcdDegradedMembers"
	// MetricBlind is 1 for a run that could not read the member list.
	MetricBlind = "EtcdGuardBlind"
	// MetricHeld counts terminations the guard holds because letting them
	// go would cost quorum or the last voter (or it cannot see whether).
	MetricHeld = "EtcdHeldTerminations"
)

// The backup freshness metric, published after each backup run; the
// stack's freshness alarm reads it.
const (
	BackupNamespace = "TalosAWS/EtcdBackup"
	BackupMetric    = "NewestSnapshotAgeSeconds"
	BackupDimension = "ClusterName"
)

// ActionBackup is the invocation action that takes a snapshot.
const ActionBackup = "backup"

// Invocation is the input the stack invokes the function with for a
// snapshot (its schedule, and the pre-change snapshot); EventBridge's own
// events (lifecycle actions, the audit schedule) carry no action.
type Invocation struct {
	Action string `json:"action"`
	// Reason is stored with the snapshot ("scheduled", "pre-change").
	Reason string `json:"reason"`
}

// BackupInput is the JSON input of a snapshot invocation.
func BackupInput(reason string) string {
	b, _ := json.Marshal(Invocation{Action: ActionBackup, Reason: reason}) //nolint:errchkjson // strings only
	return string(b)
}

// RefreshActive reports whether an instance refresh status (autoscaling
// InstanceRefreshStatus) is one of a refresh still under way: the rollout
// wait of `up` waits for it, and the guard scales nothing in during it.
func RefreshActive(status string) bool {
	switch status {
	case "Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking":
		return true
	}
	return false
}
