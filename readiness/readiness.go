// Package readiness holds the waits `pulumi up` makes on the cluster it has
// just created: the Kubernetes API server answering /readyz, then every
// expected node registered and Ready. They dial the kubeconfig's server,
// which the program points at the public NLB (the only address the machine
// running Pulumi can reach, and only from adminCidrs). The program calls
// them only outside previews.
//
// Nothing here uses client-go: two GETs with the admin client certificate
// are all the waits need, and the SDKs are heavy enough to compile already.
package readiness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// UninitializedTaint is the taint kubelets register with under an external
// cloud provider; the cloud controller manager removes it once it has
// initialised the node (k8s.io/cloud-provider api.TaintExternalCloudProvider).
const UninitializedTaint = "node.cloudprovider.kubernetes.io/uninitialized"

// Gate runs the waits. The zero value is not usable: build it with New.
type Gate struct {
	// Timeout bounds each wait; Interval is the pause between attempts.
	Timeout  time.Duration
	Interval time.Duration
	// Log receives one progress line whenever the answer changes, and at
	// least every ProgressEvery.
	Log           func(string)
	ProgressEvery time.Duration
	// Hint is appended to timeout errors (the adminCidrs the public NLB
	// admits, and how to reach it).
	Hint string
	// DialContext opens connections; tests replace it to count or refuse
	// dials. Nil uses a net.Dialer with a 10 s timeout.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// IssuerRoots verify the OIDC issuer (IssuerServed); nil: the system's.
	IssuerRoots *x509.CertPool
	// Now and Sleep are the clock; tests may replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Gate with the given bound and the real network and clock.
func New(timeout time.Duration, hint string, log func(string)) *Gate {
	return &Gate{Timeout: timeout, Interval: 5 * time.Second, ProgressEvery: 30 * time.Second, Hint: hint, Log: log}
}

// Target is where and how the waits connect, read from a kubeconfig.
type Target struct {
	Server     string
	CA         []byte
	ClientCert []byte
	ClientKey  []byte
}

// ParseKubeconfig reads the current context's server and credentials from
// an admin kubeconfig with embedded data (as Talos renders it).
func ParseKubeconfig(raw string) (Target, error) {
	var kc struct {
		CurrentContext string `json:"current-context"`
		Clusters       []struct {
			Name    string `json:"name"`
			Cluster struct {
				Server string `json:"server"`
				CAData string `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Contexts []struct {
			Name    string `json:"name"`
			Context struct {
				Cluster string `json:"cluster"`
				User    string `json:"user"`
			} `json:"context"`
		} `json:"contexts"`
		Users []struct {
			Name string `json:"name"`
			User struct {
				CertData string `json:"client-certificate-data"`
				KeyData  string `json:"client-key-data"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal([]byte(raw), &kc); err != nil {
		return Target{}, fmt.Errorf("kubeconfig: %w", err)
	}
	clusterName, userName := "", ""
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName = c.Context.Cluster, c.Context.User
		}
	}
	if clusterName == "" {
		return Target{}, fmt.Errorf("kubeconfig: current context %q not found", kc.CurrentContext)
	}
	var t Target
	var ca, cert, key string
	for _, c := range kc.Clusters {
		if c.Name == clusterName {
			t.Server, ca = c.Cluster.Server, c.Cluster.CAData
		}
	}
	for _, u := range kc.Users {
		if u.Name == userName {
			cert, key = u.User.CertData, u.User.KeyData
		}
	}
	if t.Server == "" {
		return Target{}, fmt.Errorf("kubeconfig: cluster %q has no server", clusterName)
	}
	var err error
	for _, f := range []struct {
		what string
		in   string
		out  *[]byte
	}{{"certificate-authority-data", ca, &t.CA}, {"client-certificate-data", cert, &t.ClientCert}, {"client-key-data", key, &t.ClientKey}} {
		if *f.out, err = base64.StdEncoding.DecodeString(f.in); err != nil || len(*f.out) == 0 {
			return Target{}, fmt.Errorf("kubeconfig: %s missing or not base64", f.what)
		}
	}
	return t, nil
}

func (g *Gate) client(t Target) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(t.CA) {
		return nil, errors.New("kubeconfig: certificate-authority-data holds no PEM certificate")
	}
	pair, err := tls.X509KeyPair(t.ClientCert, t.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: client certificate: %w", err)
	}
	dial := g.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			DialContext:         dial,
			TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 10 * time.Second,
			// A fresh connection per attempt: an NLB may route the next one
			// to a target that has come up since.
			DisableKeepAlives: true,
		},
	}, nil
}

// probe is one attempt: done, and a short description of the answer.
type probe func(ctx context.Context, c *http.Client, server string) (bool, string)

// poll repeats p until it reports done, the bound passes or ctx ends.
func (g *Gate) poll(ctx context.Context, kubeconfig, what string, p probe) error {
	t, err := ParseKubeconfig(kubeconfig)
	if err != nil {
		return err
	}
	c, err := g.client(t)
	if err != nil {
		return err
	}
	return g.loop(ctx, what, t.Server, g.Timeout, g.Hint, func(ctx context.Context) (bool, string) { return p(ctx, c, t.Server) })
}

