package program

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/images/ami"
	"github.com/talos-aws/talos-aws/testkit"
)

// fakeAMIBuilder is an account's AMIs in memory: Find reads them, Ensure
// adds the one it "builds" (its id from its name, so graphs are stable).
type fakeAMIBuilder struct {
	mu       sync.Mutex
	existing map[string]string // AMI name: id
	finds    []string
	ensures  []string
	opened   int // builders made (Deps.AMIBuilder calls)
}

// fakeAMIs is what every evaluation builds AMIs with (deps_test.go).
var fakeAMIs = &fakeAMIBuilder{}

// resetAMIs empties the fake account; existing are AMIs already in it.
func resetAMIs(t *testing.T, existing map[string]string) *fakeAMIBuilder {
	t.Helper()
	f := &fakeAMIBuilder{existing: map[string]string{}}
	for k, v := range existing {
		f.existing[k] = v
	}
	old := fakeAMIs
	fakeAMIs = f
	oldB := amiBuilder
	amiBuilder = func(*pulumi.Context, *config.Config) (AMIBuilder, error) {
		f.mu.Lock()
		f.opened++
		f.mu.Unlock()
		return f, nil
	}
	t.Cleanup(func() { fakeAMIs, amiBuilder = old, oldB })
	return f
}

func (f *fakeAMIBuilder) Name(r ami.Request) string {
	return images.AMIName(r.Spec.Schematic().ID(), r.TalosVersion, "ap-southeast-1", r.Arch)
}

func (f *fakeAMIBuilder) Find(_ context.Context, r ami.Request) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.Name(r)
	f.finds = append(f.finds, n)
	id, ok := f.existing[n]
	return id, ok, nil
}

func (f *fakeAMIBuilder) Ensure(_ context.Context, r ami.Request) (ami.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.Name(r)
	f.ensures = append(f.ensures, n)
	if f.existing == nil {
		f.existing = map[string]string{}
	}
	if id, ok := f.existing[n]; ok {
		return ami.Result{Name: n, ImageID: id}, nil
	}
	id := builtAMI(n)
	f.existing[n] = id
	return ami.Result{Name: n, ImageID: id, SnapshotID: "snap-0123456789abcdef0", Built: true, StoredBytes: 300 << 20, Elapsed: 4 * time.Minute}, nil
}

// builtAMI is the id the fake gives the AMI it builds.
func builtAMI(name string) string { return fmt.Sprintf("ami-%x", sha256.Sum256([]byte(name)))[:21] }

var (
	nvidiaLTS = images.Spec{Extensions: []string{"siderolabs/nvidia-open-gpu-kernel-modules-lts", "siderolabs/nvidia-container-toolkit-lts"}}
	iscsi     = images.Spec{Extensions: []string{"siderolabs/iscsi-tools"}}
)

// gpuPools is the HA stack's pools plus a GPU pool running NVIDIA's
// extensions, tainted as docs/extensions.md's example is.
func gpuPools(t *testing.T) map[string]string {
	cfg := haConfig(t)
	cfg["workerPools"] = strings.TrimSuffix(cfg["workerPools"], "]") + `,{"name":"gpu","instanceTypes":["g5.xlarge"],"minSize":0,"maxSize":2,"desiredCapacity":1,
		"taints":[{"key":"nvidia.com/gpu","effect":"NoSchedule"}],
		"image":{"extensions":["siderolabs/nvidia-open-gpu-kernel-modules-lts","siderolabs/nvidia-container-toolkit-lts"]}}]`
	return cfg
}

