package images

import (
	"slices"
	"strings"
	"testing"
	"time"

	talosconfig "github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/bundle"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
)

type cloudMode struct{}

func (cloudMode) String() string        { return "cloud" }
func (cloudMode) RequiresInstall() bool { return false }
func (cloudMode) InContainer() bool     { return false }

// workerWith renders a worker configuration of talosVersion with Talos'
// generator and the patches, and validates it as a cloud node would at
// boot; it returns the loaded configuration.
func workerWith(t *testing.T, talosVersion string, patches []string) talosconfig.Provider {
	t.Helper()
	contract, err := talosconfig.ParseContractFromVersion(talosVersion)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := secrets.NewBundle(secrets.NewFixedClock(time.Now()), contract)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := configpatcher.LoadPatches(patches)
	if err != nil {
		t.Fatalf("patches do not load: %v", err)
	}
	b, err := bundle.NewBundle(bundle.WithInputOptions(&bundle.InputOptions{
		ClusterName: "c", Endpoint: "https://10.0.0.1:6443", KubeVersion: "1.35.0",
		GenOptions: []generate.Option{generate.WithSecretsBundle(sb), generate.WithVersionContract(contract), generate.WithInstallImage(InstallerImage("x", talosVersion))},
	}), bundle.WithPatchWorker(loaded), bundle.WithVerbose(false))
	if err != nil {
		t.Fatalf("%s: patches do not apply: %v", talosVersion, err)
	}
	out, err := b.Serialize(encoder.CommentsDisabled, machine.TypeWorker)
	if err != nil {
		t.Fatal(err)
	}
	p, err := configloader.NewFromBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Validate(cloudMode{}); err != nil {
		t.Fatalf("%s: Talos refuses the patched configuration: %v", talosVersion, err)
	}
	return p
}

func TestNVIDIAPatchesPerTalosVersion(t *testing.T) {
	gpu := Spec{Extensions: []string{"siderolabs/nvidia-container-toolkit-lts", "siderolabs/nvidia-open-gpu-kernel-modules-lts"}}
	for _, tc := range []struct {
		version string
		bpfJIT  string // net.core.bpf_jit_harden after the patches; "" unset
	}{
		// 1.12's guides relax it for the toolkit's nvidia-container-cli.
		{"v1.12.11", "1"},
		// 1.13's toolkit has no nvidia-container-cli: Talos' own value stays.
		{"v1.13.13", ""},
	} {
		c := workerWith(t, tc.version, MachinePatches(tc.version, gpu))
		var mods []string
		for _, m := range c.Machine().Kernel().Modules() {
			mods = append(mods, m.Name())
		}
		if want := []string{"nvidia", "nvidia_uvm", "nvidia_drm", "nvidia_modeset"}; !slices.Equal(mods, want) {
			t.Errorf("%s: kernel modules %v, want %v", tc.version, mods, want)
		}
		if got := c.Machine().Sysctls()["net.core.bpf_jit_harden"]; got != tc.bpfJIT {
			t.Errorf("%s: net.core.bpf_jit_harden %q, want %q", tc.version, got, tc.bpfJIT)
		}
	}
	// The proprietary modules get the same configuration.
	nonfree := Spec{Extensions: []string{"siderolabs/nonfree-kmod-nvidia-production", "siderolabs/nvidia-container-toolkit-production"}}
	if got := MachinePatches("v1.13.13", nonfree); len(got) != 1 || got[0] != nvidiaModulesPatch {
		t.Errorf("proprietary modules: %q", got)
	}
	// Nothing for a spec without such extensions, or the toolkit alone.
	if got := MachinePatches("v1.12.11", Spec{Extensions: []string{"siderolabs/iscsi-tools", "siderolabs/nvidia-container-toolkit-lts"}}); len(got) != 0 {
		t.Errorf("no NVIDIA modules: %q", got)
	}
}

func TestECRCredentialProviderPatch(t *testing.T) {
	for _, v := range []string{"v1.12.11", "v1.13.13"} {
		c := workerWith(t, v, MachinePatches(v, Spec{Extensions: []string{ECRCredentialProvider}}))
		cp := c.Machine().Kubelet().CredentialProviderConfig()
		if cp == nil {
			t.Fatalf("%s: no credential provider configuration", v)
		}
		if cp["kind"] != "CredentialProviderConfig" || cp["apiVersion"] != "kubelet.config.k8s.io/v1" {
			t.Errorf("%s: %v", v, cp)
		}
		providers, _ := cp["providers"].([]any)
		if len(providers) != 1 {
			t.Fatalf("%s: providers %v", v, cp["providers"])
		}
		p, _ := providers[0].(map[string]any)
		// The kubelet runs the binary of this name from the directory the
		// extension installs it in (/usr/local/lib/kubelet/credentialproviders,
		// container-runtime/ecr-credential-provider/pkg.yaml@v1.13.9).
		if p["name"] != "ecr-credential-provider" || p["apiVersion"] != "credentialprovider.kubelet.k8s.io/v1" {
			t.Errorf("%s: provider %v", v, p)
		}
		images, _ := p["matchImages"].([]any)
		if !slices.Contains(images, any("*.dkr.ecr.*.amazonaws.com")) {
			t.Errorf("%s: matchImages %v", v, images)
		}
	}
	if !strings.Contains(ecrCredentialProviderPatch, `defaultCacheDuration: "12h"`) {
		t.Error("cache duration")
	}
}
