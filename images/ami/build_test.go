package ami

import (
	"context"
	"crypto/sha256"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
)

var gpuRequest = Request{
	Spec:         images.Spec{Extensions: []string{"siderolabs/nvidia-open-gpu-kernel-modules-lts", "siderolabs/nvidia-container-toolkit-lts"}},
	TalosVersion: "v1.13.13",
	Arch:         "amd64",
}

// builder points a Builder at the fake, with fast retries and polls and a
// 1 GiB volume limit of 64 blocks (the synthetic image has 41).
func (f *fake) builder(t *testing.T) (*Builder, *progressLog) {
	log := &progressLog{}
	return &Builder{
		AWS:        aws.Config{Region: f.region, Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")},
		FactoryURL: f.srv.URL + "/factory", EC2Endpoint: f.srv.URL + "/ec2", EBSEndpoint: f.srv.URL + "/ebs",
		TempDir: t.TempDir(), Parallelism: 3, RetryBase: time.Millisecond, PollInterval: time.Millisecond,
		SealedGrace: 50 * time.Millisecond, Progress: log.add, ProgressEvery: time.Hour,
		volumeBytes: 64 * images.BlockSize,
	}, log
}

type progressLog struct {
	mu sync.Mutex
	ps []Progress
}

func (l *progressLog) add(p Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ps = append(l.ps, p)
}

func (l *progressLog) phases() []Phase {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Phase
	for _, p := range l.ps {
		if len(out) == 0 || out[len(out)-1] != p.Phase {
			out = append(out, p.Phase)
		}
	}
	return out
}

// checkSnapshot checks the snapshot holds exactly the image's non-zero
// blocks, byte for byte.
func (f *fake) checkSnapshot(t *testing.T, id string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snapshots[id]
	var got []int64
	for i := range s.data {
		got = append(got, i)
	}
	slices.Sort(got)
	if !slices.Equal(got, wantBlocks) {
		t.Errorf("snapshot %s holds blocks %v, want the non-zero ones %v", id, got, wantBlocks)
	}
	for _, i := range got {
		want := make([]byte, images.BlockSize)
		copy(want, f.image[i*images.BlockSize:min(int64(len(f.image)), (i+1)*images.BlockSize)])
		if sha256.Sum256(want) != sha256.Sum256(s.data[i]) {
			t.Errorf("block %d differs from the image", i)
		}
	}
	if f.zeroPuts != 0 {
		t.Errorf("%d zero blocks uploaded", f.zeroPuts)
	}
}

func TestBuildWritesTheNonZeroBlocksAndRegistersLikeSidero(t *testing.T) {
	f := newFake(t)
	f.failBlock[7] = 2 // two transient 503s, then accepted
	b, log := f.builder(t)
	res, err := b.Ensure(context.Background(), gpuRequest)
	if err != nil {
		t.Fatal(err)
	}
	id := gpuRequest.Spec.Schematic().ID()
	if want := "talos-aws-r1-v1.13.13-ap-southeast-1-amd64-" + id; res.Name != want || !res.Built || res.ImageID != "ami-0001" {
		t.Errorf("result %+v, want built %s", res, want)
	}
	if res.StoredBytes != int64(len(wantBlocks))*images.BlockSize {
		t.Errorf("stored %d bytes, want %d blocks", res.StoredBytes, len(wantBlocks))
	}
	f.checkSnapshot(t, res.SnapshotID)
	if f.puts[7] != 3 {
		t.Errorf("block 7 put %d times, want 2 refused + 1", f.puts[7])
	}
	// The schematic the factory stored is the canonical one.
	if string(f.schematics[id]) != string(gpuRequest.Spec.Schematic().YAML()) {
		t.Errorf("factory got %q", f.schematics[id])
	}
	// The snapshot: encrypted, sized for the volume, tagged, one token.
	if len(f.starts) != 1 || !f.starts[0].Encrypted || f.starts[0].VolumeSize != 1 || f.starts[0].Timeout != 60 {
		t.Errorf("StartSnapshot %+v", f.starts)
	}
	// RegisterImage as Sidero's uploader registers (aws.go:405-426@v1.13.9).
	want := url.Values{
		"Action": {"RegisterImage"}, "Version": {"2016-11-15"},
		"Name": {res.Name}, "Architecture": {"x86_64"}, "RootDeviceName": {"/dev/xvda"}, "VirtualizationType": {"hvm"},
		"EnaSupport": {"true"}, "BootMode": {"uefi"}, "ImdsSupport": {"v2.0"},
		"BlockDeviceMapping.1.DeviceName": {"/dev/xvda"}, "BlockDeviceMapping.1.VirtualName": {"talos"},
		"BlockDeviceMapping.1.Ebs.SnapshotId": {res.SnapshotID}, "BlockDeviceMapping.1.Ebs.VolumeSize": {"20"},
		"BlockDeviceMapping.1.Ebs.VolumeType": {"gp2"}, "BlockDeviceMapping.1.Ebs.DeleteOnTermination": {"true"},
	}
	got := f.registers[0]
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("RegisterImage %s = %v, want %v", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != "Description" && !strings.HasPrefix(k, "TagSpecification.1.") {
			t.Errorf("RegisterImage sets %s=%v, which Sidero does not", k, got[k])
		}
	}
	ami := f.amis[res.Name]
	if ami.tags[TagSchematic] != id || ami.tags[TagTalosVersion] != "v1.13.13" || ami.tags["Name"] != res.Name || len(ami.tags[TagImageSHA256]) != 64 {
		t.Errorf("AMI tags %v", ami.tags)
	}
	if phases := log.phases(); !slices.Equal(phases, []Phase{PhaseLookup, PhaseSchematic, PhaseDownload, PhaseUpload, PhaseSnapshot, PhaseRegister}) {
		t.Errorf("progress phases %q", phases)
	}
	last := Progress{}
	for _, p := range log.ps {
		if p.Phase == PhaseUpload {
			last = p
		}
	}
	if last.BlocksWritten != int64(len(wantBlocks)) || last.Done != last.Total || last.Total != int64(len(f.zst)) {
		t.Errorf("last upload report %+v", last)
	}
	// The compressed image is not left behind.
	if left, _ := filepathGlob(b.TempDir); len(left) != 0 {
		t.Errorf("left in the temp dir: %v", left)
	}
}

func TestExistingAMIIsFoundFirst(t *testing.T) {
	f := newFake(t)
	b, _ := f.builder(t)
	if _, found, err := b.Find(context.Background(), gpuRequest); found || err != nil {
		t.Fatalf("Find before: %v %v", found, err)
	}
	other := f.addAMI(b.Name(gpuRequest), "available")
	if id, found, err := b.Find(context.Background(), gpuRequest); !found || id != other || err != nil {
		t.Fatalf("Find: %s %v %v", id, found, err)
	}
	res, err := b.Ensure(context.Background(), gpuRequest)
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageID != other || res.Built {
		t.Errorf("result %+v, want the existing %s", res, other)
	}
	if len(f.schematics) != 0 || f.downloads != 0 || len(f.starts) != 0 || len(f.registers) != 0 {
		t.Errorf("built anyway: %d schematics, %d downloads, %d snapshots, %d registrations", len(f.schematics), f.downloads, len(f.starts), len(f.registers))
	}
	// Another name (another arch) is not it.
	arm := gpuRequest
	arm.Arch = "arm64"
	if b.Name(arm) == b.Name(gpuRequest) {
		t.Error("amd64 and arm64 share a name")
	}
}

func TestInterruptedUploadResumesIntoTheSameSnapshot(t *testing.T) {
	f := newFake(t)
	f.failBlock[20] = -1 // block 20 never goes through: the run fails
	b, _ := f.builder(t)
	b.Attempts = 2
	if _, err := b.Ensure(context.Background(), gpuRequest); err == nil || !strings.Contains(err.Error(), "block 20") {
		t.Fatalf("first run: %v", err)
	}
	first := f.snapshotIDs()
	f.mu.Lock()
	f.failBlock = map[int64]int{}
	f.mu.Unlock()
	res, err := b.Ensure(context.Background(), gpuRequest)
	if err != nil {
		t.Fatal(err)
	}
	if ids := f.snapshotIDs(); !slices.Equal(ids, first) || res.SnapshotID != first[0] {
		t.Errorf("re-run made snapshots %v (first run %v), used %s", ids, first, res.SnapshotID)
	}
	if len(f.starts) != 2 || f.starts[0].ClientToken != f.starts[1].ClientToken {
		t.Errorf("tokens %v: want the same one twice", f.starts)
	}
	f.checkSnapshot(t, res.SnapshotID)
}

func TestSnapshotSealedByAnEarlierRunIsReused(t *testing.T) {
	f := newFake(t)
	f.failRegister = "UnauthorizedOperation"
	b, _ := f.builder(t)
	if _, err := b.Ensure(context.Background(), gpuRequest); err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("first run: %v", err)
	}
	puts := 0
	for _, n := range f.puts {
		puts += n
	}
	f.failRegister = ""
	res, err := b.Ensure(context.Background(), gpuRequest)
	if err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, n := range f.puts {
		again += n
	}
	if again != puts || len(f.snapshots) != 1 || !res.Built {
		t.Errorf("re-run wrote %d more blocks into %d snapshots: %+v", again-puts, len(f.snapshots), res)
	}
	if res.StoredBytes != int64(len(wantBlocks))*images.BlockSize {
		t.Errorf("stored %d", res.StoredBytes)
	}
}

