package program

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/etcdguard"
	"github.com/talos-aws/talos-aws/testkit"
)

// The function's code comes from the guard's code bucket: `up` uploads it
// once, into that bucket, before the function; no preview uploads (or
// builds) anything, and a preview of an existing stack already knows the
// key, so it shows a code change exactly when the key (the source) changed.
func TestGuardCodeFromS3(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *testkit.Mocks
	}{{"up", &testkit.Mocks{}}, {"preview of an existing stack", &testkit.Mocks{DryRun: true}}, {"first preview", &testkit.Mocks{Preview: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			uploadsMu.Lock()
			uploads = nil
			uploadsMu.Unlock()
			evaluate(t, tc.m, haConfig(t))
			fn := one(t, tc.m, "aws:lambda/function:Function", "etcd-guard")
			if _, ok := fn.Inputs["code"]; ok {
				t.Error("the function still takes a local archive")
			}
			if _, ok := fn.Inputs["sourceCodeHash"]; ok {
				t.Error("sourceCodeHash is set; the key is the code's identity")
			}
			bucket := one(t, tc.m, "aws:s3/bucketV2:BucketV2", "etcd-guard-code")
			wantUploads := 0
			switch tc.name {
			case "first preview":
				if k, ok := fn.Inputs["s3Key"]; ok && !k.ContainsUnknowns() {
					t.Errorf("first preview: s3Key %v before the bucket exists", k)
				}
			case "up":
				wantUploads = 1
				fallthrough
			default:
				if got := str(fn, "s3Key"); got != fixtureKey {
					t.Errorf("s3Key = %q, want %q", got, fixtureKey)
				}
				if got := str(fn, "s3Bucket"); got != "etcd-guard-code" {
					t.Errorf("s3Bucket = %q", got)
				}
			}
			uploadsMu.Lock()
			got := slices.Clone(uploads)
			uploadsMu.Unlock()
			if len(got) != wantUploads || (wantUploads == 1 && got[0] != "etcd-guard-code") {
				t.Errorf("uploads %v, want %d into the code bucket", got, wantUploads)
			}
			if !bucket.Inputs["forceDestroy"].BoolValue() {
				t.Error("the code bucket must not block destroy")
			}
			pab := one(t, tc.m, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "etcd-guard-code")
			for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
				if !pab.Inputs[resource.PropertyKey(k)].BoolValue() {
					t.Errorf("code bucket %s off", k)
				}
			}
			own := one(t, tc.m, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "etcd-guard-code")
			if got := own.Inputs["rule"].ObjectValue()["objectOwnership"].StringValue(); got != "BucketOwnerEnforced" {
				t.Errorf("code bucket ownership %s", got)
			}
			if tc.name != "first preview" {
				pol := one(t, tc.m, "aws:s3/bucketPolicy:BucketPolicy", "etcd-guard-code")
				d := policyDoc(t, pol)
				if len(d.Statement) != 1 || d.Statement[0].Effect != "Deny" || d.Statement[0].Sid != "TLSOnly" {
					t.Errorf("code bucket policy %+v: want TLS only, granting nothing", d.Statement)
				}
			}
		})
	}
}

// The real GuardCode in a preview, with no go on PATH and an empty cache:
// had it built, it would have failed. The key is the source hash's.
func TestPreviewBuildsNoLambda(t *testing.T) {
	defer func(old func(*pulumi.Context, *config.Config) (etcdguard.Code, error)) { guardCode = old }(guardCode)
	guardCode = Real(time.Time{}).GuardCode
	t.Setenv("PATH", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	m := &testkit.Mocks{DryRun: true}
	evaluate(t, m, haConfig(t))
	wd, _ := os.Getwd()
	root, err := etcdguard.ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := etcdguard.SourceHash(root, etcdguard.Toolchain)
	if err != nil {
		t.Fatal(err)
	}
	fn := one(t, m, "aws:lambda/function:Function", "etcd-guard")
	if got, want := str(fn, "s3Key"), etcdguard.CodeKey(sh); got != want {
		t.Errorf("s3Key %s, want %s", got, want)
	}
	if ents, _ := os.ReadDir(os.Getenv("XDG_CACHE_HOME")); len(ents) != 0 {
		t.Errorf("a preview wrote %d entries into the cache", len(ents))
	}
}
