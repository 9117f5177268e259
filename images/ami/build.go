// Package ami builds, once per (schematic, Talos version, architecture,
// region), the AMI of an Image Factory schematic, and finds it again.
//
// Where the bytes go, and why: from the machine running `pulumi up`,
// through the EBS direct APIs, into an encrypted snapshot; then
// RegisterImage. The factory's AWS image is a 8 GiB raw disk that is
// mostly zeros, 80-110 MB compressed: the runner downloads the compressed
// image once, decompresses it as it reads, and writes only the non-zero
// 512 KiB blocks (StartSnapshot, PutSnapshotBlock with each block's
// SHA-256, CompleteSnapshot with their count and aggregate checksum), a
// few hundred MB in all, in parallel. The alternatives were worse here:
//   - S3 plus ImportSnapshot (what Sidero's uploader and Talos' AWS guide
//     do, hack/cloud-image-uploader/aws.go:280-372@v1.13.9): the image
//     must be decompressed first (ImportSnapshot takes RAW, VHD or VMDK,
//     not zstd or xz), so 8 GiB go to S3; it needs a bucket and the
//     vmimport service role (a standing IAM role trusted by
//     vmie.amazonaws.com that can read the bucket), and the import itself
//     takes minutes to tens of minutes (Sidero waits up to 30).
//   - A function in the VPC (Lambda or CodeBuild) writing through the
//     same APIs: no laptop uplink, but a second artifact to build and
//     deploy, a role for it, and egress to the factory through the NAT,
//     before the cluster it serves exists; and its progress and failures
//     would be a remote log, not the `up` that waits for it.
//
// The build is idempotent and resumes after an interruption: the AMI name
// is content-addressed (images.AMIName) and looked up first; the snapshot
// is started with a ClientToken derived from that name and the SHA-256 of
// the downloaded image, so a re-run (or a second stack building the same
// AMI at the same time) gets the same snapshot back, rewrites the same
// blocks, and seals it; a snapshot that EBS cancelled (no write for an
// hour) or that failed moves to the next token of a fixed sequence.
// RegisterImage's duplicate-name error means another run registered it:
// it is looked up. Progress (bytes, blocks, ETA) goes to a callback; the
// whole build has a time bound and a timeout error that says what to do.
//
// Permissions of the identity running `up` (docs/extensions.md#permissions): ec2:DescribeImages,
// ec2:DescribeSnapshots, ec2:RegisterImage, ec2:CreateTags on images with
// ec2:CreateAction RegisterImage (the AMI's tags), ebs:StartSnapshot,
// ebs:PutSnapshotBlock, ebs:CompleteSnapshot; for the encrypted snapshot,
// on the account's EBS key (aws/ebs unless the account sets another
// default): kms:GenerateDataKeyWithoutPlaintext, kms:GenerateDataKey,
// kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:CreateGrant and
// kms:DescribeKey, per the EBS user guide's "Permissions to use AWS KMS
// keys" for the EBS direct APIs.
package ami

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/klauspost/compress/zstd"

	"github.com/talos-aws/talos-aws/images"
)

// Defaults.
const (
	DefaultParallelism = 8
	DefaultTimeout     = 45 * time.Minute
	// snapshotTimeoutMinutes is StartSnapshot's Timeout: EBS cancels a
	// snapshot left without writes, or unsealed after its last write, for
	// this long (its default).
	snapshotTimeoutMinutes = 60
	// maxTokens bounds the ClientTokens tried for one image.
	maxTokens = 8
)

// Tag keys on the snapshot and the AMI.
const (
	TagSchematic    = "talos-aws/schematic"
	TagTalosVersion = "talos-aws/talos-version"
	TagImageSHA256  = "talos-aws/image-sha256"
	TagRecipe       = "talos-aws/ami-recipe"
)

