package talos

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Accepted is what the API servers accept, as the stack records it after
// each `up`: service-account token issuers (output serviceAccountIssuers:
// Accepted[0] signs new tokens, every entry is accepted) or token
// audiences (apiAudiences); Since is when the control plane finished
// rolling onto Accepted (RFC 3339).
type Accepted struct {
	Accepted []string `json:"accepted"`
	Since    string   `json:"since,omitempty"`
}

// IssuerGrace is how long an issuer (or audience) no longer primary stays accepted
// after the control plane rolled onto its successor. The kubelet renews a
// projected service-account token when it is older than 80 % of its
// lifetime or than 24 hours (Kubernetes docs, "Configure Service Accounts
// for Pods", Token rotation), so 24 hours after the roll every projected
// token a pod holds was signed by the new issuer.
const IssuerGrace = 24 * time.Hour

// Plan is what the API servers are configured with on this `up`.
type Plan struct {
	// Accepted is the --service-account-issuer (or --api-audiences) list,
	// the primary first.
	Accepted []string
	// Note says, for the preview, why an old issuer is kept or dropped;
	// empty when nothing moves.
	Note string
}

// PlanIssuers decides the API servers' issuers from what the last `up`
// recorded (prev; zero for a new stack), the issuer this configuration
// signs with (want: the workload identity issuer, or the cluster endpoint
// Talos defaults to), whether the nodes' Talos takes several (list-valued
// extraArgs, from 1.13), and now. A move keeps the old issuers accepted
// behind the new one; a later `up`, once the roll is IssuerGrace old,
// drops them (another roll).
func PlanIssuers(prev Accepted, want string, multi bool, now time.Time) Plan {
	return plan("service-account issuer", prev, want, multi, now)
}

// PlanAudiences is PlanIssuers for the API servers' token audiences
// (--api-audiences, which Talos sets to the cluster endpoint): a new
// endpoint keeps the old audience, which every token pods hold names.
// kube-apiserver reads the flag as a comma-separated list, so every Talos
// version takes several.
func PlanAudiences(prev Accepted, want string, now time.Time) Plan {
	return plan("token audience", prev, want, true, now)
}

func plan(what string, prev Accepted, want string, multi bool, now time.Time) Plan {
	if !multi || len(prev.Accepted) == 0 {
		return Plan{Accepted: []string{want}}
	}
	if prev.Accepted[0] != want {
		next := []string{want}
		for _, a := range prev.Accepted {
			if !slices.Contains(next, a) {
				next = append(next, a)
			}
		}
		return Plan{Accepted: next, Note: fmt.Sprintf(
			"%s: the API servers take %s first and keep accepting %s, so tokens pods hold now stay valid; the first `up` %s after the control plane has rolled drops the old one (another control-plane roll)",
			what, want, strings.Join(next[1:], ", "), IssuerGrace)}
	}
	if len(prev.Accepted) == 1 {
		return Plan{Accepted: []string{want}}
	}
	since, err := time.Parse(time.RFC3339, prev.Since)
	if err == nil && now.Sub(since) >= IssuerGrace {
		return Plan{Accepted: []string{want}, Note: fmt.Sprintf(
			"%s: %s no longer accepted: the control plane rolled onto %s at %s, more than %s ago, so every projected token was renewed since; the control plane rolls",
			what, strings.Join(prev.Accepted[1:], ", "), want, prev.Since, IssuerGrace)}
	}
	until := "once this `up` has rolled the control plane"
	if err == nil {
		until = "from " + since.Add(IssuerGrace).UTC().Format(time.RFC3339)
	}
	return Plan{Accepted: slices.Clone(prev.Accepted), Note: fmt.Sprintf(
		"%s: %s still accepted beside %s; the first `up` %s drops it",
		what, strings.Join(prev.Accepted[1:], ", "), want, until)}
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

// defaultArgs is the value a patch sets for --service-account-issuer or
// --api-audiences: none when the API servers take Talos' default alone
// (the cluster endpoint), so a stack keeps the configuration it had.
func defaultArgs(accepted []string, endpoint string) []string {
	if len(accepted) == 0 || (len(accepted) == 1 && accepted[0] == endpoint) {
		return nil
	}
	return accepted
}
