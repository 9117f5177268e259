package program

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/talos-aws/talos-aws/etcdguard"
	"github.com/talos-aws/talos-aws/testkit"
)

// A preview on a machine that has never built the guard (no zip cached, no
// Go build cache for arm64) runs no go command, and still plans the code
// hash `up` will deploy: lambda.sum's for the committed source.
func TestPreviewBuildsNoLambda(t *testing.T) {
	old := guardArtifact
	guardArtifact = lambdaArtifact
	t.Cleanup(func() { guardArtifact = old })

	// A go command that leaves a mark if anything runs it.
	bin, marks := t.TempDir(), filepath.Join(t.TempDir(), "go-ran")
	script := "#!/bin/sh\necho \"$@\" >> " + marks + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o700); err != nil { //nolint:gosec // a test stand-in
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // no cached zip
	t.Setenv("HOME", t.TempDir())

	root, err := etcdguard.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	sh, err := etcdguard.SourceHash(root, etcdguard.Toolchain)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := etcdguard.Recorded()
	if err != nil {
		t.Fatal(err)
	}
	if rec.SourceHash != sh {
		t.Fatalf("etcdguard/lambda.sum is stale (%s, source %s): go test ./etcdguard -run TestLambdaIsReproducible -update-sum", rec.SourceHash, sh)
	}
	for _, s := range []struct {
		name string
		m    *testkit.Mocks
	}{
		{"first preview", &testkit.Mocks{Preview: true}},
		{"preview of an existing stack", &testkit.Mocks{DryRun: true}},
	} {
		t.Run(s.name, func(t *testing.T) {
			start := time.Now()
			evaluate(t, s.m, haConfig(t))
			t.Logf("HA preview evaluated in %s with a cold artifact cache", time.Since(start).Round(time.Millisecond))
			if b, err := os.ReadFile(marks); err == nil { //nolint:gosec // the stand-in's own file
				t.Fatalf("the preview ran go: %s", b)
			}
			fn := one(t, s.m, "aws:lambda/function:Function", "etcd-guard")
			if got := str(fn, "sourceCodeHash"); got != rec.SHA256 {
				t.Errorf("sourceCodeHash = %q; want lambda.sum's %q", got, rec.SHA256)
			}
			if !slices.Contains(fn.IgnoreChanges, "code") {
				t.Errorf("the stand-in code must not be diffed: ignoreChanges %v", fn.IgnoreChanges)
			}
		})
	}
}