// loop repeats attempt until it reports done, timeout passes or ctx ends,
// with a progress line whenever the answer changes; a timeout error names
// what and where it waited for, the last answer and hint.
func (g *Gate) loop(ctx context.Context, what, where string, timeout time.Duration, hint string, attempt func(context.Context) (bool, string)) error {
	now, sleep := g.Now, g.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	start := now()
	deadline := start.Add(timeout)
	last, lastLogged := "", time.Time{}
	for n := 1; ; n++ {
		done, answer := attempt(ctx)
		elapsed := now().Sub(start).Round(time.Second)
		if done {
			g.log(fmt.Sprintf("%s: %s after %s", what, answer, elapsed))
			return nil
		}
		if answer != last || now().Sub(lastLogged) >= g.ProgressEvery {
			g.log(fmt.Sprintf("waiting for %s at %s (%s, attempt %d): %s", what, where, elapsed, n, answer))
			last, lastLogged = answer, now()
		}
		if !now().Add(g.Interval).Before(deadline) {
			msg := fmt.Sprintf("timed out after %s waiting for %s at %s; last answer: %s", timeout, what, where, answer)
			if hint != "" {
				msg += ". " + hint
			}
			return errors.New(msg)
		}
		if err := sleep(ctx, g.Interval); err != nil {
			return fmt.Errorf("waiting for %s at %s: %w; last answer: %s", what, where, err, answer)
		}
	}
}

func (g *Gate) log(s string) {
	if g.Log != nil {
		g.Log(s)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func get(ctx context.Context, c *http.Client, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, body, err
}

// APIReady waits until the API server answers GET /readyz with 200 to the
// admin credentials of kubeconfig.
func (g *Gate) APIReady(ctx context.Context, kubeconfig string) error {
	return g.poll(ctx, kubeconfig, "the Kubernetes API server to be ready (/readyz)", func(ctx context.Context, c *http.Client, server string) (bool, string) {
		code, body, err := get(ctx, c, strings.TrimSuffix(server, "/")+"/readyz")
		if err != nil {
			return false, shortError(err)
		}
		if code == http.StatusOK {
			return true, "ready"
		}
		return false, fmt.Sprintf("HTTP %d %s", code, firstFailing(body))
	})
}

// NodesReady waits until at least want nodes are registered, Ready, and (with
// an external cloud provider) initialised by the cloud controller manager.
func (g *Gate) NodesReady(ctx context.Context, kubeconfig string, want int, requireInitialized bool) error {
	what := fmt.Sprintf("%d nodes to be registered and Ready", want)
	return g.poll(ctx, kubeconfig, what, func(ctx context.Context, c *http.Client, server string) (bool, string) {
		code, body, err := get(ctx, c, strings.TrimSuffix(server, "/")+"/api/v1/nodes")
		if err != nil {
			return false, shortError(err)
		}
		if code != http.StatusOK {
			return false, fmt.Sprintf("HTTP %d listing nodes", code)
		}
		s, err := Summarize(body, requireInitialized)
		if err != nil {
			return false, err.Error()
		}
		return len(s.Ready) >= want, s.String(want)
	})
}

// NodeSummary sorts a node list into ready and not-ready names.
type NodeSummary struct {
	Ready    []string
	NotReady []string // "name (reason)"
}

func (s NodeSummary) String(want int) string {
	out := fmt.Sprintf("%d/%d nodes ready", len(s.Ready), want)
	if len(s.NotReady) > 0 {
		out += ", not ready: " + strings.Join(s.NotReady, ", ")
	}
	return out
}

// Summarize reads a /api/v1/nodes answer. A node counts as ready when its
// Ready condition is True and, if requireInitialized, the cloud controller
// manager has removed the uninitialized taint.
func Summarize(body []byte, requireInitialized bool) (NodeSummary, error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Taints []struct {
					Key string `json:"key"`
				} `json:"taints"`
			} `json:"spec"`
			Status struct {
				Conditions []struct {
					Type   string `json:"type"`
					Status string `json:"status"`
					Reason string `json:"reason"`
				} `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return NodeSummary{}, fmt.Errorf("unreadable node list: %v", err)
	}
	var s NodeSummary
	for _, n := range list.Items {
		reason := "no Ready condition yet"
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" {
				reason = ""
				if c.Status != "True" {
					reason = "Ready=" + c.Status
					if c.Reason != "" {
						reason += " " + c.Reason
					}
				}
			}
		}
		if reason == "" && requireInitialized {
			for _, t := range n.Spec.Taints {
				if t.Key == UninitializedTaint {
					reason = "not yet initialised by the cloud controller manager"
				}
			}
		}
		if reason == "" {
			s.Ready = append(s.Ready, n.Metadata.Name)
		} else {
			s.NotReady = append(s.NotReady, n.Metadata.Name+" ("+reason+")")
		}
	}
	sort.Strings(s.Ready)
	sort.Strings(s.NotReady)
	return s, nil
}

// firstFailing picks the failing checks out of a verbose /readyz body
// ("[-]etcd failed: reason withheld"), or its first line.
func firstFailing(body []byte) string {
	var failed []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "[-]") {
			failed = append(failed, strings.TrimPrefix(l, "[-]"))
		}
	}
	if len(failed) > 0 {
		return strings.Join(failed, "; ")
	}
	s := strings.TrimSpace(string(body))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// shortError names what a failed attempt ran into in user terms.
func shortError(err error) string {
	var ne net.Error
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	switch {
	case errors.As(err, &ue):
		return "TLS: server certificate not signed by the cluster CA (" + err.Error() + ")"
	case errors.As(err, &he):
		return "TLS: " + he.Error()
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused (nothing listening yet)"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer (timeout): the address is not reachable from here"
	case strings.Contains(err.Error(), "no such host"):
		return "DNS: the load balancer's name does not resolve yet"
	}
	return err.Error()
}
