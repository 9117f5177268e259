package etcdguard

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/talos-aws/talos-aws/config"
)

func TestZipIsDeterministic(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(bin, []byte("\x7fELF fake binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Zip(bin)
	if err != nil {
		t.Fatal(err)
	}
	// A different mtime on disk must not change the zip.
	if err := os.Chtimes(bin, zipTime.AddDate(30, 0, 0), zipTime.AddDate(30, 0, 0)); err != nil {
		t.Fatal(err)
	}
	b, err := Zip(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two zips of the same binary differ")
	}
	r, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.File) != 1 || r.File[0].Name != "bootstrap" || r.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("zip holds %v; want one executable named bootstrap", r.File)
	}
}

// The cache key must cover every local package the binary is built from,
// or an edit would reuse a stale zip.
func TestSourceDirsCoverTheBinary(t *testing.T) {
	const mod = "github.com/talos-aws/talos-aws/"
	covered := map[string]bool{}
	for _, d := range SourceDirs {
		covered[d] = true
	}
	for _, p := range moduleDeps(t, Package, Env...) {
		if rel, ok := strings.CutPrefix(p, mod); ok && !covered[rel] {
			t.Errorf("the guard imports %s, which SourceDirs does not hash", rel)
		}
	}
}

// moduleDeps lists pkg's non-standard dependencies, as go list sees them
// from the module root with env added.
func moduleDeps(t *testing.T, pkg string, env ...string) []string {
	t.Helper()
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

func TestSourceHashFollowsSources(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	a, err := SourceHash(root, "go1.26.8")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SourceHash(root, "go1.26.8")
	c, _ := SourceHash(root, "go1.26.9")
	if a != b || a == c {
		t.Fatalf("hash must be stable for the same inputs and change with the toolchain: %s %s %s", a, b, c)
	}
}

// TestLambdaIsReproducible builds the real guard twice into separate caches
// and demands byte-identical zips, then checks the cache is used.
func TestLambdaIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the Lambda")
	}
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	first, err := Build(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !first.Built || !second.Built {
		t.Fatal("fresh caches must build")
	}
	if first.SHA256 != second.SHA256 {
		t.Fatalf("two builds of the same source differ: %s vs %s", first.SHA256, second.SHA256)
	}
	again, err := Build(root, filepath.Dir(first.Path))
	if err != nil {
		t.Fatal(err)
	}
	if again.Built || again.SHA256 != first.SHA256 {
		t.Fatalf("cache miss for an unchanged source: %+v", again)
	}
	// `up` uploads exactly that zip, from the cache, under the source's key.
	f, store := testStore(t)
	t.Setenv("AWS_ENDPOINT_URL", aws.ToString(store.Config.BaseEndpoint))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	code, err := SourceCode(root, filepath.Dir(first.Path), "eu-west-1", config.AWS{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := code.Upload(context.Background(), "code"); err != nil {
		t.Fatal(err)
	}
	zip, _ := os.ReadFile(first.Path)
	if got := f.objects["/code/"+CodeKey(first.SourceHash)]; !bytes.Equal(got, zip) {
		t.Errorf("uploaded %d bytes under %s, built %d", len(got), code.Key, len(zip))
	}
	st, _ := os.Stat(first.Path)
	t.Logf("etcd-guard zip %d bytes, built in %s (first) and %s (second, warm Go cache)", st.Size(), first.Elapsed, second.Elapsed)
}

// The pinned toolchain is the one go.mod names: a mismatch would make the
// Lambda's bytes depend on which of the two a machine resolves.
func TestToolchainMatchesGoMod(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod")) //nolint:gosec // this module's go.mod
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\ngo "+strings.TrimPrefix(Toolchain, "go")+"\n") {
		t.Errorf("go.mod's go line does not name %s", Toolchain)
	}
	// SourceHash takes Toolchain as the Go version: true only while Env
	// makes the go command resolve exactly that toolchain.
	cmd := exec.Command("go", "env", "GOVERSION")
	cmd.Env = append(os.Environ(), Env...)
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err != nil || v != Toolchain {
		t.Errorf("go env GOVERSION under Env = %q, %v; want %s", v, err, Toolchain)
	}
}

// The two sides of the guard share only the contract: the Lambda links no
// Pulumi SDK and nothing of the stack, and the program links nothing of
// the Lambda.
func TestOnlyTheContractIsShared(t *testing.T) {
	const mod = "github.com/talos-aws/talos-aws/"
	for _, p := range moduleDeps(t, Package, Env...) {
		rel, ours := strings.CutPrefix(p, mod)
		switch {
		case strings.HasPrefix(p, "github.com/pulumi/"):
			t.Errorf("the Lambda links %s", p)
		case ours && rel != "etcdguard/contract" && !strings.HasPrefix(rel, "etcdguard/lambda"):
			t.Errorf("the Lambda links the stack's %s", rel)
		}
	}
	for _, p := range moduleDeps(t, ".") {
		if strings.HasPrefix(p, mod+"etcdguard/lambda") {
			t.Errorf("the program links the Lambda's %s", p)
		}
	}
}
