package images

import (
	"slices"
	"strings"
	"testing"
)

// texts renders problems as the user reads them.
func texts(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return out
}

// expect checks that every want fragment is in exactly one problem and
// that there are no other problems.
func expect(t *testing.T, ps []Problem, want ...string) {
	t.Helper()
	got := texts(ps)
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && strings.Contains(g, w) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no problem contains %q; got:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
	for i, g := range got {
		if !used[i] {
			t.Errorf("unexpected problem: %s", g)
		}
	}
}

func TestValidateSpecByExactPath(t *testing.T) {
	s := Spec{
		Extensions: []string{
			"siderolabs/iscsi-tools",                    // fine
			"siderolabs/nvidia-open-gpu-kernel-modules", // renamed
			"iscsi-tools",                               // no prefix
			"siderolabs/iscsi-tools",                    // duplicate of [0]
			"siderolabs/nvidia-container-tolkit-lts",    // typo
			"siderolabs/uhid",                           // 1.13 only
		},
		ExtraKernelArgs: []string{
			"net.ifnames=0",      // fine
			"talos.platform=gcp", // owned
			"-talos.hostname",    // owned, negated
			"talos.config.inline=machine: {}",
			"a=1 b=2",
			"net.ifnames=0", // duplicate of [0]
			"",
			`foo="bar baz"`,
			"console=ttyS1",                          // allowed: Talos replaces console
			"talos.experimental.wipe=system",         // owned
			"-init_on_alloc",                         // Talos allows removing a default
			"talos.config.oauth.client_id=x",         // under talos.config
			"talos.configfoo=1",                      // not under talos.config
			"talos.logging.kernel=udp://10.0.0.1:99", // fine
		},
	}
	expect(t, ValidateSpec("workerPools[1].image", s, "v1.12.11"),
		`workerPools[1].image.extensions[1]: Invalid value: "siderolabs/nvidia-open-gpu-kernel-modules": renamed: write "siderolabs/nvidia-open-gpu-kernel-modules-lts"`,
		`workerPools[1].image.extensions[2]: Unsupported value: "iscsi-tools": not an official extension of Talos v1.12.11; write "siderolabs/iscsi-tools"`,
		`workerPools[1].image.extensions[3]: Duplicate value: "siderolabs/iscsi-tools": same as workerPools[1].image.extensions[0]`,
		`workerPools[1].image.extensions[4]: Unsupported value: "siderolabs/nvidia-container-tolkit-lts": not an official extension of Talos v1.12.11; did you mean "siderolabs/nvidia-container-toolkit-lts"`,
		`workerPools[1].image.extensions[5]: Unsupported value: "siderolabs/uhid"`,
		`workerPools[1].image.extraKernelArgs[1]: Forbidden: "talos.platform=gcp": talos.platform is refused`,
		`workerPools[1].image.extraKernelArgs[2]: Forbidden: "-talos.hostname"`,
		`workerPools[1].image.extraKernelArgs[3]: Invalid value: "talos.config.inline=machine: {}": one argument per element`,
		`workerPools[1].image.extraKernelArgs[4]: Invalid value: "a=1 b=2": one argument per element: write "a=1", "b=2" as separate elements`,
		`workerPools[1].image.extraKernelArgs[5]: Duplicate value: "net.ifnames=0": same as workerPools[1].image.extraKernelArgs[0]`,
		`workerPools[1].image.extraKernelArgs[6]: Invalid value: "": empty`,
		`workerPools[1].image.extraKernelArgs[7]: Invalid value: "foo=\"bar baz\"": one argument per element`,
		`workerPools[1].image.extraKernelArgs[9]: Forbidden: "talos.experimental.wipe=system"`,
		`workerPools[1].image.extraKernelArgs[11]: Forbidden: "talos.config.oauth.client_id=x": talos.config.oauth.client_id is refused`,
	)
	// The same spec on 1.13: uhid exists there.
	for _, p := range ValidateSpec("image", s, "v1.13.13") {
		if p.Path == "image.extensions[5]" {
			t.Errorf("uhid refused on 1.13: %s", p.Error())
		}
	}
	// An unknown name on a version newer than the list says so.
	ps := ValidateSpec("image", Spec{Extensions: []string{"siderolabs/brand-new"}}, "v1.13.13")
	expect(t, ps, `image.extensions[0]: Unsupported value: "siderolabs/brand-new": not an official extension of Talos v1.13.13 as of siderolabs/extensions v1.13.9, the newest release this stack knows`)
	if !strings.Contains(ps[0].Detail, "https://factory.talos.dev/version/v1.13.13/extensions/official") {
		t.Errorf("no pointer to the full list: %s", ps[0].Detail)
	}
	if ps := ValidateSpec("image", Spec{Extensions: []string{"siderolabs/gvisor"}}, "v1.14.0"); len(ps) != 1 || ps[0].Path != "talosVersion" {
		t.Errorf("1.14: %v", texts(ps))
	}
	if ps := ValidateSpec("image", Spec{}, "v1.13.13"); len(ps) != 0 {
		t.Errorf("empty spec: %v", texts(ps))
	}
}

