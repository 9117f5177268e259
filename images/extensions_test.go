package images

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var updateExtensions = flag.Bool("update-extensions", false, "rewrite extensions.txt from the siderolabs/extensions git mirror")

// extensionsGitDir is a git directory of siderolabs/extensions (a bare
// mirror): TALOS_AWS_EXTENSIONS_GIT, else where this project's `fetch`
// puts it.
func extensionsGitDir() string {
	if d := os.Getenv("TALOS_AWS_EXTENSIONS_GIT"); d != "" {
		return d
	}
	return "/work/.mirror/siderolabs+extensions/repo"
}

// dataMinors are the Talos minors extensions.txt covers: the ones the
// stack renders configurations for (config/versions.go talosLines).
var dataMinors = []string{"1.12", "1.13"}

var targetLine = regexp.MustCompile(`^(NONFREE_)?TARGETS \+?= (\S+)\s*$`)

// deriveExtensions re-derives extensions.txt from a git mirror: every
// release tag of dataMinors, the Makefile's TARGETS and NONFREE_TARGETS
// at each (the lists .kres.yaml:205-216 turns into image-digests).
func deriveExtensions(gitDir string) (string, error) {
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"--git-dir", gitDir}, args...)...).Output()
		return string(out), err
	}
	tagList, err := git("tag")
	if err != nil {
		return "", err
	}
	release := regexp.MustCompile(`^v(\d+\.\d+)\.(\d+)$`)
	type tag struct {
		name, minor string
		patch       int
	}
	var tags []tag
	for _, t := range strings.Fields(tagList) {
		m := release.FindStringSubmatch(t)
		if m == nil || !slices.Contains(dataMinors, m[1]) {
			continue
		}
		p, _ := strconv.Atoi(m[2])
		tags = append(tags, tag{t, m[1], p})
	}
	slices.SortFunc(tags, func(a, b tag) int {
		if c := strings.Compare(a.minor, b.minor); c != 0 {
			return c
		}
		return a.patch - b.patch
	})
	var b strings.Builder
	b.WriteString(`# Official Talos system extensions by Talos release. Generated, do not edit:
#   go test ./images -run TestExtensionListMatchesMirror -update-extensions
# re-derives it from a git mirror of siderolabs/extensions
# (TALOS_AWS_EXTENSIONS_GIT). For every release tag of the minors below, the
# names are the Makefile's TARGETS and NONFREE_TARGETS: the release lists
# each as ghcr.io/siderolabs/<target> in the extensions manifest image
# (.kres.yaml:205-216), and the Image Factory names extensions by that
# repository (internal/profile/profile.go:289-297, image-factory v0.9.0).
#
# tag <tag> <commit>                 a tag read, pinned by its commit
# <minor> <first>[-<last>] <name>    name exists from v<minor>.<first> to
#                                    v<minor>.<last> (no last: to the newest tag)
`)
	names := map[string]map[string][]int{} // minor -> name -> patches
	newest := map[string]int{}
	for _, t := range tags {
		commit, err := git("rev-list", "-n", "1", t.name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "tag %s %s\n", t.name, strings.TrimSpace(commit))
		mk, err := git("show", t.name+":Makefile")
		if err != nil {
			return "", err
		}
		if names[t.minor] == nil {
			names[t.minor] = map[string][]int{}
		}
		for _, line := range strings.Split(mk, "\n") {
			if m := targetLine.FindStringSubmatch(line); m != nil {
				n := "siderolabs/" + m[2]
				names[t.minor][n] = append(names[t.minor][n], t.patch)
			}
		}
		newest[t.minor] = t.patch
	}
	for _, minor := range dataMinors {
		var sorted []string
		for n := range names[minor] {
			sorted = append(sorted, n)
		}
		slices.Sort(sorted)
		for _, n := range sorted {
			ps := names[minor][n]
			// A name must exist in one unbroken run of patches, else the
			// range format cannot say it.
			for i := 1; i < len(ps); i++ {
				if ps[i] != ps[i-1]+1 {
					return "", fmt.Errorf("%s %s: present in patches %v, with a gap", minor, n, ps)
				}
			}
			r := strconv.Itoa(ps[0])
			if last := ps[len(ps)-1]; last != newest[minor] {
				r += "-" + strconv.Itoa(last)
			}
			fmt.Fprintf(&b, "%s %s %s\n", minor, r, n)
		}
	}
	return b.String(), nil
}

// TestExtensionListMatchesMirror re-derives extensions.txt from the
// siderolabs/extensions mirror when one is present, and fails on any
// difference (or rewrites it with -update-extensions).
func TestExtensionListMatchesMirror(t *testing.T) {
	dir := extensionsGitDir()
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no siderolabs/extensions mirror at %s (set TALOS_AWS_EXTENSIONS_GIT): extensions.txt not re-derived", dir)
	}
	got, err := deriveExtensions(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *updateExtensions {
		if err := os.WriteFile("extensions.txt", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != extensionsData {
		t.Fatalf("extensions.txt differs from what %s gives: run go test ./images -run TestExtensionListMatchesMirror -update-extensions", dir)
	}
}

func TestExtensionsPerVersion(t *testing.T) {
	for _, tc := range []struct {
		version    string
		tag        string
		exact      bool
		has, hasnt []string
	}{
		// gpio-pinctrl first appears in v1.12.2.
		{"v1.12.1", "v1.12.1", true, []string{"siderolabs/iscsi-tools", "siderolabs/ecr-credential-provider", "siderolabs/nvidia-open-gpu-kernel-modules-lts"}, []string{"siderolabs/gpio-pinctrl", "siderolabs/uhid"}},
		{"v1.12.2", "v1.12.2", true, []string{"siderolabs/gpio-pinctrl"}, []string{"siderolabs/uhid"}},
		// uhid, joydev, px-fuse, intel-npu and rockchip-rknn came with 1.13.
		{"v1.13.0", "v1.13.0", true, []string{"siderolabs/uhid", "siderolabs/nonfree-kmod-nvidia-production"}, nil},
		// Newer than the newest tag read: the newest tag's list.
		{"v1.13.13", "v1.13.9", false, []string{"siderolabs/nvidia-container-toolkit-production", "siderolabs/gvisor"}, []string{"siderolabs/nvidia-open-gpu-kernel-modules"}},
	} {
		l, err := Extensions(tc.version)
		if err != nil {
			t.Fatalf("%s: %v", tc.version, err)
		}
		if l.Tag != tc.tag || l.Exact != tc.exact {
			t.Errorf("%s: read at %s (exact %v), want %s (%v)", tc.version, l.Tag, l.Exact, tc.tag, tc.exact)
		}
		for _, n := range tc.has {
			if !slices.Contains(l.Names, n) {
				t.Errorf("%s: %s missing", tc.version, n)
			}
		}
		for _, n := range tc.hasnt {
			if slices.Contains(l.Names, n) {
				t.Errorf("%s: %s listed", tc.version, n)
			}
		}
	}
	if _, err := Extensions("v1.14.0"); err == nil || !strings.Contains(err.Error(), "no extension list for Talos 1.14") {
		t.Errorf("1.14: %v", err)
	}
}
