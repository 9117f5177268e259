package program

import (
	"context"
	"crypto/tls"
	stdx509 "crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/siderolabs/crypto/x509"

	"github.com/talos-aws/talos-aws/addons"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/readiness"
	"github.com/talos-aws/talos-aws/testkit"
)

// waitCall is one readiness wait the program asked for.
type waitCall struct {
	kind       string // api | nodes
	kubeconfig string
	want       int
	requireIni bool
}

// recorder stands in for readiness.Gate under mocks: the mocks' endpoints
// do not exist, so every test that runs `up` records the waits instead.
type recorder struct {
	mu    sync.Mutex
	calls []waitCall
	fail  error
}

func (r *recorder) APIReady(_ context.Context, kc string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, waitCall{kind: "api", kubeconfig: kc})
	return r.fail
}

func (r *recorder) NodesReady(_ context.Context, kc string, want int, requireInitialized bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, waitCall{kind: "nodes", kubeconfig: kc, want: want, requireIni: requireInitialized})
	return r.fail
}

// lastRecorder is the recorder of the most recent program run.
var lastRecorder atomic.Pointer[recorder]

func init() {
	waiterFor = func(*pulumi.Context, *config.Config) addons.Waiter {
		r := &recorder{}
		lastRecorder.Store(r)
		return r
	}
}

// withWaiter runs one test with its own waiter.
func withWaiter(t *testing.T, w func(*pulumi.Context, *config.Config) addons.Waiter) {
	t.Helper()
	old := waiterFor
	waiterFor = w
	t.Cleanup(func() { waiterFor = old })
}

// `up`: the provider gets the kubeconfig only after /readyz through the
// public endpoint; the late releases only after every expected node.
func TestUpWaitsForAPIThenNodes(t *testing.T) {
	m := &testkit.Mocks{}
	cfg := haConfig(t)
	outs := evaluate(t, m, cfg)
	rec := lastRecorder.Load()
	if len(rec.calls) != 2 || rec.calls[0].kind != "api" || rec.calls[1].kind != "nodes" {
		t.Fatalf("waits %+v, want the API wait, then the node wait", rec.calls)
	}
	public := outs["publicEndpoint"].Value.(string)
	for _, c := range rec.calls {
		target, err := readiness.ParseKubeconfig(c.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if target.Server != public || strings.Contains(target.Server, "-int-") {
			t.Errorf("%s wait dials %s, want the public endpoint %s", c.kind, target.Server, public)
		}
	}
	parsed, _, err := config.Parse(config.MapSource(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.calls[1].want, config.ExpectedNodes(parsed); got != want || want != 3+3+2 {
		t.Errorf("node wait wants %d nodes, expected %d (3 control plane + general's minimum 3 + arm-spot's 2)", got, want)
	}
	if !rec.calls[1].requireIni {
		t.Error("with the cloud controller manager on, nodes must also be initialised")
	}
	k8s := m.ByType("pulumi:providers:kubernetes")
	if len(k8s) != 1 {
		t.Fatalf("%d kubernetes providers", len(k8s))
	}
	kc := k8s[0].Inputs["kubeconfig"]
	if !kc.IsSecret() || kc.SecretValue().Element.StringValue() != rec.calls[0].kubeconfig {
		t.Error("the provider must get the (secret) kubeconfig the API wait checked")
	}
	if v := k8s[0].Inputs["clusterIdentifier"]; v.IsNull() || v.ContainsUnknowns() {
		t.Error("the provider needs a known clusterIdentifier, or a preview replaces every release")
	}
	if v, ok := k8s[0].Inputs["deleteUnreachable"]; ok && v.IsBool() && v.BoolValue() {
		t.Error("deleteUnreachable must be off: a refresh from outside adminCidrs would drop every release")
	}
}

// A wait that times out fails `up` with its message, before any release.
func TestUpStopsOnWaitTimeout(t *testing.T) {
	withWaiter(t, func(*pulumi.Context, *config.Config) addons.Waiter {
		return &recorder{fail: errors.New("timed out after 20m0s waiting for the Kubernetes API server")}
	})
	m := &testkit.Mocks{ControlPlaneInstances: cpInstances()}
	_, err := testkit.Run(t, m, haConfig(t), program)
	if err == nil || !strings.Contains(err.Error(), "timed out after 20m0s") {
		t.Fatalf("want the wait's error, got %v", err)
	}
}

// A preview of an existing stack (every output known) never dials the
// cluster: the real gate runs with a dialer that counts and refuses, and
// nothing is dialled; the provider sees an unknown kubeconfig.
func TestPreviewOfExistingStackNeverDials(t *testing.T) {
	var dials atomic.Int32
	withWaiter(t, func(_ *pulumi.Context, cfg *config.Config) addons.Waiter {
		g := readiness.New(time.Minute, unreachableHint(cfg), nil)
		g.DialContext = func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			return nil, errors.New("no route to the cluster from here")
		}
		return g
	})
	m := &testkit.Mocks{DryRun: true}
	outs := evaluate(t, m, haConfig(t))
	if !strings.Contains(outs["kubeconfig"].Value.(string), "https://") {
		t.Fatal("this test needs the state's kubeconfig known, as in a preview of an existing stack")
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("a preview dialled %d times", n)
	}
	for _, c := range m.Calls {
		if strings.HasPrefix(c.Token, "talos:cluster/") || strings.HasPrefix(c.Token, "kubernetes:") {
			t.Errorf("a preview invoked %s, which contacts the cluster", c.Token)
		}
	}
	k8s := m.ByType("pulumi:providers:kubernetes")
	if len(k8s) != 1 {
		t.Fatalf("%d kubernetes providers", len(k8s))
	}
	// Unknown inputs do not survive the mock's marshalling: absent or
	// unknown both mean the provider cannot be configured.
	if kc, ok := k8s[0].Inputs["kubeconfig"]; ok && !kc.ContainsUnknowns() {
		t.Fatal("the provider must see an unknown kubeconfig in a preview")
	}
	if len(releases(m)) != 9 { // six add-ons, the webhook, the autoscaler and the termination handler
		t.Errorf("preview shows %d releases, want 9", len(releases(m)))
	}
}

// fakeAPIServer serves TLS for the public NLB's name with a certificate
// signed by the stack's (mocked) cluster CA, demanding the admin client
// certificate, as kube-apiserver behind the public NLB does.
func fakeAPIServer(t *testing.T, handler http.Handler) *httptest.Server {
	t.Helper()
	ca, err := testkit.ClusterCA()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := x509.NewKeyPair(ca, x509.DNSNames([]string{publicNLB}),
		x509.ExtKeyUsage([]stdx509.ExtKeyUsage{stdx509.ExtKeyUsageServerAuth}))
	if err != nil {
		t.Fatal(err)
	}
	pool := stdx509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CrtPEM)
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*pair.Certificate}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// publicNLB is the mocked public NLB's DNS name for the HA example.
const publicNLB = "prod-pub-0123456789abcdef.elb.ap-southeast-1.amazonaws.com"

// realGate is readiness.Gate with every dial sent to srv (DNS for the NLB's
// name cannot resolve here) and a short interval.
func realGate(srv *httptest.Server, timeout time.Duration, dialed *atomic.Value) func(*pulumi.Context, *config.Config) addons.Waiter {
	return func(_ *pulumi.Context, cfg *config.Config) addons.Waiter {
		g := readiness.New(timeout, unreachableHint(cfg), nil)
		g.Interval = 20 * time.Millisecond
		g.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed.Store(addr)
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}
		return g
	}
}

