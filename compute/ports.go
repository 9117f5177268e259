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
	// Hubble rules exist only when Hubble is enabled.
	Hubble bool
}

// Ports renders the port range as the README shows it.
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
	add := func(to, from Peer, proto string, from_, to_ int, why string) {
		rules = append(rules, Rule{To: to, From: from, Proto: proto, FromPort: from_, ToPort: to_, Why: why})
	}
	add(ControlPlane, InternalLB, "tcp", ports.KubeAPI, ports.KubeAPI, "Kubernetes API via the cluster endpoint (and its health checks)")
	add(ControlPlane, InternalLB, "tcp", ports.Trustd, ports.Trustd, "trustd via the cluster endpoint: workers join without the discovery service")
	add(ControlPlane, PublicLB, "tcp", ports.KubeAPI, ports.KubeAPI, "kubectl from admin CIDRs via the public NLB")
	add(ControlPlane, PublicLB, "tcp", ports.TalosAPI, ports.TalosAPI, "talosctl from admin CIDRs via the public NLB")
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
			rules = append(rules, Rule{To: to, From: from, Proto: "tcp", FromPort: ports.Hubble, ToPort: ports.Hubble, Why: "Hubble relay to Hubble servers", Hubble: true})
		}
	}
	add(Workers, PublicLB, "tcp", ports.IngressHTTPS, ports.IngressHTTPS, "HTTPS ingress (Cilium ingress NodePort) via the public NLB")
	return rules
}

// ActiveRules drops the Hubble rows when Hubble is off.
func ActiveRules(hubble bool) []Rule {
	var out []Rule
	for _, r := range PortMatrix() {
		if !r.Hubble || hubble {
			out = append(out, r)
		}
	}
	return out
}

// PortMatrixMarkdown renders the matrix as the README's table.
func PortMatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("| to | from | protocol | ports | why |\n|---|---|---|---|---|\n")
	for _, r := range PortMatrix() {
		why := r.Why
		if r.Hubble {
			why += " (only with Hubble)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.To, r.From, r.Proto, r.Ports(), why)
	}
	return b.String()
}
