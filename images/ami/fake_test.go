package ami

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/talos-aws/talos-aws/images"
)

// fake is a local Image Factory, EC2 Query API and EBS direct APIs, strict
// about what the real ones check: SigV4 scope, per-block SHA-256, block
// size, the count and aggregate checksum at completion, RegisterImage's
// parameters and duplicate names.
type fake struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex

	region string
	image  []byte // the raw disk image served, before compression
	zst    []byte

	// factory
	schematics map[string][]byte
	wrongID    bool
	downloads  int

	// EBS
	snapshots map[string]*fakeSnapshot
	tokens    map[string]string // ClientToken -> snapshot
	starts    []startSnapshotIn
	// failBlock answers 503 to that many puts of a block (-1: always).
	failBlock map[int64]int
	puts      map[int64]int // puts per block, failed ones included
	zeroPuts  int
	// completeAfter is how many DescribeSnapshots a sealed snapshot stays
	// pending for.
	completeAfter int

	// calls are the IAM actions the requests need ("ec2:RegisterImage").
	calls map[string]bool

	// EC2
	amis           map[string]*fakeAMI // by name
	registers      []url.Values
	beforeRegister func() // runs before RegisterImage is answered
	failRegister   string // an error code RegisterImage answers with

	// Eventual consistency: a new snapshot is unknown to the first
	// hideDescribes DescribeSnapshots and hidePuts block writes; a new
	// AMI is missing from the first hideAMI DescribeImages.
	hideDescribes, hidePuts, hideAMI int
}

type fakeSnapshot struct {
	id        string
	token     string
	volume    int64
	blocks    map[int64][sha256.Size]byte
	data      map[int64][]byte
	sealed    bool
	state     string // pending | completed | error
	describes int
	// hidden counts the calls that did not see it yet.
	hiddenDescribes, hiddenPuts int
}