// Builder finds or builds AMIs in one account and region.
type Builder struct {
	// AWS is the stack's AWS configuration: region and credentials, as
	// etcdguard.ProviderConfig makes it from config.AWS.
	AWS aws.Config
	// HTTP sends every request (nil: AWS calls time out two minutes after
	// a request is sent without an answer; the context bounds the rest).
	HTTP *http.Client
	// FactoryURL defaults to images.FactoryURL; the endpoints to AWS's
	// regional ones (tests point them at fakes).
	FactoryURL  string
	EC2Endpoint string
	EBSEndpoint string
	// Parallelism is the number of blocks in flight (DefaultParallelism).
	Parallelism int
	// Timeout bounds one Ensure (DefaultTimeout).
	Timeout time.Duration
	// TempDir holds the compressed image during a build (os.TempDir).
	TempDir string
	// Progress, when set, is called as the build goes, at most every
	// ProgressEvery (2 s) and at each phase change.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Retry policy: Attempts per call (6) backing off from RetryBase
	// (500 ms), and how often states are polled (PollInterval, 5 s).
	Attempts     int
	RetryBase    time.Duration
	PollInterval time.Duration
	// SealedGrace is how long a write refused with a client error waits
	// for the snapshot to complete through another run before the error
	// stands (10 min).
	SealedGrace time.Duration
	// VisibleGrace is how long a snapshot StartSnapshot just made, or an
	// AMI RegisterImage just made, may be missing from EC2's Describe
	// calls and EBS's block writes before it counts as gone (2 min): EC2
	// is eventually consistent, and AWS's coldsnap retries its first
	// writes for about two minutes for the same reason.
	VisibleGrace time.Duration

	// volumeBytes overrides the image size (tests).
	volumeBytes int64
}

// Request is one AMI: a spec's schematic for a Talos version and
// architecture, in the Builder's region.
type Request struct {
	Spec         images.Spec
	TalosVersion string
	Arch         string // amd64 | arm64
}

// Phase is a step of Ensure.
type Phase string

// The phases, in order.
const (
	PhaseLookup    Phase = "looking up the AMI"
	PhaseSchematic Phase = "registering the schematic with the Image Factory"
	PhaseDownload  Phase = "downloading the image from the Image Factory"
	PhaseUpload    Phase = "writing the snapshot"
	PhaseSnapshot  Phase = "waiting for the snapshot"
	PhaseRegister  Phase = "registering the AMI"
)

// Progress is a report of where a build is.
type Progress struct {
	Name  string
	Phase Phase
	// Done and Total are the phase's bytes: compressed bytes downloaded,
	// or compressed bytes decompressed into blocks (Total -1: unknown).
	Done, Total int64
	// BlocksWritten and BlocksSkipped (all zeros) count 512 KiB blocks.
	BlocksWritten, BlocksSkipped int64
	Elapsed                      time.Duration
	// ETA is the phase's remaining time at its rate so far (0: unknown).
	ETA time.Duration
}

// Result is the AMI of a Request.
type Result struct {
	Name       string
	ImageID    string
	SnapshotID string // empty when found
	// Built: this call built it; otherwise it was there (or another run
	// registered it meanwhile).
	Built bool
	// StoredBytes is what the snapshot holds, the blocks written
	// (images.CostOf); 0 when not built here.
	StoredBytes int64
	Elapsed     time.Duration
}

// run is one Ensure's state.
type run struct {
	b       *Builder
	c       *client
	f       *factory
	name    string
	start   time.Time
	mu      sync.Mutex
	last    Progress
	lastAt  time.Time
	stored  int64
	volumes int64
	// started is when the current snapshot's StartSnapshot answered.
	started time.Time
	// phaseStart is when each phase began (under mu), for the ETA.
	phaseStart map[Phase]time.Time
}

func (b *Builder) setup() (*client, *factory) {
	awsHTTP, factoryHTTP := b.HTTP, b.HTTP
	if b.HTTP == nil {
		// AWS answers within seconds: a connection silent for two minutes
		// after a request is dead, and a retry beats waiting out the
		// build's bound. The factory answers a first download only once
		// it has built the image: the context bounds it.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = 2 * time.Minute
		t.MaxIdleConnsPerHost = 2 * max(b.Parallelism, DefaultParallelism)
		awsHTTP, factoryHTTP = &http.Client{Transport: t}, &http.Client{}
	}
	c := &client{cfg: b.AWS, http: awsHTTP, ec2: b.EC2Endpoint, ebs: b.EBSEndpoint, attempts: b.Attempts, base: b.RetryBase}
	if c.attempts <= 0 {
		c.attempts = 6
	}
	if c.base <= 0 {
		c.base = 500 * time.Millisecond
	}
	url := b.FactoryURL
	if url == "" {
		url = images.FactoryURL
	}
	return c, &factory{url: url, http: factoryHTTP, c: c}
}

func (b *Builder) visibleGrace() time.Duration {
	if b.VisibleGrace > 0 {
		return b.VisibleGrace
	}
	return 2 * time.Minute
}

