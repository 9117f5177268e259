package config

import (
	"fmt"
	"strings"

	"filippo.io/age"

	"github.com/talos-aws/talos-aws/internal/fielddoc"
)

// Backup bounds. Fifteen minutes is kops' etcd backup interval; twelve hours
// keeps the freshness alarm's window (two intervals) within one day.
const (
	minBackupInterval      = 15
	maxBackupInterval      = 720
	minBackupRetentionDays = 1
	maxBackupRetentionDays = 3650
)

// Backups are the scheduled etcd snapshots to S3.
type Backups struct {
	// Enabled: nil means "on for a highly available control plane"
	// (BackupsOn), so a single-node test stack pays for nothing.
	Enabled         *bool `json:"enabled,omitempty"`
	IntervalMinutes int   `json:"intervalMinutes"`
	RetentionDays   int   `json:"retentionDays"`
	// AgeRecipient is an age X25519 public key (age1...); each snapshot is
	// encrypted to it before upload. Empty: S3's SSE-KMS only.
	AgeRecipient string `json:"ageRecipient,omitempty"`
	// ObjectLockDays puts a GOVERNANCE-mode default retention on every
	// snapshot; 0 leaves Object Lock off.
	ObjectLockDays int `json:"objectLockDays,omitempty"`
}

// FieldDocs documents the fields for the configuration reference; the
// bounds are validateBackups'.
func (Backups) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"enabled":         {Doc: "Take scheduled etcd snapshots, and one before every control-plane change.", Default: "on when controlPlane.count > 1"},
		"intervalMinutes": {Doc: "Minutes between scheduled snapshots; the freshness alarm fires after two intervals without one.", Allowed: fmt.Sprintf("%d-%d", minBackupInterval, maxBackupInterval)},
		"retentionDays":   {Doc: "Days a snapshot (and a deleted one's noncurrent version) is kept.", Allowed: fmt.Sprintf("%d-%d", minBackupRetentionDays, maxBackupRetentionDays)},
		"ageRecipient":    {Doc: "An age public key each snapshot is encrypted to before upload; the private key never enters the stack.", Allowed: "an age X25519 recipient, age1... (`age-keygen -y`); never a private key"},
		"objectLockDays":  {Doc: "S3 Object Lock GOVERNANCE retention of each snapshot; 0 is off. Once on, S3 never turns Object Lock off again: back to 0 only drops the default retention.", Allowed: "0, or days up to retentionDays"},
	}
}

// DefaultBackups: hourly, kept two weeks.
func DefaultBackups() Backups {
	return Backups{IntervalMinutes: 60, RetentionDays: 14}
}

// BackupsOn reports whether the stack takes etcd snapshots: as configured,
// or by default whenever the control plane has more than one node.
func BackupsOn(c *Config) bool {
	if c.Backups.Enabled != nil {
		return *c.Backups.Enabled
	}
	return c.ControlPlane.Count > 1
}

func validateBackups(c *Config, errs *ErrorList, w *Warnings) {
	b := c.Backups
	if !BackupsOn(c) {
		if c.ControlPlane.Count > 1 {
			w.Add("backups.enabled", "false: a control plane that loses etcd quorum can then only be rebuilt empty")
		} else {
			// Said plainly: the one node's loss is the cluster's (docs/etcd-guard.md#runbook-restore-a-lost-control-plane).
			w.Add("backups.enabled", "off, the default for one control-plane node: if that node dies the cluster is lost, because its root volume, which holds etcd, is deleted with the instance (deleteOnTermination) and no snapshot is left to restore from; set backups.enabled true to keep snapshots in S3")
		}
		return
	}
	if b.IntervalMinutes < minBackupInterval || b.IntervalMinutes > maxBackupInterval {
		errs.Invalid("backups.intervalMinutes", b.IntervalMinutes, fmt.Sprintf("must be between %d and %d minutes", minBackupInterval, maxBackupInterval))
	}
	if b.RetentionDays < minBackupRetentionDays || b.RetentionDays > maxBackupRetentionDays {
		errs.Invalid("backups.retentionDays", b.RetentionDays, fmt.Sprintf("must be between %d and %d days", minBackupRetentionDays, maxBackupRetentionDays))
	}
	if b.AgeRecipient != "" {
		if strings.HasPrefix(strings.ToUpper(b.AgeRecipient), "AGE-SECRET-KEY-") {
			errs.Forbidden("backups.ageRecipient", "is an age private key: give its public recipient (age1..., from `age-keygen -y`) and keep the private key out of the stack")
		} else if _, err := age.ParseX25519Recipient(b.AgeRecipient); err != nil {
			errs.Invalid("backups.ageRecipient", b.AgeRecipient, "must be an age X25519 recipient (age1..., from `age-keygen`)")
		}
	}
	switch {
	case b.ObjectLockDays < 0:
		errs.Invalid("backups.objectLockDays", b.ObjectLockDays, "must be 0 (off) or a number of days")
	case b.ObjectLockDays > b.RetentionDays && b.RetentionDays >= minBackupRetentionDays:
		errs.Invalid("backups.objectLockDays", b.ObjectLockDays, fmt.Sprintf("must not exceed backups.retentionDays (%d): a locked snapshot cannot expire", b.RetentionDays))
	}
}
