package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/talos-aws/talos-aws/internal/fielddoc"
)

// Who may reach the Kubernetes and Talos APIs (apiAccess), and HTTPS
// ingress (ingressAccess).
const (
	AccessPublic  = "public"
	AccessPrivate = "private"
)

var accessModes = []string{AccessPublic, AccessPrivate}

// Endpoint is how nodes and clients name the cluster.
type Endpoint struct {
	// Stable: the cluster endpoint is a name the stack owns in a Route 53
	// private hosted zone (StableHost), not a load balancer's DNS name.
	// Unset: on for a new stack, off for one deployed before it existed
	// (moving rolls every node: an explicit choice).
	Stable *bool `json:"stable"`
	// PublicName, in the Route 53 public hosted zone PublicZoneID that the
	// user owns, names the public load balancer; it is in the certificates
	// and in the kubeconfig and talosconfig.
	PublicName   string `json:"publicName"`
	PublicZoneID string `json:"publicZoneId"`
}

// FieldDocs documents the fields for the configuration reference; the
// rules are validateEndpoint's.
func (Endpoint) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"stable": {Doc: "The cluster endpoint is api.<clusterName>.talos.internal in a Route 53 private hosted zone the stack owns, not a load balancer's DNS name. Moving an existing stack rolls every node once.",
			Default: "true for a new stack; false for one deployed before it existed"},
		"publicName": {Doc: "A name in a Route 53 public hosted zone you own for the public load balancer; it is in the certificates, the kubeconfig and the talosconfig. Not with apiAccess private.",
			Allowed: "a lowercase DNS name (api.prod.example.com), with publicZoneId"},
		"publicZoneId": {Doc: "The public hosted zone that holds publicName.", Allowed: "a Route 53 hosted zone ID, Z and 1-31 letters or digits, with publicName"},
	}
}

// StableZone is the private hosted zone of a cluster's stable endpoint:
// .internal is reserved for private use (ICANN, 2024), so it never
// collides with a public name.
func StableZone(cluster string) string { return cluster + ".talos.internal" }

// StableHost is the stable cluster endpoint's host name.
func StableHost(cluster string) string { return "api." + StableZone(cluster) }

// IsStableEndpoint reports whether a cluster endpoint URL is the stable one.
func IsStableEndpoint(url string) bool {
	return strings.Contains(url, ".talos.internal:")
}

// StableEndpoint reports whether the stack uses the stable endpoint
// (resolved by ParseDeployed).
func (c *Config) StableEndpoint() bool { return c.Endpoint.Stable != nil && *c.Endpoint.Stable }

// PrivateAPI reports whether the Kubernetes and Talos APIs are reachable
// only through the internal load balancer.
func (c *Config) PrivateAPI() bool { return c.APIAccess == AccessPrivate }

// PrivateIngress reports whether HTTPS ingress is on the internal load
// balancer only.
func (c *Config) PrivateIngress() bool { return c.IngressAccess == AccessPrivate }

// HasJumpHost reports whether the stack runs its SSM jump host: jumpHost
// with a private API (validation refuses it with a public one).
func (c *Config) HasJumpHost() bool { return c.JumpHost && c.PrivateAPI() }

// NeedsPublicLB reports whether anything is served on a public load
// balancer.
func (c *Config) NeedsPublicLB() bool { return !c.PrivateAPI() || !c.PrivateIngress() }

// resolveStable fills Endpoint.Stable when unset: on for a new stack; for
// an existing one, what its last `up` recorded (its clusterEndpoint).
func resolveStable(c *Config, d Deployed, w *Warnings) {
	if c.Endpoint.Stable != nil {
		return
	}
	stable := !d.Exists || IsStableEndpoint(d.ClusterEndpoint)
	c.Endpoint.Stable = &stable
	if !stable {
		w.Add("endpoint.stable", "not set: this existing stack keeps its load balancer's DNS name as the cluster endpoint; "+
			"set endpoint.stable to true to move to %s (every node rolls once: its machine configuration names the new endpoint, and the old one stays an accepted token audience and issuer as Talos allows; docs/networking.md#the-cluster-endpoint)", StableHost(c.ClusterName))
	}
}

var (
	zoneIDRe  = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	dnsNameRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// validateEndpoint checks apiAccess, ingressAccess and endpoint.
func validateEndpoint(c *Config, errs *ErrorList) {
	if !contains(accessModes, c.APIAccess) {
		errs.NotSupported("apiAccess", c.APIAccess, accessModes)
	}
	if !contains(accessModes, c.IngressAccess) {
		errs.NotSupported("ingressAccess", c.IngressAccess, accessModes)
	}
	if c.PrivateAPI() && !c.StableEndpoint() {
		errs.Forbidden("apiAccess", "private needs endpoint.stable: true (the internal load balancer's name is then in no machine configuration, and clients verify it through the stable endpoint's certificates); set both in one `up`: every node rolls once")
	}
	if c.JumpHost && !c.PrivateAPI() {
		errs.Forbidden("jumpHost", fmt.Sprintf("apiAccess is %q: the APIs are on the public load balancer, and the jump host forwards only to the internal one; set apiAccess private, or remove jumpHost", c.APIAccess))
	}
	if c.BringYourOwnVPC() && c.NeedsPublicLB() && len(c.Network.PublicSubnetIDs) == 0 {
		errs.Required("network.publicSubnetIds", fmt.Sprintf("apiAccess is %q and ingressAccess %q: the internet-facing load balancer needs public subnets (routed to an internet gateway), one per zone of network.privateSubnetIds; or set both to private", c.APIAccess, c.IngressAccess))
	}
	e := c.Endpoint
	switch {
	case e.PublicName == "" && e.PublicZoneID == "":
		return
	case e.PublicName == "":
		errs.Required("endpoint.publicName", "endpoint.publicZoneId is set: the name (e.g. api.prod.example.com) to create in that zone")
	case e.PublicZoneID == "":
		errs.Required("endpoint.publicZoneId", "endpoint.publicName is set: the Route 53 public hosted zone (Z...) that holds it")
	}
	if e.PublicName != "" && (len(e.PublicName) > 253 || !dnsNameRe.MatchString(e.PublicName)) {
		errs.Invalid("endpoint.publicName", e.PublicName, "must be a lowercase DNS name such as api.prod.example.com")
	}
	if e.PublicZoneID != "" && !zoneIDRe.MatchString(e.PublicZoneID) {
		errs.Invalid("endpoint.publicZoneId", e.PublicZoneID, "must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ")
	}
	if e.PublicName != "" && c.PrivateAPI() {
		errs.Forbidden("endpoint.publicName", fmt.Sprintf("apiAccess is %q: there is no public load balancer for the APIs to name", c.APIAccess))
	}
}