// `up` with a GPU pool: the pool launches the AMI built for its schematic
// and installs the factory's installer of it, with NVIDIA's modules
// loaded; the other roles keep the official AMI and installer, byte for
// byte; the cluster gets the GPU operator (Talos 1.13) after the node
// gate, in its privileged namespace.
func TestGPUPoolGetsItsAMIInstallerAndAddons(t *testing.T) {
	f := resetAMIs(t, nil)
	m := &testkit.Mocks{}
	evaluate(t, m, gpuPools(t))

	name := images.AMIName(nvidiaLTS.Schematic().ID(), config.DefaultTalosVersion, "ap-southeast-1", "amd64")
	if !slices.Equal(f.ensures, []string{name}) || len(f.finds) != 0 {
		t.Errorf("up ensured %v and found %v, want one build of %s", f.ensures, f.finds, name)
	}
	lt := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-gpu")
	if got := str(lt, "imageId"); got != builtAMI(name) {
		t.Errorf("GPU pool launches %s, want the built %s", got, builtAMI(name))
	}
	p := machineConfig(t, lt)
	if got, want := p.Machine().Install().Image(), "factory.talos.dev/aws-installer/"+nvidiaLTS.Schematic().ID()+":"+config.DefaultTalosVersion; got != want {
		t.Errorf("GPU pool installs %s, want %s", got, want)
	}
	var modules []string
	for _, mod := range p.Machine().Kernel().Modules() {
		modules = append(modules, mod.Name())
	}
	if !slices.Equal(modules, []string{"nvidia", "nvidia_uvm", "nvidia_drm", "nvidia_modeset"}) {
		t.Errorf("GPU pool loads %v", modules)
	}
	official := testkit.AMIID("amd64", "talos-"+config.DefaultTalosVersion+"-ap-southeast-1-amd64")
	for _, role := range []string{"compute-cp", "compute-general"} {
		lt := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", role)
		if got := str(lt, "imageId"); got != official {
			t.Errorf("%s launches %s, want the official %s", role, got, official)
		}
		if got := machineConfig(t, lt).Machine().Install().Image(); got != "ghcr.io/siderolabs/installer:"+config.DefaultTalosVersion {
			t.Errorf("%s installs %s", role, got)
		}
	}

	rs := releases(m)
	op, ok := rs["addons-gpu-operator"]
	if !ok {
		t.Fatalf("no GPU operator: %v", keys(rs))
	}
	if str(op, "chart") != "gpu-operator" || str(op, "version") != images.GPUOperatorVersion || str(op, "namespace") != "gpu-operator" ||
		op.Inputs["createNamespace"].BoolValue() {
		t.Errorf("GPU operator release %v", op.Inputs)
	}
	values := op.Inputs["values"].ObjectValue()
	if values["driver"].ObjectValue()["enabled"].BoolValue() || values["toolkit"].ObjectValue()["enabled"].BoolValue() ||
		values["hostPaths"].ObjectValue()["driverInstallDir"].StringValue() != "/usr/local" {
		t.Errorf("GPU operator values %v: the extensions are the driver and the toolkit", values)
	}
	ns := one(t, m, "kubernetes:core/v1:Namespace", "addons-gpu-operator-namespace")
	meta := ns.Inputs["metadata"].ObjectValue()
	if meta["name"].StringValue() != "gpu-operator" || meta["labels"].ObjectValue()["pod-security.kubernetes.io/enforce"].StringValue() != "privileged" {
		t.Errorf("GPU operator namespace %v", meta)
	}
	if !dependsOn(op, "kubernetes:core/v1:Namespace", "addons-gpu-operator-namespace") {
		t.Error("the operator must wait for its namespace")
	}
	for _, on := range []string{"addons-cilium", "addons-ccm", "addons-csr-approver"} {
		if !after(m, ns, releaseType, on) {
			t.Errorf("the NVIDIA add-ons must wait (through the node gate) for %s", on)
		}
	}
	if len(m.ByType("kubernetes:node.k8s.io/v1:RuntimeClass")) != 0 {
		t.Error("on Talos 1.13 the GPU operator creates the runtime class")
	}
}

// On Talos 1.12 the guide's set: the nvidia RuntimeClass (retained when
// removed: a move to 1.13 hands it to the operator) and the device plugin
// in it, pinned to the GPU pools.
func TestGPUPoolOnTalos112(t *testing.T) {
	resetAMIs(t, nil)
	cfg := gpuPools(t)
	cfg["talosVersion"], cfg["kubernetesVersion"] = "v1.12.11", "1.35.10"
	m := &testkit.Mocks{}
	evaluate(t, m, cfg)
	rc := one(t, m, "kubernetes:node.k8s.io/v1:RuntimeClass", "addons-nvidia-runtimeclass")
	if str(rc, "handler") != "nvidia" || rc.Inputs["metadata"].ObjectValue()["name"].StringValue() != "nvidia" || !rc.RetainOnDelete {
		t.Errorf("runtime class %v (retained: %v)", rc.Inputs, rc.RetainOnDelete)
	}
	dp, ok := releases(m)["addons-nvidia-device-plugin"]
	if !ok || str(dp, "namespace") != "kube-system" || str(dp, "version") != images.DevicePluginVersion || !dependsOn(dp, "kubernetes:node.k8s.io/v1:RuntimeClass", "addons-nvidia-runtimeclass") {
		t.Fatalf("device plugin %+v", dp.Inputs)
	}
	v := dp.Inputs["values"].ObjectValue()
	expr := v["affinity"].ObjectValue()["nodeAffinity"].ObjectValue()["requiredDuringSchedulingIgnoredDuringExecution"].ObjectValue()["nodeSelectorTerms"].ArrayValue()[0].
		ObjectValue()["matchExpressions"].ArrayValue()[0].ObjectValue()
	if v["runtimeClassName"].StringValue() != "nvidia" || expr["key"].StringValue() != config.PoolLabel || !slices.Equal(testkit.Strings(expr["values"]), []string{"gpu"}) {
		t.Errorf("device plugin values %v", v)
	}
	if len(m.ByType("kubernetes:core/v1:Namespace")) != 0 {
		t.Error("the device plugin runs in kube-system")
	}
}