func (b *Builder) poll() time.Duration {
	if b.PollInterval > 0 {
		return b.PollInterval
	}
	return 5 * time.Second
}

// Name is the AMI a request makes in the Builder's region.
func (b *Builder) Name(r Request) string {
	return images.AMIName(r.Spec.Schematic().ID(), r.TalosVersion, b.AWS.Region, r.Arch)
}

// Find is the account's AMI of the request's name, if there is one (a
// DescribeImages, nothing built): what a preview can show before `up`
// builds it. A pending AMI is returned as found.
func (b *Builder) Find(ctx context.Context, r Request) (imageID string, found bool, err error) {
	c, _ := b.setup()
	im, found, err := c.findImage(ctx, b.Name(r))
	return im.ID, found, err
}

// Ensure returns the request's AMI: the account's AMI of its name when
// there is one, otherwise built now (see the package comment). It is
// meant for `up` only; a preview needs only Name.
func (b *Builder) Ensure(ctx context.Context, r Request) (Result, error) {
	arch, err := images.EC2Arch(r.Arch)
	if err != nil {
		return Result{}, err
	}
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, f := b.setup()
	ru := &run{b: b, c: c, f: f, name: b.Name(r), start: time.Now(), volumes: b.volumeBytes, phaseStart: map[Phase]time.Time{}}
	if ru.volumes <= 0 {
		ru.volumes = images.DiskImageGiB << 30
	}
	res, err := ru.ensure(ctx, r, arch)
	res.Name, res.Elapsed = ru.name, time.Since(ru.start)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		ru.mu.Lock()
		p := ru.last
		ru.mu.Unlock()
		return res, fmt.Errorf("building AMI %s in %s did not finish within %s (%s: %d blocks written, %d MB of %d MB of the compressed image): run `pulumi up` again, it resumes into the same snapshot (its ClientToken comes from the AMI name and the image) and rewrites its blocks; faster from a runner in %s than over a home uplink. Nothing needs cleaning up: EBS cancels an unfinished snapshot after %d minutes without writes: %w",
			ru.name, b.AWS.Region, timeout, p.Phase, p.BlocksWritten, p.Done>>20, max(p.Total, 0)>>20, b.AWS.Region, snapshotTimeoutMinutes, err)
	}
	if err != nil {
		return res, fmt.Errorf("AMI %s: %w", ru.name, err)
	}
	return res, nil
}

func (ru *run) ensure(ctx context.Context, r Request, arch string) (Result, error) {
	ru.report(Progress{Phase: PhaseLookup}, true)
	if res, found, err := ru.lookup(ctx, false); err != nil || found {
		return res, err
	}
	s := r.Spec.Schematic()
	ru.report(Progress{Phase: PhaseSchematic}, true)
	if err := ru.f.postSchematic(ctx, s); err != nil {
		return Result{}, err
	}
	ru.report(Progress{Phase: PhaseDownload, Total: -1}, true)
	dl, err := ru.f.download(ctx, ru.b.TempDir, images.DiskImagePath(s.ID(), r.TalosVersion, r.Arch), func(done, total int64) {
		ru.report(Progress{Phase: PhaseDownload, Done: done, Total: total}, false)
	})
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = os.Remove(dl.path) }()
	tags := map[string]string{"Name": ru.name, TagSchematic: s.ID(), TagTalosVersion: r.TalosVersion, TagImageSHA256: dl.digest, TagRecipe: strconv.Itoa(images.Recipe)}
	snap, err := ru.snapshot(ctx, dl, tags)
	if err != nil {
		return Result{}, err
	}
	ru.report(Progress{Phase: PhaseRegister}, true)
	id, err := ru.c.registerImage(ctx, registration{
		Name: ru.name, Architecture: arch, SnapshotID: snap, Tags: tags,
		Description: fmt.Sprintf("Talos %s %s, Image Factory schematic %s (talos-aws)", r.TalosVersion, r.Arch, s.ID()),
	})
	var ae *apiError
	if errors.As(err, &ae) && ae.Code == errDuplicateName {
		// Another run registered the name first: take its AMI.
		res, found, lerr := ru.lookup(ctx, true)
		if lerr != nil {
			return Result{}, lerr
		}
		if !found {
			return Result{}, fmt.Errorf("RegisterImage says the name is taken, but no AMI of the account has it: %w", err)
		}
		return res, nil
	}
	if err != nil {
		return Result{}, err
	}
	if err := ru.waitImage(ctx, id); err != nil {
		return Result{}, err
	}
	return Result{ImageID: id, SnapshotID: snap, Built: true, StoredBytes: ru.stored}, nil
}

