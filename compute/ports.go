package compute

import (
	"fmt"
	"strings"

	"github.com/talos-aws/talos-aws/internal/ports"
)

// Peer names a security group in the port matrix.
type Peer string

// The security groups rules refer to.
const (
	ControlPlane Peer = "control-plane"
	Workers      Peer = "workers"
	InternalLB   Peer = "internal-lb"
	PublicLB     Peer = "public-lb"
)

// Rule is one row of the node port matrix: To admits Proto/ports From.
type Rule struct {
	To       Peer
	From     Peer
	Proto    string // tcp | udp | icmp
	FromPort int
	ToPort   int
	Why      string
	// When is the one setting a rule exists under ("" always).
	When When
}

// When names the setting a rule depends on.
type When string

// The settings rules depend on.
const (
	Always         When = ""
	WithHubble     When = "with Hubble"
	PublicAPI      When = "apiAccess public"
	PrivateAPI     When = "apiAccess private"
	PublicIngress  When = "ingressAccess public"
	PrivateIngress When = "ingressAccess private"
)

// Settings are what decides which rules exist.
type Settings struct {
	Hubble, PrivateAPI, PrivateIngress bool
}

func (w When) holds(s Settings) bool {
	switch w {
	case WithHubble:
		return s.Hubble
	case PublicAPI:
		return !s.PrivateAPI
	case PrivateAPI:
		return s.PrivateAPI
	case PublicIngress:
		return !s.PrivateIngress
	case PrivateIngress:
		return s.PrivateIngress
	}
	return true
}

// Ports renders the port range as docs/security.md shows it.
func (r Rule) Ports() string {
	switch {
	case r.Proto == "icmp":
		return "all"
	case r.FromPort == r.ToPort:
		return fmt.Sprint(r.FromPort)
	default:
		return fmt.Sprintf("%d-%d", r.FromPort, r.ToPort)
	}
}

// PortMatrix is every ingress rule of the node security groups. Nothing is
// admitted from a CIDR: only from the node and load balancer security
// groups, so who can reach a node is decided by the load balancers' rules
// (admin and ingress CIDRs) alone. Egress is open (image pulls, AWS APIs).
func PortMatrix() []Rule {
	var rules []Rule
	when := func(w When, to, from Peer, proto string, from_, to_ int, why string) {
		rules = append(rules, Rule{To: to, From: from, Proto: proto, FromPort: from_, ToPort: to_, Why: why, When: w})
	}
	add := func(to, from Peer, proto string, from_, to_ int, why string) {
		when(Always, to, from, proto, from_, to_, why)
	}
	add(ControlPlane, InternalLB, "tcp", ports.KubeAPI, ports.KubeAPI, "Kubernetes API via the cluster endpoint (and its health checks)")
	add(ControlPlane, InternalLB, "tcp", ports.Trustd, ports.Trustd, "trustd via the cluster endpoint: workers join without the discovery service")
	when(PublicAPI, ControlPlane, PublicLB, "tcp", ports.KubeAPI, ports.KubeAPI, "kubectl from admin CIDRs via the public NLB")
	when(PublicAPI, ControlPlane, PublicLB, "tcp", ports.TalosAPI, ports.TalosAPI, "talosctl from admin CIDRs via the public NLB")
	when(PrivateAPI, ControlPlane, InternalLB, "tcp", ports.TalosAPI, ports.TalosAPI, "talosctl from admin CIDRs via the internal NLB")
	add(ControlPlane, ControlPlane, "tcp", ports.EtcdClient, ports.EtcdPeer, "etcd client and peer, control plane only")
	add(ControlPlane, ControlPlane, "tcp", ports.KubeAPI, ports.KubeAPI, "KubePrism and control-plane components")
	add(ControlPlane, Workers, "tcp", ports.KubeAPI, ports.KubeAPI, "KubePrism on workers balances over API servers directly")
	add(ControlPlane, ControlPlane, "tcp", ports.TalosAPI, ports.TalosAPI, "apid: control-plane nodes proxy Talos API calls")
	add(ControlPlane, ControlPlane, "tcp", ports.Trustd, ports.Trustd, "trustd: certificate issuing")
	add(ControlPlane, Workers, "tcp", ports.Trustd, ports.Trustd, "trustd: workers obtain their certificates")
	add(Workers, ControlPlane, "tcp", ports.TalosAPI, ports.TalosAPI, "apid: talosctl reaches workers through the control plane")
	for _, to := range []Peer{ControlPlane, Workers} {
		for _, from := range []Peer{ControlPlane, Workers} {
			add(to, from, "tcp", ports.Kubelet, ports.Kubelet, "kubelet API (API server, metrics-server)")
			add(to, from, "udp", ports.VXLAN, ports.VXLAN, "Cilium VXLAN overlay")
			add(to, from, "tcp", ports.CiliumHealth, ports.CiliumHealth, "Cilium health checks")
			add(to, from, "icmp", -1, -1, "Cilium health checks (ping), path MTU discovery")
			when(WithHubble, to, from, "tcp", ports.Hubble, ports.Hubble, "Hubble relay to Hubble servers")
		}
	}
	when(PublicIngress, Workers, PublicLB, "tcp", ports.IngressHTTPS, ports.IngressHTTPS, "HTTPS ingress (Cilium ingress NodePort) via the public NLB")
	when(PrivateIngress, Workers, InternalLB, "tcp", ports.IngressHTTPS, ports.IngressHTTPS, "HTTPS ingress (Cilium ingress NodePort) via the internal NLB")
	return rules
}

// ActiveRules are the rules that exist under s.
func ActiveRules(s Settings) []Rule {
	var out []Rule
	for _, r := range PortMatrix() {
		if r.When.holds(s) {
			out = append(out, r)
		}
	}
	return out
}

// PortMatrixMarkdown renders the matrix as docs/security.md's table.
func PortMatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("| to | from | protocol | ports | why |\n|---|---|---|---|---|\n")
	for _, r := range PortMatrix() {
		why := r.Why
		if r.When != Always {
			why += " (only " + string(r.When) + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.To, r.From, r.Proto, r.Ports(), why)
	}
	return b.String()
}