// A preview builds nothing: it looks the AMI up and, when the account
// has none, leaves the pool's image unknown and says which AMI `up` will
// build; when the account has it, the preview shows its id.
func TestPreviewBuildsNoAMI(t *testing.T) {
	name := images.AMIName(nvidiaLTS.Schematic().ID(), config.DefaultTalosVersion, "ap-southeast-1", "amd64")
	for _, tc := range []struct {
		label    string
		m        *testkit.Mocks
		existing map[string]string
	}{
		{"first preview", &testkit.Mocks{Preview: true}, nil},
		{"preview of an existing stack", &testkit.Mocks{DryRun: true}, nil},
		{"the AMI exists", &testkit.Mocks{DryRun: true}, map[string]string{name: "ami-0feedfacecafe0001"}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			f := resetAMIs(t, tc.existing)
			evaluate(t, tc.m, gpuPools(t))
			if len(f.ensures) != 0 || !slices.Equal(f.finds, []string{name}) {
				t.Errorf("a preview ensured %v and looked up %v, want one lookup of %s", f.ensures, f.finds, name)
			}
			lt := one(t, tc.m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-gpu")
			logs := strings.Join(tc.m.Logs, "\n")
			if tc.existing != nil {
				if got := str(lt, "imageId"); got != "ami-0feedfacecafe0001" {
					t.Errorf("the preview shows %q, want the existing AMI", got)
				}
				if !strings.Contains(logs, "images: AMI "+name+" (Image Factory schematic "+nvidiaLTS.Schematic().ID()+") exists in ap-southeast-1: ami-0feedfacecafe0001") {
					t.Errorf("no log of the existing AMI:\n%s", logs)
				}
				return
			}
			// Unknown: the mocks record an unknown input as null.
			if v, ok := lt.Inputs["imageId"]; ok && !v.IsNull() && !v.ContainsUnknowns() {
				t.Errorf("imageId %v before the AMI is built, want unknown", v)
			}
			if got := str(one(t, tc.m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-general"), "imageId"); tc.label != "first preview" && !strings.HasPrefix(got, "ami-") {
				t.Errorf("a pool without an image shows %q", got)
			}
			want := "images: AMI " + name + " does not exist in ap-southeast-1 yet: `pulumi up` builds it, once, from Image Factory schematic " + nvidiaLTS.Schematic().ID()
			if !strings.Contains(logs, want) || !strings.Contains(logs, "siderolabs/nvidia-container-toolkit-lts") {
				t.Errorf("the preview does not say %q:\n%s", want, logs)
			}
			if !strings.Contains(logs, "AMI snapshots 1 × 1.00 GB") {
				t.Errorf("the cost estimate has no snapshot line:\n%s", logs)
			}
		})
	}
}

// Roles that run the same schematic on one architecture share one AMI:
// one build; another architecture is another AMI. Without any image no
// builder is even made.
func TestOneAMIPerSchematicAndArch(t *testing.T) {
	f := resetAMIs(t, nil)
	cfg := haConfig(t)
	cfg["image"] = `{"extensions":["siderolabs/iscsi-tools"]}`
	m := &testkit.Mocks{}
	evaluate(t, m, cfg)
	amd := images.AMIName(iscsi.Schematic().ID(), config.DefaultTalosVersion, "ap-southeast-1", "amd64")
	arm := images.AMIName(iscsi.Schematic().ID(), config.DefaultTalosVersion, "ap-southeast-1", "arm64")
	got := slices.Sorted(slices.Values(f.ensures))
	if !slices.Equal(got, []string{amd, arm}) {
		t.Errorf("ensured %v, want %s and %s once each", got, amd, arm)
	}
	for lt, want := range map[string]string{"compute-cp": amd, "compute-general": amd, "compute-arm-spot": arm} {
		if got := str(one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", lt), "imageId"); got != builtAMI(want) {
			t.Errorf("%s launches %s, want %s", lt, got, builtAMI(want))
		}
	}

	f = resetAMIs(t, nil)
	evaluate(t, &testkit.Mocks{}, haConfig(t))
	evaluate(t, &testkit.Mocks{DryRun: true}, haConfig(t))
	if f.opened != 0 || len(f.ensures)+len(f.finds) != 0 {
		t.Errorf("no image, yet %d builders, %d builds, %d lookups", f.opened, len(f.ensures), len(f.finds))
	}
}

// The node roles pull from ECR exactly where the ECR credential provider
// extension runs: the cluster's image reaches the control plane and every
// pool without its own; a pool's own image only the workers' role.
func TestECRPullsWhereTheProviderRuns(t *testing.T) {
	resetAMIs(t, nil)
	pulls := func(m *testkit.Mocks, policy string) bool {
		return strings.Contains(str(one(t, m, "aws:iam/rolePolicy:RolePolicy", policy), "policy"), "ecr:GetAuthorizationToken")
	}
	cfg := haConfig(t)
	cfg["image"] = `{"extensions":["siderolabs/ecr-credential-provider"]}`
	m := &testkit.Mocks{}
	evaluate(t, m, cfg)
	if !pulls(m, "compute-cp") || !pulls(m, "compute-worker") {
		t.Error("the cluster's image: both node roles pull from ECR")
	}
	cp := machineConfig(t, one(t, m, "aws:ec2/launchTemplate:LaunchTemplate", "compute-cp"))
	if cp.Machine().Kubelet().CredentialProviderConfig() == nil {
		t.Error("the control plane runs the provider without its kubelet configuration")
	}

	cfg = haConfig(t)
	cfg["workerPools"] = strings.Replace(cfg["workerPools"], `"name":"arm-spot",`, `"name":"arm-spot","image":{"extensions":["siderolabs/ecr-credential-provider"]},`, 1)
	m = &testkit.Mocks{}
	evaluate(t, m, cfg)
	if pulls(m, "compute-cp") || !pulls(m, "compute-worker") {
		t.Error("a pool's image: the workers' role pulls from ECR, the control plane's does not")
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		p    ami.Progress
		want string
	}{
		{ami.Progress{Name: "talos-aws-r1-x", Phase: ami.PhaseDownload, Done: 40 << 20, Total: 100 << 20, Elapsed: 12 * time.Second, ETA: 18 * time.Second},
			"AMI talos-aws-r1-x: downloading the image from the Image Factory, 40 of 100 MB, 12s elapsed, about 18s left"},
		{ami.Progress{Name: "talos-aws-r1-x", Phase: ami.PhaseUpload, Done: 60 << 20, Total: -1, BlocksWritten: 500, BlocksSkipped: 15000, Elapsed: time.Minute},
			"AMI talos-aws-r1-x: writing the snapshot, 60 MB, 500 blocks written, 15000 zero blocks skipped, 1m0s elapsed"},
		{ami.Progress{Name: "talos-aws-r1-x", Phase: ami.PhaseLookup}, "AMI talos-aws-r1-x: looking up the AMI, 0s elapsed"},
	} {
		if got := progressLine(tc.p); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// A GPU cluster moving from Talos 1.12 to 1.13 is told what happens to
// its NVIDIA add-ons.
func TestGPUUpgradeNote(t *testing.T) {
	resetAMIs(t, nil)
	cfg := gpuPools(t)
	cfg["talosVersion"], cfg["kubernetesVersion"] = "v1.13.13", "1.35.10"
	m := &testkit.Mocks{DryRun: true, LastUp: map[string]any{"clusterEndpoint": "https://prod-int:6443", "talosVersion": "v1.12.11", "kubernetesVersion": "1.35.10"}}
	evaluate(t, m, cfg)
	want := "GPU pools (gpu): the nvidia-device-plugin release is replaced by NVIDIA's GPU operator " + images.GPUOperatorVersion
	if logs := strings.Join(m.Logs, "\n"); !strings.Contains(logs, want) {
		t.Errorf("no GPU upgrade note %q:\n%s", want, logs)
	}
}