// lookup finds the AMI by name and waits for it if it is being made.
// After RegisterImage said the name is taken (taken), the other run's AMI
// may not be listed yet: it is looked for again for VisibleGrace.
func (ru *run) lookup(ctx context.Context, taken bool) (Result, bool, error) {
	var im image
	var found bool
	err := ru.whileUnseen(ctx, time.Now(), func() (bool, error) {
		var err error
		im, found, err = ru.c.findImage(ctx, ru.name)
		return taken && err == nil && !found, err
	})
	if err != nil || !found {
		return Result{}, false, err
	}
	if err := ru.waitImage(ctx, im.ID); err != nil {
		return Result{}, false, err
	}
	return Result{ImageID: im.ID}, true, nil
}

// waitImage polls the AMI until it is available. One RegisterImage just
// made may not be listed yet: missing counts only after VisibleGrace.
func (ru *run) waitImage(ctx context.Context, id string) error {
	start := time.Now()
	for {
		im, found, err := ru.c.findImage(ctx, ru.name)
		if err != nil {
			return err
		}
		switch {
		case !found && time.Since(start) <= ru.b.visibleGrace():
		case !found:
			return fmt.Errorf("AMI %s disappeared while it was waited for", id)
		case im.State == "available":
			return nil
		case im.State != "pending":
			return fmt.Errorf("AMI %s is %s: deregister it (aws ec2 deregister-image --image-id %s --region %s) and run `pulumi up` again to rebuild it", im.ID, im.State, im.ID, ru.b.AWS.Region)
		}
		if err := sleep(ctx, ru.b.poll()); err != nil {
			return err
		}
	}
}

// clientToken is StartSnapshot's idempotency token for an image: the
// same AMI name and image bytes give the same tokens, in the same order.
func clientToken(name, digest string, attempt int) string {
	h := sha256.Sum256([]byte("talos-aws ami snapshot\x00" + name + "\x00" + digest + "\x00" + strconv.Itoa(attempt)))
	return hex.EncodeToString(h[:])
}

// errGone: the snapshot of a token is cancelled, failed or deleted.
var errGone = errors.New("snapshot gone")

// snapshot returns a completed snapshot of the image: the one of the
// first token whose snapshot is not gone, written now unless it is
// complete already.
func (ru *run) snapshot(ctx context.Context, dl downloaded, tags map[string]string) (string, error) {
	var ebsTags []ebsTag
	for _, k := range sortedKeys(tags) {
		ebsTags = append(ebsTags, ebsTag{Key: k, Value: tags[k]})
	}
	var reasons []error
	for attempt := range maxTokens {
		out, err := ru.c.startSnapshot(ctx, startSnapshotIn{
			VolumeSize:  (ru.volumes + 1<<30 - 1) >> 30,
			ClientToken: clientToken(ru.name, dl.digest, attempt),
			Encrypted:   true,
			Description: "Talos AMI " + ru.name,
			Timeout:     snapshotTimeoutMinutes,
			Tags:        ebsTags,
		})
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			reasons = append(reasons, err) // the token was used otherwise
			continue
		}
		if err != nil {
			return "", err
		}
		ru.started = time.Now()
		state, err := ru.visibleState(ctx, out.SnapshotID)
		if err != nil {
			return "", err
		}
		switch state {
		case "completed":
			// An earlier run sealed it: EBS verified every block then.
			return out.SnapshotID, ru.count(ctx, dl)
		case "pending":
			err = ru.write(ctx, out.SnapshotID, dl)
			if err == nil {
				err = ru.waitSnapshot(ctx, out.SnapshotID, 0)
			}
		default:
			err = fmt.Errorf("%s is %q: %w", out.SnapshotID, state, errGone)
		}
		if err == nil {
			return out.SnapshotID, nil
		}
		if !errors.Is(err, errGone) {
			return "", err
		}
		reasons = append(reasons, err)
	}
	return "", fmt.Errorf("no snapshot completed under %d client tokens: %w", maxTokens, errors.Join(reasons...))
}

// block is one non-zero 512 KiB block of the image.
type block struct {
	index int64
	data  []byte
}

