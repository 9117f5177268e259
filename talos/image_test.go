package talos

import (
	"strings"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config/configtest"
	"github.com/talos-aws/talos-aws/images"
)

// A role without an image key renders exactly as before: the zero Image.
func TestNoImageIsTheZeroImage(t *testing.T) {
	cfg := configtest.Parse(t, nil)
	if img := ControlPlaneImage(cfg); img.Installer != "" || img.Patches != nil {
		t.Errorf("control plane without an image: %+v", img)
	}
	if img := PoolImage(cfg, cfg.WorkerPools[0]); img.Installer != "" || img.Patches != nil {
		t.Errorf("pool without an image: %+v", img)
	}
}

// A GPU pool installs the factory's installer of its schematic, loads
// NVIDIA's modules from the companion patch, and the user's patch, which
// comes after, still wins; the control plane runs the cluster's image,
// here the ECR credential provider, with the kubelet configuration it
// needs. Talos validates both as a cloud node would.
func TestImageInstallerAndCompanionPatches(t *testing.T) {
	gpu := images.Spec{Extensions: []string{"siderolabs/nvidia-open-gpu-kernel-modules-lts", "siderolabs/nvidia-container-toolkit-lts"}}
	cfg := configtest.Parse(t, map[string]string{
		"image": `{"extensions":["siderolabs/ecr-credential-provider"]}`,
		"workerPools": `[{"name":"gpu","instanceTypes":["g5.xlarge"],"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules-lts","siderolabs/nvidia-container-toolkit-lts"]},
			"configPatches":["machine:\n  kernel:\n    modules:\n      - name: nvidia_peermem\n"]},
			{"name":"general","instanceTypes":["m7i.large"]}]`,
	})
	secrets, err := NewSecretsBundle(cfg.TalosVersion)
	if err != nil {
		t.Fatal(err)
	}
	in := PatchInputFor(cfg, []string{intDNS, pubDNS})
	render := func(typ machine.Type, patches []string, img Image) []byte {
		t.Helper()
		b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: ClusterEndpoint(intDNS), KubernetesVersion: cfg.KubernetesVersion,
			TalosVersion: cfg.TalosVersion, Type: typ, Patches: patches, Secrets: secrets, InstallImage: img.Installer})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ValidateMachineConfig(b); err != nil {
			t.Fatal(err)
		}
		return b
	}

	img := PoolImage(cfg, cfg.WorkerPools[0])
	patches, err := WorkerPatches(in, cfg.WorkerPools[0], img)
	if err != nil {
		t.Fatal(err)
	}
	// Order: the stack's, the companions, the user's last.
	if n := len(patches); patches[n-1] != cfg.WorkerPools[0].ConfigPatches[0] || patches[n-2] != img.Patches[len(img.Patches)-1] {
		t.Errorf("companion patches are not right before the user's: %q", patches[n-2:])
	}
	b := render(machine.TypeWorker, patches, img)
	want := "factory.talos.dev/aws-installer/" + gpu.Schematic().ID() + ":" + cfg.TalosVersion
	if got := get(t, v1alpha1(t, b), "machine.install.image"); got != want {
		t.Errorf("GPU pool installs %v, want %s", got, want)
	}
	p, err := configloader.NewFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var modules []string
	for _, m := range p.Machine().Kernel().Modules() {
		modules = append(modules, m.Name())
	}
	if got := strings.Join(modules, ","); got != "nvidia,nvidia_uvm,nvidia_drm,nvidia_modeset,nvidia_peermem" {
		t.Errorf("kernel modules %s", got)
	}

	general := PoolImage(cfg, cfg.WorkerPools[1])
	if general.Installer != images.InstallerImage(images.Spec{Extensions: []string{"siderolabs/ecr-credential-provider"}}.Schematic().ID(), cfg.TalosVersion) {
		t.Errorf("a pool without its own image runs the cluster's: %+v", general)
	}
	cpImg := ControlPlaneImage(cfg)
	cp, err := ControlPlaneRolePatches(in, cpImg)
	if err != nil {
		t.Fatal(err)
	}
	cpDoc := v1alpha1(t, render(machine.TypeControlPlane, cp, cpImg))
	providers, _ := get(t, cpDoc, "machine.kubelet.credentialProviderConfig.providers").([]any)
	if len(providers) != 1 || providers[0].(map[string]any)["name"] != "ecr-credential-provider" {
		t.Errorf("control plane credential providers %v", providers)
	}
}

// The user-data size check renders each role with its image: an image's
// patches count, and its installer.
func TestEstimateIncludesTheImage(t *testing.T) {
	plain := configtest.Parse(t, nil)
	withImage := configtest.Parse(t, map[string]string{"image": `{"extensions":["siderolabs/ecr-credential-provider"]}`})
	a, err := EstimateUserData(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EstimateUserData(withImage)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		// The provider config is several hundred bytes.
		if b[i].Bytes-a[i].Bytes < 400 {
			t.Errorf("%s: %d bytes with the image, %d without", a[i].Path, b[i].Bytes, a[i].Bytes)
		}
	}
}