// `up` through the real gate: /readyz answers 503 twice, then 200; the node
// list then has every expected node. The provider gets the kubeconfig only
// after that, and the program completes.
func TestUpThroughTheRealGate(t *testing.T) {
	var readyz, nodes atomic.Int32
	srv := fakeAPIServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			if readyz.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("[-]etcd failed: reason withheld\n"))
				return
			}
			_, _ = w.Write([]byte("ok"))
		case "/api/v1/nodes":
			nodes.Add(1)
			var items []string
			for i := range 8 {
				items = append(items, fmt.Sprintf(`{"metadata":{"name":"n%d"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}`, i))
			}
			_, _ = w.Write([]byte(`{"items":[` + strings.Join(items, ",") + `]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	var dialed atomic.Value
	withWaiter(t, realGate(srv, time.Minute, &dialed))
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	if readyz.Load() != 3 || nodes.Load() < 1 {
		t.Errorf("/readyz answered %d times, nodes listed %d times: want 3 (two 503s, one 200) and at least 1", readyz.Load(), nodes.Load())
	}
	if got := dialed.Load(); got != publicNLB+":6443" {
		t.Errorf("the gate dialled %v, want the public NLB on 6443", got)
	}
}

// When the API never becomes ready, `up` fails with the endpoint, what it
// waited for, the last answer and the adminCidrs hint.
func TestUpTimeoutExplains(t *testing.T) {
	srv := fakeAPIServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("[-]etcd failed: reason withheld\n"))
	}))
	var dialed atomic.Value
	withWaiter(t, realGate(srv, 300*time.Millisecond, &dialed))
	_, err := testkit.Run(t, &testkit.Mocks{ControlPlaneInstances: cpInstances()}, haConfig(t), program)
	for _, want := range []string{"timed out after 300ms", "the Kubernetes API server to be ready (/readyz)", "https://" + publicNLB + ":6443",
		"last answer: HTTP 503 etcd failed", "adminCidrs (203.0.113.10/32)", "readinessTimeoutMinutes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// Nodes boot only once their subnet routes to NAT: every ASG waits for
// every private route table association.
func TestASGsWaitForPrivateRoutes(t *testing.T) {
	m := &testkit.Mocks{}
	evaluate(t, m, haConfig(t))
	asgs := m.ByType("aws:autoscaling/group:Group")
	if len(asgs) != 3 {
		t.Fatalf("%d ASGs", len(asgs))
	}
	for _, asg := range asgs {
		for _, az := range []string{"ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"} {
			if !dependsOn(asg, "aws:ec2/routeTableAssociation:RouteTableAssociation", "network-private-"+az) {
				t.Errorf("%s does not wait for the private route of %s", asg.Name, az)
			}
		}
	}
}
