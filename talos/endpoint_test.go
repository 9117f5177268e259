package talos

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/config/configtest"
)

// With the stable endpoint the machine configuration names the stable host
// and no load balancer; Talos takes the wildcard SAN; a certificate with
// these SANs verifies for every load balancer name of the region (internal
// and public, whichever replaces which) and for nothing outside it; a
// private API adds the loopback names an SSM port forward dials.
func TestStableSANs(t *testing.T) {
	cfg := configtest.Parse(t, map[string]string{"clusterName": "prod", "endpoint": `{"publicName":"api.prod.example.com","publicZoneId":"Z0123456789ABC"}`})
	if !cfg.StableEndpoint() {
		t.Fatal("a new stack gets the stable endpoint")
	}
	sans := StableSANs(cfg)
	if want := []string{"api.prod.talos.internal", "*.elb.ap-southeast-1.amazonaws.com", "api.prod.example.com"}; !slices.Equal(sans, want) {
		t.Fatalf("SANs %v, want %v", sans, want)
	}
	secrets, err := NewSecretsBundle(cfg.TalosVersion)
	if err != nil {
		t.Fatal(err)
	}
	patches, err := ControlPlanePatches(PatchInputFor(cfg, sans))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(config.StableHost(cfg.ClusterName)),
		KubernetesVersion: cfg.KubernetesVersion, TalosVersion: cfg.TalosVersion, Type: machine.TypeControlPlane, Patches: patches, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ValidateMachineConfig(b); err != nil {
		t.Fatalf("Talos rejects the stable endpoint's configuration: %v", err)
	}
	doc := v1alpha1(t, b)
	if got := get(t, doc, "cluster.controlPlane.endpoint"); got != "https://api.prod.talos.internal:6443" {
		t.Errorf("endpoint %v", got)
	}

	// What a client's TLS stack makes of a certificate with these names.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "apid"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), DNSNames: sans}, &x509.Certificate{SerialNumber: big.NewInt(1)}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	for host, ok := range map[string]bool{
		"prod-pub-0123456789abcdef.elb.ap-southeast-1.amazonaws.com":          true,
		"internal-prod-int-0123456789abcdef.elb.ap-southeast-1.amazonaws.com": true,
		"api.prod.talos.internal":                               true,
		"api.prod.example.com":                                  true,
		"prod-pub-0123456789abcdef.elb.eu-west-1.amazonaws.com": false,
		"a.b.elb.ap-southeast-1.amazonaws.com":                  false,
		"evil.example.com":                                      false,
	} {
		if err := cert.VerifyHostname(host); (err == nil) != ok {
			t.Errorf("%s verifies: %v, want %v", host, err == nil, ok)
		}
	}

	private := configtest.Parse(t, map[string]string{"apiAccess": "private"})
	if got := StableSANs(private); !slices.Contains(got, "127.0.0.1") || !slices.Contains(got, "localhost") {
		t.Errorf("private API SANs %v lack the loopback names", got)
	}
	if got := StableSANs(configtest.Parse(t, map[string]string{"region": "cn-north-1"})); got[1] != "*.elb.cn-north-1.amazonaws.com.cn" {
		t.Errorf("China SAN %s", got[1])
	}
}