// blocks reads the compressed image and calls each for every non-zero
// block, in order, reporting progress; it stops at the first error of
// each. It checks the image fits the snapshot's volume.
func (ru *run) blocks(ctx context.Context, dl downloaded, each func(block) error, pool *buffers) error {
	file, err := os.Open(dl.path)
	if err != nil {
		return err
	}
	defer func() { _ = file.Close() }()
	cr := &countingReader{r: file, total: dl.size}
	zr, err := zstd.NewReader(bufio.NewReaderSize(cr, 1<<20), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer zr.Close()
	var skipped int64
	for index := int64(0); ; index++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf := pool.get()
		n, err := io.ReadFull(zr, buf)
		if n == 0 && errors.Is(err, io.EOF) {
			pool.put(buf)
			return nil
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			pool.put(buf)
			return fmt.Errorf("decompress the image: %w", err)
		}
		clear(buf[n:]) // a short last block is zero-padded
		isZero := zero(buf)
		if index*images.BlockSize >= ru.volumes && !isZero {
			pool.put(buf)
			return fmt.Errorf("the factory's image has data beyond the %d GiB this stack expects of an aws image (images.DiskImageGiB)", ru.volumes>>30)
		}
		if isZero {
			pool.put(buf)
			skipped++
		} else if err := each(block{index: index, data: buf}); err != nil {
			return err
		}
		ru.report(Progress{Phase: PhaseUpload, Done: cr.n, Total: dl.size, BlocksSkipped: skipped}, false)
	}
}

func zero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// buffers recycles block buffers: a build reads thousands of blocks and
// holds at most Parallelism of them at once.
type buffers struct{ p sync.Pool }

func newPool() *buffers { return &buffers{} }

func (b *buffers) get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, images.BlockSize)
}

func (b *buffers) put(buf []byte) { b.p.Put(&buf) }

// count sets what a snapshot sealed by an earlier run holds: the image's
// non-zero blocks, read again without writing.
func (ru *run) count(ctx context.Context, dl downloaded) error {
	pool := newPool()
	var n int64
	err := ru.blocks(ctx, dl, func(b block) error { n++; pool.put(b.data); return nil }, pool)
	ru.stored = n * images.BlockSize
	return err
}

// write puts every non-zero block of the image into the snapshot,
// Parallelism at a time, then seals it.
func (ru *run) write(ctx context.Context, snapshotID string, dl downloaded) error {
	par := ru.b.Parallelism
	if par <= 0 {
		par = DefaultParallelism
	}
	// The writers' context ends at the first refused block; what comes
	// after (waiting for another run's seal, the completion) runs on the
	// caller's.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pool := newPool()
	work := make(chan block, par)
	var (
		mu      sync.Mutex
		sums    = map[int64][sha256.Size]byte{}
		written int64
		wg      sync.WaitGroup
	)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				sum := sha256.Sum256(b.data)
				progress := int(100 * b.index * images.BlockSize / ru.volumes)
				err := ru.putBlock(wctx, snapshotID, b, sum, progress)
				pool.put(b.data)
				if err != nil {
					cancel(fmt.Errorf("block %d: %w", b.index, err))
					continue
				}
				mu.Lock()
				sums[b.index] = sum
				written++
				w := written
				mu.Unlock()
				ru.report(Progress{Phase: PhaseUpload, BlocksWritten: w}, false)
			}
		}()
	}
	readErr := ru.blocks(wctx, dl, func(b block) error {
		select {
		case work <- b:
			return nil
		case <-wctx.Done():
			pool.put(b.data)
			return context.Cause(wctx)
		}
	}, pool)
	close(work)
	wg.Wait()
	if err := context.Cause(wctx); err != nil && !errors.Is(err, context.Canceled) {
		return ru.refused(ctx, snapshotID, err)
	}
	if readErr != nil {
		return readErr
	}
	ru.stored = int64(len(sums)) * images.BlockSize
	ru.report(Progress{Phase: PhaseUpload, Done: dl.size, Total: dl.size, BlocksWritten: written}, true)
	if _, err := ru.c.completeSnapshot(ctx, snapshotID, sums); err != nil {
		return ru.refused(ctx, snapshotID, err)
	}
	return nil
}

// whileUnseen calls try until it says the resource is seen (unseen false),
// or VisibleGrace has passed since since, pausing PollInterval between
// calls: EC2 and EBS may not show what was just made. It returns try's
// last error, or the pause's.
func (ru *run) whileUnseen(ctx context.Context, since time.Time, try func() (unseen bool, err error)) error {
	for {
		unseen, err := try()
		if !unseen || time.Since(since) > ru.b.visibleGrace() {
			return err
		}
		if err := sleep(ctx, ru.b.poll()); err != nil {
			return err
		}
	}
}

