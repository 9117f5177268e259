package config

import (
	"strings"
	"testing"
)

// A real recipient (age-keygen -y of a throwaway key).
const testRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

func TestBackupsDefaultOnForHAOnly(t *testing.T) {
	ha, _, err := Parse(src(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !BackupsOn(ha) || ha.Backups.IntervalMinutes != 60 || ha.Backups.RetentionDays != 14 {
		t.Errorf("three control-plane nodes: backups on=%v %+v, want on, hourly, 14 days", BackupsOn(ha), ha.Backups)
	}
	single, _, err := Parse(src(map[string]string{"controlPlane": `{"count":1}`}))
	if err != nil {
		t.Fatal(err)
	}
	if BackupsOn(single) {
		t.Error("one control-plane node: backups should default to off")
	}
	forced, _, err := Parse(src(map[string]string{"controlPlane": `{"count":1}`, "backups": `{"enabled":true}`}))
	if err != nil {
		t.Fatal(err)
	}
	if !BackupsOn(forced) || forced.Backups.IntervalMinutes != 60 {
		t.Errorf("explicit enabled on a single node ignored, or defaults lost: %+v", forced.Backups)
	}
	_, w, err := Parse(src(map[string]string{"backups": `{"enabled":false}`}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(w, "\n"), "backups.enabled") {
		t.Errorf("turning backups off on an HA stack should warn, got %v", w)
	}
}

func TestBackupsBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		backups string
		want    []string // "" = accepted
	}{
		"interval and retention out of range": {`{"intervalMinutes":5,"retentionDays":0}`,
			[]string{"backups.intervalMinutes: Invalid value: 5: must be between 15 and 720 minutes", "backups.retentionDays: Invalid value: 0: must be between 1 and 3650 days"}},
		"private key instead of recipient": {`{"ageRecipient":"AGE-SECRET-KEY-1QQQ"}`, []string{"backups.ageRecipient: Forbidden: is an age private key"}},
		"not a recipient":                  {`{"ageRecipient":"ssh-ed25519 AAAA"}`, []string{"backups.ageRecipient: Invalid value", "age1..."}},
		"lock longer than retention":       {`{"retentionDays":7,"objectLockDays":30}`, []string{"backups.objectLockDays: Invalid value: 30: must not exceed backups.retentionDays (7)"}},
		"unknown field":                    {`{"schedule":"rate(1 hour)"}`, []string{"backups.schedule: Invalid value: unknown key", "valid keys: ageRecipient, enabled, intervalMinutes"}},
		"all good":                         {`{"intervalMinutes":30,"retentionDays":30,"ageRecipient":"` + testRecipient + `","objectLockDays":7}`, nil},
		"off skips the checks":             {`{"enabled":false,"intervalMinutes":1}`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Parse(src(map[string]string{"backups": tc.backups}))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// One control-plane node with backups off (its default): the preview says
// plainly that its death loses the cluster, and what of the root volume.
func TestOneNodeWithoutBackupsWarnsPlainly(t *testing.T) {
	_, w, err := Parse(src(map[string]string{"controlPlane": `{"count":1,"instanceType":"m7i.large"}`}))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range w {
		if strings.HasPrefix(x, "backups.enabled: off") && strings.Contains(x, "the cluster is lost") && strings.Contains(x, "root volume") {
			found = true
		}
	}
	if !found {
		t.Errorf("warnings %v", w)
	}
	_, w, err = Parse(src(map[string]string{"controlPlane": `{"count":1,"instanceType":"m7i.large"}`, "backups": `{"enabled":true}`}))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range w {
		if strings.Contains(x, "the cluster is lost") {
			t.Errorf("warned with backups on: %s", x)
		}
	}
}
