package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/images"
)

const (
	nvidiaOpen    = "siderolabs/nvidia-open-gpu-kernel-modules-lts"
	nvidiaToolkit = "siderolabs/nvidia-container-toolkit-lts"
)

// gpuImage is a pool's image key with the NVIDIA extensions and iSCSI.
const gpuImage = `{"extensions":["siderolabs/iscsi-tools","` + nvidiaOpen + `","` + nvidiaToolkit + `"]}`

// The Pulumi CLI hands the program Pulumi.yaml's declared default for a
// key the stack does not set: image's is {}, which must mean no image, so
// a stack that never heard of the key boots the official AMI.
func TestImageDeclaredDefaultIsNone(t *testing.T) {
	decls, err := ProjectDeclarations()
	if err != nil {
		t.Fatal(err)
	}
	def, ok := decls["image"].Default.(map[string]any)
	if !ok || len(def) != 0 {
		t.Fatalf("Pulumi.yaml declares image's default %#v, want {}", decls["image"].Default)
	}
	if _, set := decls["workerPools"].Default.([]any)[0].(map[string]any)["image"]; set {
		t.Error("the default pool declares an image: it would replace the cluster's")
	}
	cfg, _, err := Parse(src(map[string]string{"image": "{}"}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Image.IsZero() || cfg.UsesImages() || cfg.WorkerPools[0].Image != nil {
		t.Errorf("image {} parsed as %+v (uses images: %v)", cfg.Image, cfg.UsesImages())
	}
}

// A pool's image replaces the cluster's (no merge); a pool without one
// runs the cluster's; an explicit empty one runs the official image.
func TestPoolImageReplacesTheClusters(t *testing.T) {
	cfg, _, err := Parse(src(map[string]string{
		"image": `{"extensions":["siderolabs/iscsi-tools"],"extraKernelArgs":["net.ifnames=0"]}`,
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"]},
			{"name":"b","instanceTypes":["m7i.large"],"image":{"extensions":["siderolabs/gvisor"]}},
			{"name":"c","instanceTypes":["m7i.large"],"image":{}}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []images.Spec{
		{Extensions: []string{"siderolabs/iscsi-tools"}, ExtraKernelArgs: []string{"net.ifnames=0"}},
		{Extensions: []string{"siderolabs/gvisor"}},
		{},
	} {
		got := cfg.ImageOf(cfg.WorkerPools[i])
		if !slices.Equal(got.Extensions, want.Extensions) || !slices.Equal(got.ExtraKernelArgs, want.ExtraKernelArgs) {
			t.Errorf("pool %s runs %+v, want %+v", cfg.WorkerPools[i].Name, got, want)
		}
	}
	if !cfg.UsesImages() {
		t.Error("UsesImages false with an image set")
	}
}

// Every image problem at its key path, all at once, with the other
// configuration errors.
func TestImageErrorsByPath(t *testing.T) {
	_, _, err := Parse(src(map[string]string{
		"natStrategy": "two",
		"image":       `{"extensions":["siderolabs/iscsi-tool","siderolabs/gvisor","siderolabs/gvisor"],"extraKernelArgs":["talos.platform=metal","a b"],"extensoins":[]}`,
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules"]}}]`,
	}))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a validation error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"natStrategy: Unsupported value",
		"image.extensoins: Invalid value: unknown key",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	// An unreadable image key is reported as such and not judged further.
	if strings.Contains(msg, "- image.extensions[0]") {
		t.Errorf("an unreadable image was validated:\n%s", msg)
	}

	_, _, err = Parse(src(map[string]string{
		"natStrategy": "two",
		"image":       `{"extensions":["siderolabs/iscsi-tool","siderolabs/gvisor","siderolabs/gvisor"],"extraKernelArgs":["talos.platform=metal","a b"]}`,
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules"]}}]`,
	}))
	msg = err.Error()
	for _, want := range []string{
		"natStrategy: Unsupported value",
		`image.extensions[0]: Unsupported value: "siderolabs/iscsi-tool": not an official extension of Talos ` + DefaultTalosVersion,
		`did you mean "siderolabs/iscsi-tools"`,
		`image.extensions[2]: Duplicate value: "siderolabs/gvisor": same as image.extensions[1]`,
		`image.extraKernelArgs[0]: Forbidden: "talos.platform=metal"`,
		`image.extraKernelArgs[1]: Invalid value: "a b": one argument per element`,
		`workerPools[0].image.extensions[0]: Invalid value: "siderolabs/nvidia-open-gpu-kernel-modules": renamed: write "siderolabs/nvidia-open-gpu-kernel-modules-lts"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

// A GPU instance type without NVIDIA's extensions is an error naming them,
// at the image key the fix goes into.
func TestGPUPoolsNeedTheNVIDIAExtensions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kv    map[string]string
		want  []string
		clean bool
	}{
		{"no image", map[string]string{"workerPools": `[{"name":"gpu","instanceTypes":["g5.xlarge"]}]`},
			[]string{`workerPools[0].image.extensions: Required value: workerPools[0].instanceTypes[0] g5.xlarge has NVIDIA GPUs, which need ` + nvidiaOpen + ` and ` + nvidiaToolkit + `: add "` + nvidiaOpen + `", "` + nvidiaToolkit + `"`}, false},
		{"the cluster's image, without them", map[string]string{"image": `{"extensions":["siderolabs/iscsi-tools"]}`,
			"workerPools": `[{"name":"gpu","instanceTypes":["g5.xlarge"]}]`},
			[]string{"workerPools[0].image.extensions: Required value", "the group runs the cluster's image; a pool's own image replaces it"}, false},
		{"toolkit missing", map[string]string{"workerPools": `[{"name":"gpu","instanceTypes":["g5.xlarge"],"image":{"extensions":["` + nvidiaOpen + `"]}}]`},
			[]string{`workerPools[0].image.extensions: Required value`, `add "` + nvidiaToolkit + `"`}, false},
		{"GPU and CPU types mixed", map[string]string{"workerPools": `[{"name":"gpu","instanceTypes":["g5.xlarge","m7i.xlarge"],"image":` + gpuImage + `}]`},
			[]string{`workerPools[0].instanceTypes[1]: Forbidden`, "give it its own pool"}, false},
		{"with them", map[string]string{"workerPools": `[{"name":"gpu","instanceTypes":["g5.xlarge"],"image":` + gpuImage + `},{"name":"general","instanceTypes":["m7i.large"]}]`}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(src(tc.kv))
			if tc.clean {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%s", w, err)
				}
			}
		})
	}
}

// A deployed stack whose GPU pool boots the official AMI, as it always
// has, keeps deploying: the finding is a warning until the stack chooses
// an image for that pool, when it is an error again.
func TestDeployedGPUPoolWithoutImageWarns(t *testing.T) {
	deployed := Deployed{Exists: true, TalosVersion: DefaultTalosVersion, KubernetesVersion: DefaultKubernetesVersion}
	pool := `[{"name":"gpu","instanceTypes":["g5.xlarge"]}]`
	_, warnings, err := ParseDeployed(src(map[string]string{"workerPools": pool}), deployed)
	if err != nil {
		t.Fatalf("a deployed stack's GPU pool on the official AMI stopped deploying: %v", err)
	}
	if w := strings.Join(warnings, "\n"); !strings.Contains(w, "workerPools[0].image.extensions: workerPools[0].instanceTypes[0] g5.xlarge has NVIDIA GPUs") || !strings.Contains(w, nvidiaToolkit) {
		t.Errorf("no warning naming the extensions:\n%s", w)
	}
	_, _, err = ParseDeployed(src(map[string]string{"workerPools": pool, "image": `{"extensions":["siderolabs/iscsi-tools"]}`}), deployed)
	if err == nil || !strings.Contains(err.Error(), "workerPools[0].image.extensions: Required value") {
		t.Errorf("a GPU pool given an image without the NVIDIA extensions: %v", err)
	}
}

// An explicit AMI cannot stand in for a built one.
func TestExplicitAMIWithAnImage(t *testing.T) {
	_, _, err := Parse(src(map[string]string{"amiIdAmd64": "ami-0123456789abcdef0", "image": `{"extensions":["siderolabs/iscsi-tools"]}`}))
	if err == nil || !strings.Contains(err.Error(), "amiIdAmd64: Forbidden: amd64 nodes run the image of image") {
		t.Errorf("explicit AMI with an image: %v", err)
	}
	// An arm64 override is fine while only amd64 groups have an image.
	if _, _, err := Parse(src(map[string]string{"amiIdArm64": "ami-0123456789abcdef0",
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"image":{"extensions":["siderolabs/iscsi-tools"]}},{"name":"b","arch":"arm64","instanceTypes":["m7g.large"]}]`})); err != nil {
		t.Error(err)
	}
}

// Renderable drops an invalid image, so Talos still judges the rest.
func TestRenderableDropsAnInvalidImage(t *testing.T) {
	cfg, _, err := Parse(src(map[string]string{"image": `{"extensions":["siderolabs/nope"]}`,
		"workerPools": `[{"name":"a","instanceTypes":["m7i.large"],"image":{"extraKernelArgs":["talos.config=x"]}}]`}))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	r := cfg.Renderable(ve.Errors)
	if !r.Image.IsZero() || !r.ImageOf(r.WorkerPools[0]).IsZero() {
		t.Errorf("renderable keeps invalid images: %+v %+v", r.Image, r.WorkerPools[0].Image)
	}
}