// aggregate is EBS's LINEAR checksum of the blocks written, computed here
// independently of the builder's: the SHA-256 of each block's SHA-256,
// concatenated by ascending block index.
func (s *fakeSnapshot) aggregate() string {
	var idx []int64
	for i := range s.blocks {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var all []byte
	for _, i := range idx {
		sum := s.blocks[i]
		all = append(all, sum[:]...)
	}
	agg := sha256.Sum256(all)
	return base64.StdEncoding.EncodeToString(agg[:])
}

type fakeAMI struct {
	id, name, snapshot, state string
	tags                      map[string]string
	describes, hidden         int
}

// testImage is the synthetic disk: 40 blocks and 1000 bytes, where only
// blocks 0, 3, 7, 20 and the short block 40 hold anything.
func testImage() []byte {
	img := make([]byte, 40*images.BlockSize+1000)
	fill := func(index int64, seed byte) {
		b := img[index*images.BlockSize : min(int64(len(img)), (index+1)*images.BlockSize)]
		for i := range b {
			b[i] = seed + byte(i*7)
		}
	}
	fill(0, 1)
	img[4*images.BlockSize-1] = 1 // block 3: its last byte only
	fill(7, 9)
	fill(20, 42)
	fill(40, 0xab)
	return img
}

var wantBlocks = []int64{0, 3, 7, 20, 40}

func newFake(t *testing.T) *fake {
	f := &fake{
		t: t, region: "ap-southeast-1", image: testImage(),
		schematics: map[string][]byte{}, snapshots: map[string]*fakeSnapshot{}, tokens: map[string]string{},
		failBlock: map[int64]int{}, puts: map[int64]int{}, amis: map[string]*fakeAMI{}, completeAfter: 2, calls: map[string]bool{},
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	f.zst = enc.EncodeAll(f.image, nil)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch {
	case strings.HasPrefix(r.URL.Path, "/factory/"):
		f.factory(w, r, strings.TrimPrefix(r.URL.Path, "/factory"), body)
	case r.URL.Path == "/ec2/":
		if !f.signed(w, r, "ec2", body) {
			return
		}
		form, _ := url.ParseQuery(string(body))
		f.ec2(w, form)
	case strings.HasPrefix(r.URL.Path, "/ebs/"):
		if !f.signed(w, r, "ebs", body) {
			return
		}
		f.ebs(w, r, strings.TrimPrefix(r.URL.Path, "/ebs"), body)
	default:
		http.NotFound(w, r)
	}
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDTEST/\d{8}/([a-z0-9-]+)/([a-z0-9]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)

// signed checks a request is SigV4-signed for service in the fake's
// region, with the payload hash it declares, covering the headers EBS
// relies on (the block checksum is what authenticates an unsigned block).
func (f *fake) signed(w http.ResponseWriter, r *http.Request, service string, body []byte) bool {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	fail := func(msg string) bool {
		f.t.Errorf("%s %s: %s", r.Method, r.URL.Path, msg)
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusForbidden)
		return false
	}
	if m == nil || m[1] != f.region || m[2] != service {
		return fail("not signed for " + service + " in " + f.region + ": " + r.Header.Get("Authorization"))
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if r.Method == http.MethodPut {
		if hash != "UNSIGNED-PAYLOAD" {
			return fail("block payload hash " + hash)
		}
		for _, h := range []string{"x-amz-checksum", "x-amz-checksum-algorithm", "x-amz-data-length"} {
			if !slices.Contains(strings.Split(m[3], ";"), h) {
				return fail(h + " not signed: " + m[3])
			}
		}
	} else if sum := sha256.Sum256(body); hash != fmt.Sprintf("%x", sum) {
		return fail("payload hash " + hash + " is not the body's")
	}
	return true
}

func (f *fake) factory(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	switch {
	case r.Method == http.MethodPost && path == "/schematics":
		sum := sha256.Sum256(body)
		id := fmt.Sprintf("%x", sum)
		f.schematics[id] = body
		if f.wrongID {
			id = strings.Repeat("0", 64)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/image/"):
		parts := strings.Split(path, "/") // "", image, id, version, file
		if len(parts) != 5 || f.schematics[parts[2]] == nil || !strings.HasSuffix(parts[4], ".raw.zst") {
			http.NotFound(w, r)
			return
		}
		f.downloads++
		w.Header().Set("Content-Length", strconv.Itoa(len(f.zst)))
		_, _ = w.Write(f.zst)
	default:
		http.NotFound(w, r)
	}
}

func (f *fake) ebsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code+":http://internal.amazon.com/coral/com.amazon.zeppelindataservice/")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Message": msg})
}

func (f *fake) ebs(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && path == "/snapshots":
		f.calls["ebs:StartSnapshot"] = true
		var in startSnapshotIn
		if err := json.Unmarshal(body, &in); err != nil {
			f.ebsError(w, 400, "ValidationException", err.Error())
			return
		}
		f.starts = append(f.starts, in)
		if !in.Encrypted || in.ClientToken == "" || in.VolumeSize < 1 {
			f.t.Errorf("StartSnapshot %+v: want encrypted, a client token, a size", in)
		}
		id, ok := f.tokens[in.ClientToken]
		if !ok {
			id = fmt.Sprintf("snap-%04d", len(f.snapshots)+1)
			f.tokens[in.ClientToken] = id
			f.snapshots[id] = &fakeSnapshot{id: id, token: in.ClientToken, volume: in.VolumeSize, blocks: map[int64][sha256.Size]byte{}, data: map[int64][]byte{}, state: "pending"}
		}
		w.WriteHeader(http.StatusCreated)
		// A repeated token answers as the first request did.
		_ = json.NewEncoder(w).Encode(map[string]any{"SnapshotId": id, "Status": "pending", "BlockSize": images.BlockSize, "VolumeSize": in.VolumeSize})
	case r.Method == http.MethodPut && len(parts) == 4 && parts[0] == "snapshots" && parts[2] == "blocks":
		f.calls["ebs:PutSnapshotBlock"] = true
		s := f.snapshots[parts[1]]
		index, _ := strconv.ParseInt(parts[3], 10, 64)
		f.puts[index]++
		if n := f.failBlock[index]; n != 0 {
			if n > 0 {
				f.failBlock[index]--
			}
			f.ebsError(w, http.StatusServiceUnavailable, "InternalServerException", "try again")
			return
		}
		if s != nil && s.hiddenPuts < f.hidePuts {
			s.hiddenPuts++
			s = nil
		}
		switch {
		case s == nil:
			f.ebsError(w, 404, "ResourceNotFoundException", "no snapshot")
			return
		case s.sealed || s.state != "pending":
			f.ebsError(w, 400, "ValidationException", "The snapshot is not in a state that allows writes")
			return
		}
		sum := sha256.Sum256(body)
		if r.Header.Get("X-Amz-Checksum-Algorithm") != "SHA256" || r.Header.Get("X-Amz-Checksum") != base64.StdEncoding.EncodeToString(sum[:]) {
			f.t.Errorf("block %d: checksum %q does not match its data", index, r.Header.Get("X-Amz-Checksum"))
			f.ebsError(w, 400, "ValidationException", "checksum mismatch")
			return
		}
		if r.Header.Get("X-Amz-Data-Length") != strconv.Itoa(images.BlockSize) || len(body) != images.BlockSize {
			f.t.Errorf("block %d: %d bytes, data length %s", index, len(body), r.Header.Get("X-Amz-Data-Length"))
		}
		if index < 0 || index >= s.volume<<30/images.BlockSize {
			f.t.Errorf("block %d beyond the %d GiB volume", index, s.volume)
		}
		if bytes.Equal(body, make([]byte, images.BlockSize)) {
			f.zeroPuts++
		}
		s.blocks[index], s.data[index] = sum, body
		w.Header().Set("X-Amz-Checksum", r.Header.Get("X-Amz-Checksum"))
		w.Header().Set("X-Amz-Checksum-Algorithm", "SHA256")
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "snapshots" && parts[1] == "completion":
		f.calls["ebs:CompleteSnapshot"] = true
		s := f.snapshots[parts[2]]
		if s == nil || s.sealed || s.state != "pending" {
			f.ebsError(w, 400, "ValidationException", "The snapshot is not open")
			return
		}
		n, _ := strconv.Atoi(r.Header.Get("X-Amz-ChangedBlocksCount"))
		if n != len(s.blocks) {
			f.ebsError(w, 400, "ValidationException", fmt.Sprintf("ChangedBlocksCount %d, %d blocks written", n, len(s.blocks)))
			return
		}
		if r.Header.Get("X-Amz-Checksum-Aggregation-Method") != "LINEAR" || r.Header.Get("X-Amz-Checksum") != s.aggregate() {
			f.ebsError(w, 400, "ValidationException", "aggregate checksum mismatch")
			return
		}
		s.sealed = true
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]string{"Status": "pending"})
	default:
		http.NotFound(w, r)
	}
}