// putBlock writes one block. EBS may not know a snapshot for a while
// after StartSnapshot answered (404 ResourceNotFoundException): such a
// write is retried until VisibleGrace has passed since the start.
func (ru *run) putBlock(ctx context.Context, snapshotID string, b block, sum [sha256.Size]byte, progress int) error {
	return ru.whileUnseen(ctx, ru.started, func() (bool, error) {
		err := ru.c.putBlock(ctx, snapshotID, b.index, b.data, sum, progress)
		var ae *apiError
		return errors.As(err, &ae) && ae.Status == http.StatusNotFound, err
	})
}

// visibleState is the state of the snapshot StartSnapshot just answered
// with. EC2 may not list it yet: "" (no such snapshot) is asked again
// until VisibleGrace has passed, and only then means gone.
func (ru *run) visibleState(ctx context.Context, id string) (string, error) {
	var state string
	err := ru.whileUnseen(ctx, ru.started, func() (bool, error) {
		var err error
		state, _, err = ru.c.snapshotState(ctx, id)
		return err == nil && state == "", err
	})
	return state, err
}

// refused handles a write or seal EBS refused: a client error on a
// snapshot another run has sealed (or is sealing) is that run's success,
// so it waits SealedGrace for the snapshot to complete; otherwise, or if
// it does not, the error stands.
func (ru *run) refused(ctx context.Context, snapshotID string, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
		return err
	}
	grace := ru.b.SealedGrace
	if grace <= 0 {
		grace = 10 * time.Minute
	}
	if werr := ru.waitSnapshot(ctx, snapshotID, grace); werr == nil {
		return nil
	} else if errors.Is(werr, errGone) {
		return werr
	}
	return err
}

// waitSnapshot polls the snapshot until it is completed (nil), failed or
// cancelled (errGone), or, with a limit, until the limit passes.
func (ru *run) waitSnapshot(ctx context.Context, id string, limit time.Duration) error {
	start := time.Now()
	for {
		state, progress, err := ru.c.snapshotState(ctx, id)
		if err != nil {
			return err
		}
		switch state {
		case "completed":
			return nil
		case "pending", "recovering", "recoverable":
		default:
			return fmt.Errorf("%s is %q: %w", id, state, errGone)
		}
		pct, _ := strconv.Atoi(trimPercent(progress))
		ru.report(Progress{Phase: PhaseSnapshot, Done: int64(pct), Total: 100}, false)
		if limit > 0 && time.Since(start) > limit {
			return fmt.Errorf("%s still %s after %s", id, state, limit)
		}
		if err := sleep(ctx, ru.b.poll()); err != nil {
			return err
		}
	}
}

func trimPercent(s string) string {
	if len(s) > 0 && s[len(s)-1] == '%' {
		return s[:len(s)-1]
	}
	return s
}

// report merges p into the run's progress (which the timeout error
// quotes) and calls the callback when force is set, the phase changed, or
// ProgressEvery passed.
func (ru *run) report(p Progress, force bool) {
	ru.mu.Lock()
	cur := ru.last
	if p.Phase != cur.Phase {
		cur = Progress{Phase: p.Phase}
		ru.phaseStart[p.Phase] = time.Now()
		force = true
	}
	cur.Done = max(cur.Done, p.Done)
	if p.Total != 0 {
		cur.Total = p.Total
	}
	cur.BlocksWritten = max(cur.BlocksWritten, p.BlocksWritten)
	cur.BlocksSkipped = max(cur.BlocksSkipped, p.BlocksSkipped)
	cur.Name, cur.Elapsed, cur.ETA = ru.name, time.Since(ru.start), 0
	if cur.Total > 0 && cur.Done > 0 && cur.Done < cur.Total && p.Phase != PhaseSnapshot {
		elapsed := time.Since(ru.phaseStart[p.Phase])
		cur.ETA = time.Duration(float64(elapsed) * float64(cur.Total-cur.Done) / float64(cur.Done)).Round(time.Second)
	}
	ru.last = cur
	every := ru.b.ProgressEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	if ru.b.Progress == nil || (!force && time.Since(ru.lastAt) < every) {
		ru.mu.Unlock()
		return
	}
	ru.lastAt = time.Now()
	ru.mu.Unlock()
	ru.b.Progress(cur)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