func TestCancelledSnapshotMovesToTheNextToken(t *testing.T) {
	f := newFake(t)
	f.failBlock[0] = -1
	b, _ := f.builder(t)
	b.Attempts = 1
	if _, err := b.Ensure(context.Background(), gpuRequest); err == nil {
		t.Fatal("first run succeeded")
	}
	// EBS cancels the unfinished snapshot (no write for an hour).
	f.mu.Lock()
	f.snapshots["snap-0001"].state = "error"
	f.failBlock = map[int64]int{}
	f.mu.Unlock()
	res, err := b.Ensure(context.Background(), gpuRequest)
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotID != "snap-0002" || f.starts[1].ClientToken != f.starts[0].ClientToken || f.starts[2].ClientToken == f.starts[0].ClientToken {
		t.Errorf("snapshot %s, tokens %q %q %q", res.SnapshotID, f.starts[0].ClientToken[:8], f.starts[1].ClientToken[:8], f.starts[2].ClientToken[:8])
	}
	f.checkSnapshot(t, res.SnapshotID)
}

func TestConcurrentRegistrationIsResolvedByLookup(t *testing.T) {
	f := newFake(t)
	b, _ := f.builder(t)
	var other string
	f.beforeRegister = func() { other = f.addAMI(b.Name(gpuRequest), "pending") }
	res, err := b.Ensure(context.Background(), gpuRequest)
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageID != other || res.Built {
		t.Errorf("result %+v, want the other run's %s", res, other)
	}
}

