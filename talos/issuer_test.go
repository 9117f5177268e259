package talos

import (
	"bytes"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config/configtest"
)

// With workload identity the control plane's configuration, rendered and
// validated by Talos' machinery, runs the API server with the issuer and
// its JWKS URI, and keeps the machine secrets' service-account key; the
// workers' configuration carries no issuer.
func TestIssuerReachesTheAPIServer(t *testing.T) {
	cfg := configtest.Parse(t, nil)
	secrets, err := NewSecretsBundle(cfg.TalosVersion)
	if err != nil {
		t.Fatal(err)
	}
	in := PatchInputFor(cfg, intDNS, pubDNS)
	in.ServiceAccountIssuer, in.ServiceAccountJWKSURI = "https://d111111abcdef8.cloudfront.net", "https://d111111abcdef8.cloudfront.net/openid/v1/jwks"
	render := func(typ machine.Type, patches []string) []byte {
		t.Helper()
		b, err := GenerateLocal(LocalInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS), KubernetesVersion: cfg.KubernetesVersion,
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
	p, err := configloader.NewFromBytes(render(machine.TypeControlPlane, cpPatches))
	if err != nil {
		t.Fatal(err)
	}
	args := p.Cluster().APIServer().ExtraArgs()
	if args["service-account-issuer"] != in.ServiceAccountIssuer || args["service-account-jwks-uri"] != in.ServiceAccountJWKSURI {
		t.Errorf("API server extra args %v", args)
	}
	if !bytes.Equal(p.Cluster().ServiceAccount().Key, secrets.Certs.K8sServiceAccount.Key) {
		t.Error("the service-account key changed: every token of a live cluster would be invalid")
	}
	wPatches, err := WorkerPatches(in, cfg.WorkerPools[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(render(machine.TypeWorker, wPatches), []byte("service-account-issuer")) {
		t.Error("a worker's configuration names the issuer")
	}
	// Without workload identity the control plane is as before.
	in.ServiceAccountIssuer = ""
	plain, _ := ControlPlanePatches(in)
	if cluster, _ := ClusterPatches(in); len(plain) != len(cluster) {
		t.Errorf("%d control-plane patches without an issuer, want the %d cluster patches", len(plain), len(cluster))
	}
}
