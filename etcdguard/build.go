// The Lambda build: it compiles the etcd-guard Lambda from this repository while
// `pulumi up` runs, so `pulumi up` stays the only command. The artifact is
// reproducible: a static linux/arm64 binary built with -trimpath, no VCS
// stamp and no build id, zipped with fixed timestamps, so the same source
// gives the same bytes, the same hash and no diff. Builds are cached by a
// hash of everything that goes into them.

package etcdguard

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Package is the Lambda's main package, relative to the module root.
const Package = "./etcdguard/lambda"

// SourceDirs are the module directories whose Go files the binary is built
// from (a test checks this against `go list -deps`).
var SourceDirs = []string{"etcdguard/contract", "etcdguard/lambda", "etcdguard/lambda/awsapi", "etcdguard/lambda/guard", "etcdguard/lambda/snapshot", "etcdguard/lambda/talosclient"}

// Toolchain is the Go release every build of the Lambda uses, whatever Go
// the machine running `pulumi up` has (the go command fetches it through the
// module proxy when the local one differs), so a laptop and CI produce the
// same bytes. It matches go.mod's go line (TestToolchainMatchesGoMod).
const Toolchain = "go1.26.8"

// Env and Flags are the reproducible build settings. Every variable that
// changes the output is set here, not inherited from the machine.
var (
	Env = []string{"GOTOOLCHAIN=" + Toolchain, "GOOS=linux", "GOARCH=arm64", "GOARM64=v8.0", "GOEXPERIMENT=",
		"CGO_ENABLED=0", "GOFLAGS=-mod=readonly"}
	Flags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}
)

// zipTime is the fixed modification time of the zip entry (the zip epoch).
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Artifact is a built Lambda zip.
type Artifact struct {
	Path string
	// SHA256 is base64(sha256(zip)), Lambda's sourceCodeHash form.
	SHA256 string
	// SourceHash names the inputs; Built is false on a cache hit.
	SourceHash string
	Built      bool
	Elapsed    time.Duration
}

// ModuleRoot walks up from dir to the directory holding go.mod.
func ModuleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// SourceHash hashes the Go version, the build settings, go.mod, go.sum and
// every non-test Go file in SourceDirs.
func SourceHash(root, goVersion string) (string, error) {
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%s\n%s\n%s\n", goVersion, strings.Join(Env, " "), strings.Join(Flags, " "))
	files := []string{"go.mod", "go.sum"}
	for _, d := range SourceDirs {
		ents, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			return "", err
		}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
				files = append(files, filepath.ToSlash(filepath.Join(d, n)))
			}
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f)) //nolint:gosec // files of this module, listed above
		if err != nil {
			return "", err
		}
		_, _ = fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Build returns the guard's zip, building it into cacheDir unless a zip
// for the same source hash is there. Env pins GOTOOLCHAIN to Toolchain, so
// the toolchain that builds is Toolchain whatever go is installed.
func Build(root, cacheDir string) (Artifact, error) {
	sh, err := SourceHash(root, Toolchain)
	if err != nil {
		return Artifact{}, err
	}
	a := Artifact{SourceHash: sh, Path: filepath.Join(cacheDir, "etcd-guard-"+sh[:16]+".zip")}
	if b, err := os.ReadFile(a.Path); err == nil {
		a.SHA256 = sum(b)
		return a, nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		return a, fmt.Errorf("`pulumi up` compiles the etcd guard and needs the Go toolchain on PATH: %w", err)
	}
	start := time.Now()
	if err := os.MkdirAll(cacheDir, 0o750); err != nil {
		return a, err
	}
	tmp, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return a, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	bin := filepath.Join(tmp, "bootstrap")
	args := append(append([]string{"build"}, Flags...), "-o", bin, Package)
	cmd := exec.Command("go", args...) //nolint:gosec // fixed arguments: Flags and Package
	cmd.Dir = root
	cmd.Env = append(os.Environ(), Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return a, fmt.Errorf("build the etcd guard (go %s): %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	z, err := Zip(bin)
	if err != nil {
		return a, err
	}
	// Write then rename: a concurrent run never reads a half-written zip.
	part := filepath.Join(tmp, "out.zip")
	if err := os.WriteFile(part, z, 0o600); err != nil {
		return a, err
	}
	if err := os.Rename(part, a.Path); err != nil {
		return a, err
	}
	a.SHA256, a.Built, a.Elapsed = sum(z), true, time.Since(start)
	return a, nil
}

// Zip packs the binary as "bootstrap" (what provided.al2023 runs), with a
// fixed time and mode, so equal binaries give equal zips.
func Zip(binary string) ([]byte, error) {
	f, err := os.Open(binary) //nolint:gosec // the binary this package just built
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
	hdr.SetMode(0o755)
	dst, err := w.CreateHeader(hdr)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(dst, f); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if buf.Len() == 0 {
		return nil, errors.New("empty zip")
	}
	return buf.Bytes(), nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// CacheDir is where the program keeps built zips: the user cache
// directory, or the system temp directory when there is none.
func CacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "talos-aws")
	}
	return filepath.Join(os.TempDir(), "talos-aws")
}