func TestSchematicIDMismatchStops(t *testing.T) {
	f := newFake(t)
	f.wrongID = true
	b, _ := f.builder(t)
	_, err := b.Ensure(context.Background(), gpuRequest)
	if err == nil || !strings.Contains(err.Error(), "computed "+gpuRequest.Spec.Schematic().ID()) {
		t.Fatalf("err %v", err)
	}
	if f.downloads != 0 || len(f.starts) != 0 {
		t.Error("went on after the mismatch")
	}
}

func TestImageLargerThanTheVolumeIsRefused(t *testing.T) {
	f := newFake(t)
	b, _ := f.builder(t)
	b.volumeBytes = 16 * images.BlockSize // blocks 20 and 40 are beyond
	_, err := b.Ensure(context.Background(), gpuRequest)
	if err == nil || !strings.Contains(err.Error(), "data beyond") {
		t.Fatalf("err %v", err)
	}
}

func TestTimeoutSaysWhatToDo(t *testing.T) {
	f := newFake(t)
	f.completeAfter = 1 << 30 // the snapshot never completes
	b, _ := f.builder(t)
	b.Timeout = 2 * time.Second
	b.PollInterval = 20 * time.Millisecond
	_, err := b.Ensure(context.Background(), gpuRequest)
	if err == nil {
		t.Fatal("no timeout")
	}
	for _, want := range []string{"did not finish within 2s", "waiting for the snapshot", "run `pulumi up` again", "same snapshot", "ap-southeast-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout error lacks %q: %v", want, err)
		}
	}
}