func TestQuotedArgs(t *testing.T) {
	// A quoted value without spaces is still refused: nothing unquotes it.
	expect(t, kernelArgProblems("image.extraKernelArgs", []string{`x="y"`}), `image.extraKernelArgs[0]: Invalid value: "x=\"y\"": quotes are not supported`)
}

func TestGPUFamilies(t *testing.T) {
	for typ, want := range map[string]GPU{
		"g5.xlarge":          {NVIDIA: true},
		"g4dn.xlarge":        {NVIDIA: true},
		"g5g.xlarge":         {NVIDIA: true},
		"g6e.2xlarge":        {NVIDIA: true},
		"gr6.4xlarge":        {NVIDIA: true},
		"p3.2xlarge":         {NVIDIA: true, PreTuring: true},
		"g3s.xlarge":         {NVIDIA: true, PreTuring: true},
		"p4d.24xlarge":       {NVIDIA: true, NVSwitch: true},
		"p5.48xlarge":        {NVIDIA: true, NVSwitch: true},
		"p6-b200.48xlarge":   {NVIDIA: true, NVSwitch: true},
		"g4ad.xlarge":        {},
		"inf2.xlarge":        {},
		"trn1.2xlarge":       {},
		"m7i.large":          {},
		"gp3":                {},
		"dl1.24xlarge":       {},
		"t3.medium":          {},
		"p6e-gb200.36xlarge": {NVIDIA: true, NVSwitch: true},
	} {
		if got := GPUOf(typ); got != want {
			t.Errorf("%s: %+v, want %+v", typ, got, want)
		}
	}
}

