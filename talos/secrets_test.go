package talos

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config/configtest"
)

// The provider's stored form and back lose nothing a configuration carries.
func TestMachineSecretsRoundTrip(t *testing.T) {
	b, err := NewSecretsBundle("v1.12.11")
	if err != nil {
		t.Fatal(err)
	}
	back, err := BundleFromMachineSecrets(MachineSecretsFromBundle(b))
	if err != nil {
		t.Fatal(err)
	}
	back.Clock = b.Clock
	if !reflect.DeepEqual(back, b) {
		t.Fatalf("round trip changed the bundle:\n%#v\n%#v", back, b)
	}
	ms := MachineSecretsFromBundle(b)
	ms.Certs.Os.Key = "not base64!"
	if _, err := BundleFromMachineSecrets(ms); err == nil || !strings.HasPrefix(err.Error(), "machine secrets: certs.os.key: ") {
		t.Fatalf("a broken key must name its field: %v", err)
	}
}

// The provider gives the bundle time.Now() as its clock; the configuration
// it renders must not depend on it, or a fixed clock would change what the
// provider rendered.
func TestRenderIgnoresTheClock(t *testing.T) {
	cfg := configtest.Parse(t, nil)
	b, err := NewSecretsBundle(cfg.TalosVersion)
	if err != nil {
		t.Fatal(err)
	}
	patches, err := ControlPlanePatches(PatchInputFor(cfg, []string{intDNS, pubDNS}))
	if err != nil {
		t.Fatal(err)
	}
	render := func(at time.Time) []byte {
		c := *b
		c.Clock = secrets.NewFixedClock(at)
		out, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS),
			KubernetesVersion: cfg.KubernetesVersion, TalosVersion: cfg.TalosVersion, Type: machine.TypeControlPlane, Patches: patches, Secrets: &c})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if a, z := render(time.Unix(0, 0)), render(time.Now().Add(400*24*time.Hour)); !bytes.Equal(a, z) {
		t.Fatal("the rendered configuration depends on the bundle's clock")
	}
}
