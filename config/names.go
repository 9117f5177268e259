package config

// AWS caps load balancer and target group names at 32 characters.
const maxLBNameLen = 32

// LBNames are the load balancer and target group names derived from the
// cluster name. They are fixed (not auto-named) so users recognise them in
// the console; their ports never change, so they are never replaced.
type LBNames struct {
	InternalLB       string
	PublicLB         string
	InternalAPITG    string
	InternalTrustdTG string
	PublicAPITG      string
	PublicTalosTG    string
	PublicIngressTG  string
	// With a private API or ingress, the internal load balancer's Talos API
	// and HTTPS target groups (suffixes no longer than the others', so the
	// cluster name's limit stays).
	InternalTalosTG   string
	InternalIngressTG string
}

// NamesFor derives every load balancer and target group name for a cluster.
func NamesFor(cluster string) LBNames {
	return LBNames{
		InternalLB:        cluster + "-int",
		PublicLB:          cluster + "-pub",
		InternalAPITG:     cluster + "-int-api",
		InternalTrustdTG:  cluster + "-trustd",
		PublicAPITG:       cluster + "-api",
		PublicTalosTG:     cluster + "-talos",
		PublicIngressTG:   cluster + "-ingress",
		InternalTalosTG:   cluster + "-italos",
		InternalIngressTG: cluster + "-ihttps",
	}
}

// All lists the names for length checks.
func (n LBNames) All() []string {
	return []string{n.InternalLB, n.PublicLB, n.InternalAPITG, n.InternalTrustdTG, n.PublicAPITG, n.PublicTalosTG, n.PublicIngressTG, n.InternalTalosTG, n.InternalIngressTG}
}