func TestClientTokens(t *testing.T) {
	a := clientToken("n", "d", 0)
	if a != clientToken("n", "d", 0) || a == clientToken("n", "d", 1) || a == clientToken("n", "e", 0) || a == clientToken("m", "d", 0) || len(a) != 64 {
		t.Error("tokens are not a function of name, image digest and attempt")
	}
}

func filepathGlob(dir string) ([]string, error) { return filepath.Glob(filepath.Join(dir, "*")) }

func TestForStackActsAsTheProvider(t *testing.T) {
	b, err := ForStack(context.Background(), "eu-west-1", config.AWS{AccessKey: "AKIDSTACK", SecretKey: "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := b.AWS.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKIDSTACK" || b.AWS.Region != "eu-west-1" {
		t.Errorf("builder acts as %q in %s (%v)", creds.AccessKeyID, b.AWS.Region, err)
	}
}

// The deployer policy grants exactly the AWS calls a build makes (KMS
// aside, which EBS calls on the deployer's behalf).
func TestDeployerPolicyCoversTheCalls(t *testing.T) {
	f := newFake(t)
	b, _ := f.builder(t)
	if _, err := b.Ensure(context.Background(), gpuRequest); err != nil {
		t.Fatal(err)
	}
	var calls []string
	for c := range f.calls {
		calls = append(calls, c)
	}
	slices.Sort(calls)
	var granted []string
	for _, a := range DeployerPolicy("ap-southeast-1").Actions() {
		if !strings.HasPrefix(a, "kms:") {
			granted = append(granted, a)
		}
	}
	if !slices.Equal(calls, granted) {
		t.Errorf("a build calls %v; the policy grants %v", calls, granted)
	}
	if doc := DeployerPolicy("cn-north-1").JSON(); !strings.Contains(doc, "arn:aws-cn:ec2:cn-north-1::snapshot/*") {
		t.Errorf("China partition: %s", doc)
	}
}

// EC2 and EBS are eventually consistent: a snapshot StartSnapshot just
// made may be unknown to DescribeSnapshots and to the first block writes,
// and an AMI RegisterImage just made may be missing from DescribeImages.
// None of it is taken for a snapshot gone (which would start another one
// under the next token and leave this one behind) or an AMI gone.
func TestNewResourcesNotYetVisible(t *testing.T) {
	f := newFake(t)
	f.hideDescribes, f.hidePuts, f.hideAMI = 2, 3, 2
	b, _ := f.builder(t)
	res, err := b.Ensure(context.Background(), gpuRequest)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.snapshots) != 1 || len(f.starts) != 1 || !res.Built || res.ImageID != "ami-0001" {
		t.Errorf("%d snapshots under %d tokens, result %+v: want one, built", len(f.snapshots), len(f.starts), res)
	}
	f.checkSnapshot(t, res.SnapshotID)

	// Past VisibleGrace an unknown snapshot is gone: the next token.
	g := newFake(t)
	g.hideDescribes = 1 << 30
	b, _ = g.builder(t)
	b.VisibleGrace = 20 * time.Millisecond
	if _, err := b.Ensure(context.Background(), gpuRequest); err == nil || !strings.Contains(err.Error(), "no snapshot completed under") {
		t.Errorf("a snapshot never seen: %v", err)
	}
}

// A run whose writes EBS refuses because another run has sealed the same
// snapshot (same image, same token) waits for that seal to complete, and
// takes the snapshot: the refusal ended its writers, not its run.
func TestRefusedWriteWaitsForAnotherRunsSeal(t *testing.T) {
	f := newFake(t)
	f.failRegister = "UnauthorizedOperation"
	b, _ := f.builder(t)
	if _, err := b.Ensure(context.Background(), gpuRequest); err == nil {
		t.Fatal("first run registered")
	}
	// The other run has sealed it; EBS is still completing it.
	f.mu.Lock()
	s := f.snapshots["snap-0001"]
	s.state, s.describes = "pending", -3
	f.failRegister = ""
	f.mu.Unlock()
	res, err := b.Ensure(context.Background(), gpuRequest)
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotID != "snap-0001" || len(f.snapshots) != 1 || res.ImageID == "" {
		t.Errorf("result %+v with %d snapshots: want the sealed one", res, len(f.snapshots))
	}
}
