package images

import (
	_ "embed" // extensions.txt
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// extensionsData is the list of official extensions per Talos release,
// generated from siderolabs/extensions (see its header and
// TestExtensionListMatchesMirror, which re-derives it).
//
//go:embed extensions.txt
var extensionsData string

// extensionSet is extensions.txt parsed.
type extensionSet struct {
	// newest is the newest patch read per minor ("1.13" -> 9).
	newest map[string]int
	// tags are the tags read with their commits ("v1.13.9" -> sha).
	tags map[string]string
	// since is, per minor and name, the patch range it exists in.
	names map[string]map[string][2]int // minor -> name -> [first, last]
}

var (
	loadOnce sync.Once
	loaded   extensionSet
	loadErr  error
)

func extensionData() (extensionSet, error) {
	loadOnce.Do(func() { loaded, loadErr = parseExtensions(extensionsData) })
	return loaded, loadErr
}

// parseExtensions reads the data file: "tag <tag> <commit>" lines and
// "<minor> <first>[-<last>] <name>" lines; # starts a comment.
func parseExtensions(data string) (extensionSet, error) {
	s := extensionSet{newest: map[string]int{}, tags: map[string]string{}, names: map[string]map[string][2]int{}}
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		bad := func() (extensionSet, error) {
			return extensionSet{}, fmt.Errorf("images: extensions.txt:%d: malformed line %q", i+1, line)
		}
		if len(f) != 3 {
			return bad()
		}
		if f[0] == "tag" {
			minor, patch, ok := minorOf(f[1])
			if !ok {
				return bad()
			}
			p, _ := strconv.Atoi(patch)
			s.tags[f[1]] = f[2]
			if cur, seen := s.newest[minor]; !seen || p > cur {
				s.newest[minor] = p
			}
			continue
		}
		first, last, found := strings.Cut(f[1], "-")
		a, err := strconv.Atoi(first)
		if err != nil {
			return bad()
		}
		b := -1 // until the newest tag read
		if found {
			if b, err = strconv.Atoi(last); err != nil {
				return bad()
			}
		}
		if s.names[f[0]] == nil {
			s.names[f[0]] = map[string][2]int{}
		}
		s.names[f[0]][f[2]] = [2]int{a, b}
	}
	return s, nil
}

// ExtensionList is the official extensions of one Talos version.
type ExtensionList struct {
	Names []string // sorted
	// Tag is the siderolabs/extensions tag the list is read from: the
	// version's own, or, for a patch newer than the newest tag read, the
	// newest tag of its minor (Exact false).
	Tag   string
	Exact bool
}

// Extensions lists the official system extensions the Image Factory
// offers for a Talos version. The factory reads them from the extensions
// manifest image of that tag (fetchOfficialExtensions,
// internal/artifacts/versions.go:130-156@v0.9.0), whose image-digests
// list every Makefile target of siderolabs/extensions at the tag
// (.kres.yaml:205-216@v1.13.9) as siderolabs/<target>; extensions.txt
// holds those lists for every release tag of the supported minors, pinned
// by commit. A patch release newer than the newest tag read gets that
// tag's list: patch releases have only ever added names (gpio-pinctrl in
// v1.12.2), so a name from a later patch is refused until the file is
// regenerated, never one that would not exist.
func Extensions(talosVersion string) (ExtensionList, error) {
	s, err := extensionData()
	if err != nil {
		return ExtensionList{}, err
	}
	minor, patch, ok := minorOf(talosVersion)
	if !ok {
		return ExtensionList{}, fmt.Errorf("images: Talos version %q: expected vMAJOR.MINOR.PATCH", talosVersion)
	}
	newest, known := s.newest[minor]
	if !known {
		return ExtensionList{}, fmt.Errorf("images: no extension list for Talos %s (extensions.txt has %s): regenerate images/extensions.txt", minor, strings.Join(s.minors(), ", "))
	}
	p, _ := strconv.Atoi(patch)
	l := ExtensionList{Tag: talosVersion, Exact: true}
	if p > newest {
		p, l.Tag, l.Exact = newest, fmt.Sprintf("v%s.%d", minor, newest), false
	}
	for name, r := range s.names[minor] {
		if p >= r[0] && (r[1] < 0 || p <= r[1]) {
			l.Names = append(l.Names, name)
		}
	}
	slices.Sort(l.Names)
	return l, nil
}

func (s extensionSet) minors() []string {
	var out []string
	for m := range s.newest {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// renamed are names the factory still accepts for extensions that were
// renamed (extensionNameAlias, internal/profile/profile.go:299-326@v0.9.0).
// The stack refuses them and names the current one: an alias would make a
// second schematic, and a second AMI, for the same image. (The factory's
// alias of nvidia-fabricmanager names nvidia-fabric-manager-lts, which no
// tag publishes; the extension is nvidia-fabricmanager-lts.)
var renamed = map[string]string{
	"siderolabs/v4l-uvc":                        "siderolabs/v4l-uvc-drivers",
	"siderolabs/usb-modem":                      "siderolabs/usb-modem-drivers",
	"siderolabs/gasket":                         "siderolabs/gasket-driver",
	"siderolabs/talos-vmtoolsd":                 "siderolabs/vmtoolsd-guest-agent",
	"siderolabs/xe-guest-utilities":             "siderolabs/xen-guest-agent",
	"siderolabs/nvidia-container-toolkit":       "siderolabs/nvidia-container-toolkit-lts",
	"siderolabs/nvidia-open-gpu-kernel-modules": "siderolabs/nvidia-open-gpu-kernel-modules-lts",
	"siderolabs/nonfree-kmod-nvidia":            "siderolabs/nonfree-kmod-nvidia-lts",
	"siderolabs/nvidia-fabricmanager":           "siderolabs/nvidia-fabricmanager-lts",
	"siderolabs/i915-ucode":                     "siderolabs/i915",
	"siderolabs/amdgpu-firmware":                "siderolabs/amdgpu",
}
