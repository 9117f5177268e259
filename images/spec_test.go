package images

import (
	"strings"
	"testing"
)

// Schematic IDs the Image Factory computed: its own test vectors
// (pkg/schematic/schematic_test.go:24-37@v0.9.0) and the IDs POST
// /schematics returned for schematics printed in Talos' documentation.
func TestSchematicIDsMatchTheFactory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   Spec
		id     string
		source string
	}{
		{"empty", Spec{}, "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba",
			"image-factory pkg/schematic/schematic_test.go:25-27@v0.9.0; Talos docs learn-more/image-factory.mdx:71 (v1.13)"},
		{"kernel args", Spec{ExtraKernelArgs: []string{"noapic", "nolapic"}}, "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c",
			"image-factory pkg/schematic/schematic_test.go:29-37@v0.9.0"},
		{"gvisor on AWS", Spec{Extensions: []string{"siderolabs/gvisor"}}, "d9ff89777e246792e7642abd3220a616afb4e49822382e4213a2e528ab826fe5",
			"Talos docs platform-specific-installations/boot-assets.mdx:198-218 (v1.13)"},
		// Written in another order than the documentation's: canonical
		// order is sorted, as the factory's UI sorts.
		{"bare metal", Spec{Extensions: []string{"siderolabs/intel-ucode", "siderolabs/gvisor"}, ExtraKernelArgs: []string{"net.ifnames=0"}},
			"b8e8fbbe1b520989e6c52c8dc8303070cb42095997e76e812fa8892393e1d176",
			"Talos docs platform-specific-installations/boot-assets.mdx:51-77 (v1.13)"},
		{"Hetzner", Spec{Extensions: []string{"siderolabs/qemu-guest-agent"}}, "ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515",
			"Talos docs cloud-platforms/hetzner.mdx:18 (v1.13): Hetzner + qemu-guest-agent"},
	} {
		if got := tc.spec.Schematic().ID(); got != tc.id {
			t.Errorf("%s: ID %s, the factory's is %s (%s); YAML:\n%s", tc.name, got, tc.id, tc.source, tc.spec.Schematic().YAML())
		}
	}
}

func TestSchematicYAMLIsTheFactorys(t *testing.T) {
	got := string(Spec{Extensions: []string{"siderolabs/nvidia-container-toolkit-lts", "siderolabs/nvidia-open-gpu-kernel-modules-lts"},
		ExtraKernelArgs: []string{"console=ttyS0"}}.Schematic().YAML())
	want := `customization:
    extraKernelArgs:
        - console=ttyS0
    systemExtensions:
        officialExtensions:
            - siderolabs/nvidia-container-toolkit-lts
            - siderolabs/nvidia-open-gpu-kernel-modules-lts
`
	if got != want {
		t.Errorf("schematic YAML:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(string(Spec{}.Schematic().YAML()), "systemExtensions") {
		t.Error("empty extensions written")
	}
}

func TestSchematicOrder(t *testing.T) {
	a := Spec{Extensions: []string{"siderolabs/b", "siderolabs/a"}, ExtraKernelArgs: []string{"x=1", "x=2"}}
	b := Spec{Extensions: []string{"siderolabs/a", "siderolabs/b"}, ExtraKernelArgs: []string{"x=1", "x=2"}}
	if a.Schematic().ID() != b.Schematic().ID() {
		t.Error("extension order changed the schematic")
	}
	c := Spec{Extensions: b.Extensions, ExtraKernelArgs: []string{"x=2", "x=1"}}
	if c.Schematic().ID() == b.Schematic().ID() {
		t.Error("kernel argument order is meaning (the last wins) but did not change the schematic")
	}
	if a.Extensions[0] != "siderolabs/b" {
		t.Error("Schematic sorted the spec's own slice")
	}
}

func TestNames(t *testing.T) {
	id := Spec{Extensions: []string{"siderolabs/gvisor"}}.Schematic().ID()
	name := AMIName(id, "v1.13.13", "ap-southeast-1", "amd64")
	if want := "talos-aws-r1-v1.13.13-ap-southeast-1-amd64-" + id; name != want {
		t.Errorf("AMI name %s, want %s", name, want)
	}
	// EC2: 3 to 128 characters (RegisterImage Name); the longest
	// commercial region names are 14 characters.
	if n := len(AMIName(id, "v1.13.13", "ap-northeast-3", "arm64")); n > 128 {
		t.Errorf("AMI name has %d characters", n)
	}
	if got, want := InstallerImage(id, "v1.13.13"), "factory.talos.dev/aws-installer/"+id+":v1.13.13"; got != want {
		t.Errorf("installer %s, want %s", got, want)
	}
	if got, want := DiskImagePath(id, "v1.13.13", "arm64"), "/image/"+id+"/v1.13.13/aws-arm64.raw.zst"; got != want {
		t.Errorf("disk image %s, want %s", got, want)
	}
	if a, err := EC2Arch("amd64"); err != nil || a != "x86_64" {
		t.Errorf("amd64: %s %v", a, err)
	}
	if _, err := EC2Arch("riscv64"); err == nil {
		t.Error("riscv64 accepted")
	}
}
