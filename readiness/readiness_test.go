package readiness

import (
	"context"
	"crypto/tls"
	stdx509 "crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/siderolabs/crypto/x509"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
)

// pki is the stack's Kubernetes PKI as Talos generates it: the cluster CA
// from a machinery secrets bundle, an API server certificate for loopback,
// and an admin client certificate (system:masters).
type pki struct {
	caPEM       []byte
	server      *x509.KeyPair
	adminCert   []byte
	adminKey    []byte
	kubeconfigF func(server string) string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	// The same function a machinery secrets bundle (talos_machine_secrets)
	// makes the cluster's Kubernetes CA with.
	ca, err := secrets.NewKubernetesCA(time.Now(), config.TalosVersionCurrent)
	if err != nil {
		t.Fatal(err)
	}
	server, err := x509.NewKeyPair(ca, x509.CommonName("kube-apiserver"), x509.IPAddresses([]net.IP{net.ParseIP("127.0.0.1")}),
		x509.ExtKeyUsage([]stdx509.ExtKeyUsage{stdx509.ExtKeyUsageServerAuth}))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := x509.NewKeyPair(ca, x509.CommonName("admin"), x509.Organization("system:masters"),
		x509.ExtKeyUsage([]stdx509.ExtKeyUsage{stdx509.ExtKeyUsageClientAuth}))
	if err != nil {
		t.Fatal(err)
	}
	p := pki{caPEM: ca.CrtPEM, server: server, adminCert: admin.CrtPEM, adminKey: admin.KeyPEM}
	enc := base64.StdEncoding.EncodeToString
	// The shape of Talos' admin kubeconfig: embedded CA, cert and key.
	p.kubeconfigF = func(server string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: demo
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin@demo
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- context:
    cluster: demo
    namespace: default
    user: admin@demo
  name: admin@demo
current-context: admin@demo
`, server, enc(p.caPEM), enc(p.adminCert), enc(p.adminKey))
	}
	return p
}

// serve starts a TLS server at addr that, like kube-apiserver, demands a
// client certificate signed by the cluster CA.
func (p pki) serve(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = l
	pool := stdx509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{*p.server.Certificate},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// fakeClock advances only when the gate sleeps, and runs a hook each time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	slept  int
	onTick func(n int)
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept++
	n := c.slept
	c.mu.Unlock()
	if c.onTick != nil {
		c.onTick(n)
	}
	return nil
}

func testGate(clock *fakeClock, logs *[]string) *Gate {
	g := New(10*time.Minute, "the public NLB admits 6443 only from adminCidrs [203.0.113.7/32]", func(s string) { *logs = append(*logs, s) })
	g.Now, g.Sleep = clock.Now, clock.Sleep
	return g
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// The gate opens only once the endpoint serves /readyz: first nothing
// listens (refused), then it answers 503 with a failing check, then 200.
func TestAPIReadyOpensOnlyWhenServing(t *testing.T) {
	p := newPKI(t)
	addr := freeAddr(t)
	var state atomic.Int32 // 0 refuse, 1 answer 503, 2 serve
	var served503, served200 atomic.Int32
	var clientOrg atomic.Value
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		clientOrg.Store(strings.Join(r.TLS.PeerCertificates[0].Subject.Organization, ","))
		if state.Load() < 2 {
			served503.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n"))
			return
		}
		served200.Add(1)
		_, _ = w.Write([]byte("ok"))
	})
	clock := &fakeClock{now: time.Unix(0, 0)}
	clock.onTick = func(n int) {
		switch n {
		case 2: // after two refused attempts the server starts, still unready
			state.Store(1)
			p.serve(t, addr, handler)
		case 4: // after two 503s it becomes ready
			state.Store(2)
		}
	}
	var logs []string
	g := testGate(clock, &logs)
	if err := g.APIReady(context.Background(), p.kubeconfigF("https://"+addr)); err != nil {
		t.Fatalf("gate did not open: %v\nlogs:\n%s", err, strings.Join(logs, "\n"))
	}
	if state.Load() != 2 || served200.Load() != 1 {
		t.Fatalf("gate opened in state %d after %d OK answers, want state 2 after exactly 1", state.Load(), served200.Load())
	}
	if served503.Load() != 2 {
		t.Errorf("503 answers served = %d, want 2 (the gate must keep polling through them)", served503.Load())
	}
	if org := clientOrg.Load(); org != "system:masters" {
		t.Errorf("client presented organisation %v, want the admin credentials (system:masters)", org)
	}
	all := strings.Join(logs, "\n")
	for _, want := range []string{"connection refused", "HTTP 503 etcd failed: reason withheld", "https://" + addr, "ready after"} {
		if !strings.Contains(all, want) {
			t.Errorf("progress log lacks %q:\n%s", want, all)
		}
	}
}

// On timeout the error names the endpoint, what it waited for, the last
// answer and the adminCidrs hint.
func TestAPIReadyTimeoutSaysWhatAndWhere(t *testing.T) {
	p := newPKI(t)
	srv := p.serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("[-]etcd failed: reason withheld\n"))
	}))
	clock := &fakeClock{now: time.Unix(0, 0)}
	var logs []string
	g := testGate(clock, &logs)
	err := g.APIReady(context.Background(), p.kubeconfigF(srv.URL))
	if err == nil {
		t.Fatal("gate opened on a server that never became ready")
	}
	for _, want := range []string{"timed out after 10m0s", "/readyz", srv.URL, "last answer: HTTP 503 etcd failed", "adminCidrs [203.0.113.7/32]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// Bounded: 10 minutes at 5 s intervals is at most 120 attempts.
	if clock.slept > 120 {
		t.Errorf("slept %d times for a 10 minute bound at 5 s", clock.slept)
	}
}

// A server whose certificate another CA signed never opens the gate: the
// wait trusts only the cluster CA from the kubeconfig.
func TestAPIReadyTrustsOnlyTheClusterCA(t *testing.T) {
	stack, other := newPKI(t), newPKI(t)
	srv := other.serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	clock := &fakeClock{now: time.Unix(0, 0)}
	var logs []string
	g := testGate(clock, &logs)
	g.Timeout = 20 * time.Second
	err := g.APIReady(context.Background(), stack.kubeconfigF(srv.URL))
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("want a TLS failure naming the cause, got %v", err)
	}
}

// A dial that no route answers (what a machine outside adminCidrs sees)
// is reported as unreachable, and the hint says why.
func TestAPIReadyUnreachableNamesAdminCidrs(t *testing.T) {
	p := newPKI(t)
	clock := &fakeClock{now: time.Unix(0, 0)}
	var logs []string
	g := testGate(clock, &logs)
	g.Timeout = 30 * time.Second
	dials := 0
	g.DialContext = func(context.Context, string, string) (net.Conn, error) {
		dials++
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	}
	err := g.APIReady(context.Background(), p.kubeconfigF("https://public-nlb.example:6443"))
	if err == nil || !strings.Contains(err.Error(), "not reachable from here") || !strings.Contains(err.Error(), "adminCidrs") {
		t.Fatalf("got %v", err)
	}
	if dials == 0 {
		t.Fatal("no dial attempted")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func nodeJSON(name string, ready string, uninitialized bool) string {
	taints := `[]`
	if uninitialized {
		taints = `[{"key":"` + UninitializedTaint + `","value":"true","effect":"NoSchedule"}]`
	}
	return fmt.Sprintf(`{"metadata":{"name":%q},"spec":{"taints":%s},"status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":%q,"reason":"KubeletNotReady"}]}}`, name, taints, ready)
}

// The node gate waits for the expected count of Ready, initialised nodes.
func TestNodesReadyWaitsForEveryExpectedNode(t *testing.T) {
	p := newPKI(t)
	var step atomic.Int32
	lists := []string{
		`{"items":[]}`,
		`{"items":[` + nodeJSON("cp-1", "True", false) + `,` + nodeJSON("w-1", "False", true) + `]}`,
		`{"items":[` + nodeJSON("cp-1", "True", false) + `,` + nodeJSON("w-1", "True", true) + `,` + nodeJSON("w-2", "True", false) + `]}`,
		`{"items":[` + nodeJSON("cp-1", "True", false) + `,` + nodeJSON("w-1", "True", false) + `,` + nodeJSON("w-2", "True", false) + `]}`,
	}
	srv := p.serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/nodes" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(lists[step.Load()]))
	}))
	clock := &fakeClock{now: time.Unix(0, 0)}
	clock.onTick = func(n int) {
		if n < len(lists) {
			step.Store(int32(n)) //nolint:gosec // n < 4
		}
	}
	var logs []string
	g := testGate(clock, &logs)
	if err := g.NodesReady(context.Background(), p.kubeconfigF(srv.URL), 3, true); err != nil {
		t.Fatal(err)
	}
	if step.Load() != 3 {
		t.Fatalf("gate opened at list %d, want only at the last (all three Ready and initialised)", step.Load())
	}
	all := strings.Join(logs, "\n")
	for _, want := range []string{"0/3 nodes ready", "w-1 (Ready=False KubeletNotReady)", "w-1 (not yet initialised by the cloud controller manager)", "3/3 nodes ready"} {
		if !strings.Contains(all, want) {
			t.Errorf("progress log lacks %q:\n%s", want, all)
		}
	}
}

func TestSummarize(t *testing.T) {
	body := []byte(`{"items":[` + nodeJSON("b", "True", true) + `,` + nodeJSON("a", "True", false) + `,` + `{"metadata":{"name":"c"}}` + `]}`)
	s, err := Summarize(body, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(3); got != "1/3 nodes ready, not ready: b (not yet initialised by the cloud controller manager), c (no Ready condition yet)" {
		t.Errorf("got %q", got)
	}
	s, _ = Summarize(body, false)
	if len(s.Ready) != 2 {
		t.Errorf("without a cloud controller manager the taint must not count: %v", s)
	}
	if _, err := Summarize([]byte("<html>"), false); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParseKubeconfigErrors(t *testing.T) {
	for name, raw := range map[string]string{
		"no context": "apiVersion: v1\nclusters: []\n",
		"no server":  "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {}\n",
		"bad data":   "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://x', certificate-authority-data: '!!'}\n",
	} {
		if _, err := ParseKubeconfig(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestContextCancelStopsTheWait(t *testing.T) {
	p := newPKI(t)
	g := New(time.Hour, "", nil)
	g.DialContext = func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("connection refused")
	}
	g.Interval = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := g.APIReady(ctx, p.kubeconfigF("https://127.0.0.1:1"))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// The probe before a private API's bootstrap: any answer of the load
// balancer is a route, a refusal too; through an SSM port forward (the
// name in /etc/hosts as 127.0.0.1) a refusal means no forward runs, and
// every port must accept, so a forward of 6443 alone is not a route for
// the bootstrap's 50000.
func TestReachable(t *testing.T) {
	refusedBy := func(ip string) func(context.Context, string, string) (net.Conn, error) {
		return func(context.Context, string, string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 6443}, Err: syscall.ECONNREFUSED}
		}
	}
	open := func(t *testing.T) (string, func()) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		_, port, _ := net.SplitHostPort(l.Addr().String())
		return port, func() { _ = l.Close() }
	}
	probe := func(t *testing.T, dial func(context.Context, string, string) (net.Conn, error), ports []int) error {
		var logs []string
		g := testGate(&fakeClock{now: time.Unix(0, 0)}, &logs)
		if dial != nil {
			g.DialContext = dial
		}
		return g.Reachable(context.Background(), "127.0.0.1", ports, "three ways work")
	}

	if err := probe(t, refusedBy("10.0.1.20"), []int{6443, 50000}); err != nil {
		t.Errorf("the load balancer's refusal is a route: %v", err)
	}
	err := probe(t, refusedBy("127.0.0.1"), []int{6443, 50000})
	if err == nil || !strings.Contains(err.Error(), "resolves to this machine (127.0.0.1:6443) and nothing listens on port 6443: start its port forward") ||
		!strings.Contains(err.Error(), "three ways work") || !strings.Contains(err.Error(), "timed out after 2m0s") {
		t.Errorf("a refusal on this machine passed or said: %v", err)
	}

	a, closeA := open(t)
	defer closeA()
	b, closeB := open(t)
	pa, _ := strconv.Atoi(a)
	pb, _ := strconv.Atoi(b)
	if err := probe(t, nil, []int{pa, pb}); err != nil {
		t.Errorf("both ports forwarded: %v", err)
	}
	closeB()
	if err := probe(t, nil, []int{pa, pb}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("nothing listens on port %d", pb)) {
		t.Errorf("one port of two forwarded passed or said: %v", err)
	}
}