func (f *fake) ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>r</RequestID></Response>`, code, msg)
}

func (f *fake) ec2(w http.ResponseWriter, form url.Values) {
	f.calls["ec2:"+form.Get("Action")] = true
	if form.Get("TagSpecification.1.ResourceType") != "" {
		f.calls["ec2:CreateTags"] = true
	}
	if form.Get("Version") != "2016-11-15" {
		f.t.Errorf("EC2 API version %q", form.Get("Version"))
	}
	switch form.Get("Action") {
	case "DescribeImages":
		if form.Get("Owner.1") != "self" || form.Get("Filter.1.Name") != "name" {
			f.t.Errorf("DescribeImages %v: want the account's own images by name", form)
		}
		type item struct {
			ID    string `xml:"imageId"`
			Name  string `xml:"name"`
			State string `xml:"imageState"`
		}
		var items []item
		if a := f.amis[form.Get("Filter.1.Value.1")]; a != nil && a.hidden < f.hideAMI {
			a.hidden++
		} else if a != nil {
			a.describes++
			if a.state == "pending" && a.describes > 1 {
				a.state = "available"
			}
			items = append(items, item{a.id, a.name, a.state})
		}
		out, _ := xml.Marshal(struct {
			XMLName xml.Name `xml:"DescribeImagesResponse"`
			Items   []item   `xml:"imagesSet>item"`
		}{Items: items})
		_, _ = w.Write(out)
	case "DescribeSnapshots":
		s := f.snapshots[form.Get("SnapshotId.1")]
		if s != nil && s.hiddenDescribes < f.hideDescribes {
			s.hiddenDescribes++
			s = nil
		}
		if s == nil {
			f.ec2Error(w, 400, "InvalidSnapshot.NotFound", "no such snapshot")
			return
		}
		if s.sealed && s.state == "pending" {
			s.describes++
			if s.describes > f.completeAfter {
				s.state = "completed"
			}
		}
		_, _ = fmt.Fprintf(w, `<DescribeSnapshotsResponse><snapshotSet><item><snapshotId>%s</snapshotId><status>%s</status><progress>%d%%</progress></item></snapshotSet></DescribeSnapshotsResponse>`, s.id, s.state, min(100, s.describes*40))
	case "RegisterImage":
		f.registers = append(f.registers, form)
		if f.beforeRegister != nil {
			f.beforeRegister()
		}
		if f.failRegister != "" {
			f.ec2Error(w, 400, f.failRegister, "refused")
			return
		}
		name := form.Get("Name")
		if a := f.amis[name]; a != nil {
			f.ec2Error(w, 400, "InvalidAMIName.Duplicate", "AMI name "+name+" is already in use by AMI "+a.id)
			return
		}
		s := f.snapshots[form.Get("BlockDeviceMapping.1.Ebs.SnapshotId")]
		if s == nil || s.state != "completed" {
			f.ec2Error(w, 400, "IncorrectState", "snapshot not completed")
			return
		}
		a := &fakeAMI{id: fmt.Sprintf("ami-%04d", len(f.amis)+1), name: name, snapshot: s.id, state: "pending", tags: map[string]string{}}
		for i := 1; form.Get("TagSpecification.1.Tag."+strconv.Itoa(i)+".Key") != ""; i++ {
			a.tags[form.Get("TagSpecification.1.Tag."+strconv.Itoa(i)+".Key")] = form.Get("TagSpecification.1.Tag." + strconv.Itoa(i) + ".Value")
		}
		f.amis[name] = a
		_, _ = fmt.Fprintf(w, `<RegisterImageResponse><requestId>r</requestId><imageId>%s</imageId></RegisterImageResponse>`, a.id)
	default:
		f.ec2Error(w, 400, "InvalidAction", form.Get("Action"))
	}
}

// addAMI registers an AMI as another run would have.
func (f *fake) addAMI(name, state string) string {
	id := fmt.Sprintf("ami-other%d", len(f.amis)+1)
	f.amis[name] = &fakeAMI{id: id, name: name, state: state, tags: map[string]string{}}
	return id
}

// snapshotsOf lists the snapshots, by id.
func (f *fake) snapshotIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.snapshots {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
