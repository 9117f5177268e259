package etcdguard

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/talos-aws/talos-aws/config"
)

// fakeS3 keeps objects by path and records each request.
type fakeS3 struct {
	mu       sync.Mutex
	objects  map[string][]byte
	requests []*http.Request
	bodies   [][]byte
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests, f.bodies = append(f.requests, r), append(f.bodies, body)
	switch r.Method {
	case http.MethodHead:
		if _, ok := f.objects[r.URL.Path]; !ok {
			w.WriteHeader(http.StatusNotFound)
		}
	case http.MethodPut:
		sum := sha256.Sum256(body)
		if r.Header.Get("X-Amz-Checksum-Sha256") != base64.StdEncoding.EncodeToString(sum[:]) ||
			r.Header.Get("X-Amz-Content-Sha256") != hex.EncodeToString(sum[:]) {
			http.Error(w, "<Error><Code>BadDigest</Code></Error>", http.StatusBadRequest)
			return
		}
		f.objects[r.URL.Path] = body
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func testStore(t *testing.T) (*fakeS3, ObjectStore) {
	t.Helper()
	f := &fakeS3{objects: map[string][]byte{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, ObjectStore{Config: aws.Config{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}}
}

// The upload is a signed PUT whose body S3 can check, and Exists sees it.
func TestObjectStorePutIsSignedAndChecked(t *testing.T) {
	f, s := testStore(t)
	ctx := context.Background()
	if ok, err := s.Exists(ctx, "code", "etcd-guard/abc.zip"); err != nil || ok {
		t.Fatalf("Exists before the upload = %v, %v", ok, err)
	}
	body := []byte("zip bytes")
	if err := s.Put(ctx, "code", "etcd-guard/abc.zip", body); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(ctx, "code", "etcd-guard/abc.zip"); err != nil || !ok {
		t.Fatalf("Exists after the upload = %v, %v", ok, err)
	}
	if got := string(f.objects["/code/etcd-guard/abc.zip"]); got != "zip bytes" {
		t.Errorf("stored %q", got)
	}
	put := f.requests[1]
	auth := put.Header.Get("Authorization")
	for _, want := range []string{"AWS4-HMAC-SHA256 Credential=AKIDTEST/", "/eu-west-1/s3/aws4_request", "x-amz-checksum-sha256", "x-amz-content-sha256"} {
		if !strings.Contains(auth, want) {
			t.Errorf("Authorization %q lacks %q", auth, want)
		}
	}
	if put.Header.Get("Content-Type") != "application/zip" || put.ContentLength != int64(len(body)) {
		t.Errorf("PUT content type %q, length %d", put.Header.Get("Content-Type"), put.ContentLength)
	}
}

// A refused upload says what S3 answered.
func TestObjectStorePutErrorNamesTheObject(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
	}))
	defer srv.Close()
	s := ObjectStore{Config: aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}}
	err := s.Put(context.Background(), "code", "etcd-guard/abc.zip", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "s3://code/etcd-guard/abc.zip") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("Put error = %v", err)
	}
	if _, err := s.Exists(context.Background(), "code", "k"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("Exists error = %v", err)
	}
}

// Virtual-hosted addresses per partition.
func TestObjectURL(t *testing.T) {
	for region, want := range map[string]string{
		"eu-west-1":     "https://b.s3.eu-west-1.amazonaws.com/etcd-guard/h.zip",
		"cn-north-1":    "https://b.s3.cn-north-1.amazonaws.com.cn/etcd-guard/h.zip",
		"us-gov-west-1": "https://b.s3.us-gov-west-1.amazonaws.com/etcd-guard/h.zip",
	} {
		if got := (ObjectStore{Config: aws.Config{Region: region}}).url("b", "etcd-guard/h.zip"); got != want {
			t.Errorf("%s: %s, want %s", region, got, want)
		}
	}
}

// The key comes from the source alone: with no go on PATH (so no build
// could run) SourceCode names the same object the source hash does.
func TestSourceCodeNeedsNoBuild(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	code, err := SourceCode(root, t.TempDir(), "eu-west-1", config.AWS{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := SourceHash(root, Toolchain)
	if err != nil {
		t.Fatal(err)
	}
	if code.Key != "etcd-guard/"+sh+".zip" {
		t.Errorf("key %s, source hash %s", code.Key, sh)
	}
}

// An object already in the bucket is not built again: Upload with go
// absent from PATH and an empty cache succeeds when the HEAD finds it.
func TestSourceCodeUploadSkipsWhatIsThere(t *testing.T) {
	f, s := testStore(t)
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL", aws.ToString(s.Config.BaseEndpoint))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("PATH", t.TempDir())
	code, err := SourceCode(root, t.TempDir(), "eu-west-1", config.AWS{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	f.objects["/code/"+code.Key] = []byte("built before")
	if err := code.Upload(context.Background(), "code"); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 1 || f.requests[0].Method != http.MethodHead {
		t.Errorf("requests: %d, first %s; want one HEAD", len(f.requests), f.requests[0].Method)
	}
	// Absent, the same Upload must build, and without go it says so.
	delete(f.objects, "/code/"+code.Key)
	if err := code.Upload(context.Background(), "code"); err == nil || !strings.Contains(err.Error(), "Go toolchain") {
		t.Errorf("Upload of an absent object without go = %v", err)
	}
}
