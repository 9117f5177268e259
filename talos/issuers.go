package talos

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Issuers is what the API servers accept as service-account token issuers,
// as the stack records it after each `up` (its serviceAccountIssuers
// output): Accepted[0] signs new tokens, every entry is accepted; Since is
// when the control plane finished rolling onto Accepted (RFC 3339).
type Issuers struct {
	Accepted []string `json:"accepted"`
	Since    string   `json:"since,omitempty"`
}

// IssuerGrace is how long an issuer that no longer signs stays accepted
// after the control plane rolled onto its successor. The kubelet renews a
// projected service-account token when it is older than 80 % of its
// lifetime or than 24 hours (Kubernetes docs, "Configure Service Accounts
// for Pods", Token rotation), so 24 hours after the roll every projected
// token a pod holds was signed by the new issuer.
const IssuerGrace = 24 * time.Hour

// IssuerPlan is what the API servers are configured with on this `up`.
type IssuerPlan struct {
	// Accepted is the --service-account-issuer list, the signing issuer
	// first.
	Accepted []string
	// Note says, for the preview, why an old issuer is kept or dropped;
	// empty when nothing moves.
	Note string
}

// PlanIssuers decides the API servers' issuers from what the last `up`
// recorded (prev; zero for a new stack or one deployed before the record
// existed), the issuer this configuration signs with (want: the workload
// identity issuer, or the cluster endpoint Talos defaults to), whether the
// nodes' Talos takes several (list-valued extraArgs, from 1.13), and now.
// A move keeps the old issuers accepted behind the new one; a later `up`,
// once the roll is IssuerGrace old, drops them (another roll).
func PlanIssuers(prev Issuers, want string, multi bool, now time.Time) IssuerPlan {
	if !multi || len(prev.Accepted) == 0 {
		return IssuerPlan{Accepted: []string{want}}
	}
	if prev.Accepted[0] != want {
		next := []string{want}
		for _, a := range prev.Accepted {
			if !slices.Contains(next, a) {
				next = append(next, a)
			}
		}
		return IssuerPlan{Accepted: next, Note: fmt.Sprintf(
			"service-account issuer: the API servers sign with %s and keep accepting %s, so tokens pods hold now stay valid; the first `up` %s after the control plane has rolled drops the old issuer (another control-plane roll)",
			want, strings.Join(next[1:], ", "), IssuerGrace)}
	}
	if len(prev.Accepted) == 1 {
		return IssuerPlan{Accepted: []string{want}}
	}
	since, err := time.Parse(time.RFC3339, prev.Since)
	if err == nil && now.Sub(since) >= IssuerGrace {
		return IssuerPlan{Accepted: []string{want}, Note: fmt.Sprintf(
			"service-account issuer: %s no longer accepted: the control plane rolled onto %s at %s, more than %s ago, so every projected token was renewed since; the control plane rolls",
			strings.Join(prev.Accepted[1:], ", "), want, prev.Since, IssuerGrace)}
	}
	until := "once this `up` has rolled the control plane"
	if err == nil {
		until = "from " + since.Add(IssuerGrace).UTC().Format(time.RFC3339)
	}
	return IssuerPlan{Accepted: slices.Clone(prev.Accepted), Note: fmt.Sprintf(
		"service-account issuer: %s still accepted beside %s; the first `up` %s drops it",
		strings.Join(prev.Accepted[1:], ", "), want, until)}
}

// MultipleIssuers reports whether nodes of a Talos version take several
// service-account issuers: list-valued extraArgs came with Talos 1.13
// (v1alpha1_types.go Args, ArgValue, v1.13.0).
func MultipleIssuers(talosVersion string) bool {
	var major, minor, patch int
	if _, err := fmt.Sscanf(talosVersion, "v%d.%d.%d", &major, &minor, &patch); err != nil {
		return false
	}
	return major > 1 || minor >= 13
}

// issuerArgs is the --service-account-issuer value the patch sets: none
// when the API servers take Talos' default alone (the cluster endpoint),
// so a stack without workload identity keeps the configuration it had.
func issuerArgs(accepted []string, endpoint string) []string {
	if len(accepted) == 0 || (len(accepted) == 1 && accepted[0] == endpoint) {
		return nil
	}
	return accepted
}
