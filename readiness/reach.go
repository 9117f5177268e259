package readiness

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// IssuerServed waits until the OIDC issuer serves its discovery document,
// naming itself, over TLS with a certificate the system trusts: what IAM
// reads when the OIDC provider is created and what STS reads when a pod
// first assumes a role. A CloudFront distribution answers only once it has
// deployed (minutes after it is created).
func (g *Gate) IssuerServed(ctx context.Context, issuerURL string) error {
	url := strings.TrimSuffix(issuerURL, "/") + "/.well-known/openid-configuration"
	dial := g.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		DialContext: dial, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: g.IssuerRoots},
		TLSHandshakeTimeout: 10 * time.Second, DisableKeepAlives: true,
	}}
	return g.loop(ctx, "the OIDC issuer's documents to be served", url, g.Timeout, "", func(ctx context.Context) (bool, string) {
		code, body, err := get(ctx, c, url)
		if err != nil {
			return false, shortError(err)
		}
		if code != http.StatusOK {
			return false, fmt.Sprintf("HTTP %d", code)
		}
		var doc struct {
			Issuer string `json:"issuer"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return false, "not JSON: " + err.Error()
		}
		if doc.Issuer != issuerURL {
			return false, fmt.Sprintf("issuer %q, not %q", doc.Issuer, issuerURL)
		}
		return true, "served"
	})
}

// ProbeWindow bounds Reachable: long enough for a new load balancer's DNS
// name to resolve, short enough to fail before a bootstrap that could
// never reach the cluster retries for 20 minutes.
const ProbeWindow = 2 * time.Minute

// Reachable tells, before the bootstrap, whether this machine has a route
// to a private load balancer's ports. Any answer of the load balancer
// counts, a refused connection too (it passes connections to targets that
// are still booting, whose refusal comes back): only silence means no
// route. A name that resolves to this machine (the hosts entry of an SSM
// port forward) is different: there a refusal means no forward is
// running, so every port must accept a connection. On failure it says how
// to run `up` so that it has one.
func (g *Gate) Reachable(ctx context.Context, host string, ports []int, howTo string) error {
	dial := g.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 3 * time.Second}).DialContext
	}
	where := fmt.Sprintf("%s (ports %s)", host, joinPorts(ports))
	return g.loop(ctx, "a route to the private API endpoint", where, ProbeWindow, howTo, func(ctx context.Context) (bool, string) {
		forwarded := 0
		for _, p := range ports {
			conn, err := dial(ctx, "tcp", net.JoinHostPort(host, fmt.Sprint(p)))
			switch {
			case err == nil:
				local := isLoopback(conn.RemoteAddr())
				_ = conn.Close()
				if !local {
					return true, fmt.Sprintf("port %d answers", p)
				}
				forwarded++
			case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
				if remote := opAddr(err); remote != nil && isLoopback(remote) {
					return false, fmt.Sprintf("%s resolves to this machine (%s) and nothing listens on port %d: start its port forward", host, remote, p)
				}
				return true, fmt.Sprintf("port %d answers (refused: its targets are still booting)", p)
			case isNoSuchHost(err):
				return false, fmt.Sprintf("%s does not resolve yet", host)
			default:
				return false, fmt.Sprintf("port %d: %s", p, shortError(err))
			}
		}
		if forwarded > 0 && forwarded == len(ports) {
			return true, fmt.Sprintf("ports %s are forwarded from this machine", joinPorts(ports))
		}
		return false, "no port to probe"
	})
}

// isLoopback reports whether a connection's remote address is this
// machine's.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// opAddr is the remote address a failed dial was made to, if known.
func opAddr(err error) net.Addr {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Addr
	}
	return nil
}

func isNoSuchHost(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns) && (dns.IsNotFound || dns.IsTemporary)
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

// PrivateAccessHelp is the error's advice when the private endpoint is out
// of reach: the three ways `up` works with a private API, with the exact
// commands for this stack. forward are the port forwards to the internal
// load balancer and the hosts entry (network.JumpHostCommands); managed
// says they name the stack's own jump host rather than a placeholder.
func PrivateAccessHelp(region, internalHost string, forward []string, managed bool) string {
	quoted := make([]string, len(forward))
	for i, c := range forward {
		quoted[i] = "`" + c + "`"
	}
	cmds := strings.Join(quoted, ", ")
	ssm := "(2) SSM port forwarding through the stack's jump host (jumpHost): run " + cmds +
		" (each forward in its own terminal; TargetNotConnected means its agent is still registering, a minute after launch), then `pulumi up` again;"
	if !managed {
		ssm = "(2) SSM port forwarding: set jumpHost true and `pulumi up` again, and the stack adds a jump host and names the commands; or through an instance of yours with the SSM agent in a private subnet (Talos nodes have none): " +
			cmds + ", and its private address in adminCidrs;"
	}
	return strings.Join([]string{
		"apiAccess is private and this machine has no route to the internal load balancer " + internalHost + " in " + region + ". Three ways work:",
		"(1) run `pulumi up` inside the VPC: a CI runner or CodeBuild project in one of the stack's private subnets (output privateSubnetIds), its subnet CIDR in adminCidrs;",
		ssm,
		"(3) a VPN or Transit Gateway route from this machine to the VPC, its CIDR in adminCidrs (docs/networking.md#private-api-and-ingress).",
	}, " ")
}