func TestGPUPoolNeedsNVIDIAExtensions(t *testing.T) {
	types := func(names ...string) []InstanceType {
		var out []InstanceType
		for i, n := range names {
			out = append(out, InstanceType{Path: "workerPools[1].instanceTypes[" + string(rune('0'+i)) + "]", Name: n})
		}
		return out
	}
	// docs/extensions.md's GPU pool on the official image: an error naming what to add.
	ps, _ := ValidateGroup(Group{ImagePath: "workerPools[1].image", Types: types("g5.xlarge")})
	expect(t, ps, `workerPools[1].image.extensions: Required value: workerPools[1].instanceTypes[0] g5.xlarge has NVIDIA GPUs, which need siderolabs/nvidia-open-gpu-kernel-modules-lts and siderolabs/nvidia-container-toolkit-lts: add "siderolabs/nvidia-open-gpu-kernel-modules-lts", "siderolabs/nvidia-container-toolkit-lts"`)

	// Inheriting the cluster's image says where the fix goes.
	ps, _ = ValidateGroup(Group{ImagePath: "workerPools[1].image", Inherited: true, Spec: Spec{Extensions: []string{"siderolabs/iscsi-tools"}}, Types: types("g5.xlarge")})
	if len(ps) != 1 || !strings.Contains(ps[0].Detail, "a pool's own image replaces it") {
		t.Errorf("inherited: %v", texts(ps))
	}

	ok := Spec{Extensions: []string{"siderolabs/nvidia-open-gpu-kernel-modules-production", "siderolabs/nvidia-container-toolkit-production"}}
	if ps, w := ValidateGroup(Group{ImagePath: "workerPools[1].image", Spec: ok, Types: types("g5.xlarge", "g6.xlarge")}); len(ps) != 0 || len(w) != 0 {
		t.Errorf("complete production set: %v %v", texts(ps), w)
	}

	// The toolkit follows the modules' branch.
	ps, _ = ValidateGroup(Group{ImagePath: "image", Spec: Spec{Extensions: []string{"siderolabs/nvidia-open-gpu-kernel-modules-production", "siderolabs/nvidia-container-toolkit-lts"}}, Types: types("g5.xlarge")})
	expect(t, ps,
		`image.extensions: Invalid value: "siderolabs/nvidia-container-toolkit-lts": the container toolkit's driver branch must be the kernel modules' (production)`,
		`image.extensions: Required value: workerPools[1].instanceTypes[0] g5.xlarge has NVIDIA GPUs, which need siderolabs/nvidia-container-toolkit-production`)

	// Volta needs the proprietary modules; NVSwitch types the fabric manager.
	ps, _ = ValidateGroup(Group{ImagePath: "workerPools[0].image", Spec: Spec{Extensions: []string{"siderolabs/nvidia-open-gpu-kernel-modules-lts", "siderolabs/nvidia-container-toolkit-lts"}}, Types: types("p3.2xlarge")})
	expect(t, ps, `workerPools[0].image.extensions: Invalid value: "siderolabs/nvidia-open-gpu-kernel-modules-lts": workerPools[1].instanceTypes[0] p3.2xlarge has GPUs older than Turing, which the open kernel modules do not drive: use siderolabs/nonfree-kmod-nvidia-lts`)
	ps, _ = ValidateGroup(Group{ImagePath: "workerPools[0].image", Spec: Spec{Extensions: []string{"siderolabs/nvidia-open-gpu-kernel-modules-lts", "siderolabs/nvidia-container-toolkit-lts"}}, Types: types("p4d.24xlarge")})
	expect(t, ps, `which need siderolabs/nvidia-fabricmanager-lts: add "siderolabs/nvidia-fabricmanager-lts"`)

	// A pool mixing GPU and non-GPU types; the AMD g4ad is not NVIDIA.
	ps, _ = ValidateGroup(Group{ImagePath: "workerPools[1].image", Spec: ok, Types: types("g5.xlarge", "g4ad.xlarge")})
	expect(t, ps, `workerPools[1].instanceTypes[1]: Forbidden: "g4ad.xlarge": workerPools[1].instanceTypes[0] g5.xlarge has NVIDIA GPUs and g4ad.xlarge has none: give it its own pool`)

	// NVIDIA modules where no GPU is: a warning, not an error.
	ps, w := ValidateGroup(Group{ImagePath: "image", Spec: ok, Types: []InstanceType{{Path: "controlPlane.instanceType", Name: "m7i.large"}}})
	if len(ps) != 0 || len(w) != 1 || !strings.Contains(w[0], "fail to load") {
		t.Errorf("modules without GPUs: %v %v", texts(ps), w)
	}
	// No GPU, no NVIDIA: nothing to say.
	if ps, w := ValidateGroup(Group{ImagePath: "image", Types: types("m7i.large", "inf2.xlarge")}); len(ps)+len(w) != 0 {
		t.Errorf("plain pool: %v %v", texts(ps), w)
	}
	if !ok.HasNVIDIA() || (Spec{Extensions: []string{"siderolabs/nvidia-container-toolkit-lts"}}).HasNVIDIA() {
		t.Error("HasNVIDIA keys on the kernel modules")
	}
}

func TestNearest(t *testing.T) {
	names := []string{"siderolabs/iscsi-tools", "siderolabs/trident-iscsi-tools", "siderolabs/zfs", "siderolabs/gvisor"}
	if got := nearest("siderolabs/iscsi", names, 3); !slices.Equal(got, []string{"siderolabs/iscsi-tools", "siderolabs/trident-iscsi-tools"}) {
		t.Errorf("nearest iscsi: %v", got)
	}
	if got := nearest("siderolabs/gvsior", names, 3); !slices.Equal(got, []string{"siderolabs/gvisor"}) {
		t.Errorf("nearest gvsior: %v", got)
	}
	if got := nearest("siderolabs/kubernetes", names, 3); len(got) != 0 {
		t.Errorf("nearest kubernetes: %v", got)
	}
}
