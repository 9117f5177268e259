package talos

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config/configtest"
)

const (
	cloudFront = "https://d111111abcdef8.cloudfront.net"
	jwksURI    = cloudFront + "/openid/v1/jwks"
)

// With workload identity the control plane's configuration, rendered and
// validated by Talos' machinery, runs the API server with the issuer and
// its JWKS URI, and keeps the machine secrets' service-account key; the
// workers' configuration carries no issuer. On Talos 1.13 several issuers
// reach the API server as a list (the first signs, all are accepted); on
// 1.12 one, as a string.
func TestIssuerReachesTheAPIServer(t *testing.T) {
	for _, tc := range []struct {
		talos   string
		issuers []string
	}{
		{"v1.12.11", []string{cloudFront}},
		{"v1.13.9", []string{cloudFront}},
		{"v1.13.9", []string{cloudFront, ClusterEndpoint(intDNS)}},
	} {
		t.Run(tc.talos+"/"+strings.Join(tc.issuers, ","), func(t *testing.T) {
			cfg := configtest.Parse(t, map[string]string{"talosVersion": tc.talos, "kubernetesVersion": "1.35.10"})
			secrets, err := NewSecretsBundle(cfg.TalosVersion)
			if err != nil {
				t.Fatal(err)
			}
			in := PatchInputFor(cfg, []string{intDNS, pubDNS})
			in.ServiceAccountIssuers, in.ServiceAccountJWKSURI = tc.issuers, jwksURI
			render := func(typ machine.Type, patches []string) []byte {
				t.Helper()
				b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS), KubernetesVersion: cfg.KubernetesVersion,
					TalosVersion: cfg.TalosVersion, Type: typ, Patches: patches, Secrets: secrets})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ValidateMachineConfig(b); err != nil {
					t.Fatal(err)
				}
				return b
			}
			cpPatches, err := ControlPlanePatches(in)
			if err != nil {
				t.Fatal(err)
			}
			cp := render(machine.TypeControlPlane, cpPatches)
			p, err := configloader.NewFromBytes(cp)
			if err != nil {
				t.Fatal(err)
			}
			args := p.Cluster().APIServer().ExtraArgs()
			if !reflect.DeepEqual(args["service-account-issuer"], tc.issuers) || !reflect.DeepEqual(args["service-account-jwks-uri"], []string{jwksURI}) {
				t.Errorf("API server extra args %v", args)
			}
			// One issuer stays the string it always was (a 1.12 stack's
			// user data must not change).
			if single := len(tc.issuers) == 1; single != bytes.Contains(cp, []byte("service-account-issuer: "+cloudFront+"\n")) {
				t.Errorf("issuer written as a string: %v, want %v", !single, single)
			}
			if !bytes.Equal(p.Cluster().ServiceAccount().Key, secrets.Certs.K8sServiceAccount.Key) {
				t.Error("the service-account key changed: every token of a live cluster would be invalid")
			}
			wPatches, err := WorkerPatches(in, cfg.WorkerPools[0], Image{})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(render(machine.TypeWorker, wPatches), []byte("service-account-issuer")) {
				t.Error("a worker's configuration names the issuer")
			}
		})
	}
	// Without workload identity the control plane is as before.
	cfg := configtest.Parse(t, nil)
	in := PatchInputFor(cfg, []string{intDNS, pubDNS})
	in.ServiceAccountIssuers = defaultArgs([]string{ClusterEndpoint(intDNS)}, ClusterEndpoint(intDNS))
	plain, _ := ControlPlanePatches(in)
	if cluster, _ := ClusterPatches(in); len(plain) != len(cluster) {
		t.Errorf("%d control-plane patches without an issuer, want the %d cluster patches", len(plain), len(cluster))
	}
}

// The issuer plan over the life of a stack: new, unchanged, a move on 1.13
// (old kept), the grace not yet over (kept, nothing moves), the grace over
// (dropped), a move on 1.12 (one issuer), a second move before the first
// was dropped.
func TestPlanIssuers(t *testing.T) {
	const a, b, c = "https://a", "https://b", "https://c"
	rolled := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return rolled.Add(d) }
	since := rolled.Format(time.RFC3339)
	for _, tc := range []struct {
		name  string
		prev  Accepted
		want  string
		multi bool
		now   time.Time
		out   []string
		note  string
	}{
		{"new stack", Accepted{}, a, true, at(0), []string{a}, ""},
		{"recorded before the record existed", Accepted{}, b, true, at(0), []string{b}, ""},
		{"unchanged", Accepted{Accepted: []string{a}, Since: since}, a, true, at(time.Hour), []string{a}, ""},
		{"move on 1.13 keeps the old", Accepted{Accepted: []string{a}, Since: since}, b, true, at(time.Hour), []string{b, a}, "keep accepting https://a"},
		{"grace not over", Accepted{Accepted: []string{b, a}, Since: since}, b, true, at(23 * time.Hour), []string{b, a}, "from 2026-12-02T10:00:00Z drops it"},
		{"grace over", Accepted{Accepted: []string{b, a}, Since: since}, b, true, at(24 * time.Hour), []string{b}, "https://a no longer accepted"},
		{"no record of the roll", Accepted{Accepted: []string{b, a}}, b, true, at(48 * time.Hour), []string{b, a}, "once this `up` has rolled"},
		{"move on 1.12: one issuer", Accepted{Accepted: []string{a}, Since: since}, b, false, at(time.Hour), []string{b}, ""},
		{"second move before the drop", Accepted{Accepted: []string{b, a}, Since: since}, c, true, at(time.Hour), []string{c, b, a}, "keep accepting https://b, https://a"},
		{"back to an accepted one", Accepted{Accepted: []string{b, a}, Since: since}, a, true, at(time.Hour), []string{a, b}, "keep accepting https://b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanIssuers(tc.prev, tc.want, tc.multi, tc.now)
			if !reflect.DeepEqual(got.Accepted, tc.out) {
				t.Errorf("accepted %v, want %v", got.Accepted, tc.out)
			}
			if (tc.note == "") != (got.Note == "") || !strings.Contains(got.Note, tc.note) {
				t.Errorf("note %q, want it to say %q", got.Note, tc.note)
			}
		})
	}
}
