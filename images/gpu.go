package images

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// GPU is what an EC2 instance type's accelerators mean for its image.
type GPU struct {
	// NVIDIA: the type has NVIDIA GPUs.
	NVIDIA bool
	// PreTuring: they are Kepler, Maxwell or Volta (g2, g3, g3s, p2, p3,
	// p3dn), which NVIDIA's open kernel modules do not drive: NVIDIA says
	// to keep the proprietary driver for Maxwell, Pascal and Volta
	// ("NVIDIA Transitions Fully Towards Open-Source GPU Kernel Modules",
	// which Talos' guide links, nvidia-gpu.mdx:36, docs v1.13).
	PreTuring bool
	// NVSwitch: the GPUs are joined by NVLink through NVSwitches (p4d,
	// p4de, p5, p5e, p5en, p6-*), where Talos' guide adds the fabric
	// manager extension (nvidia-fabricmanager.mdx:14-30, docs v1.13: "GPUs
	// that have nvlink support (for eg: A100)").
	NVSwitch bool
}

var nvidiaFamily = regexp.MustCompile(`^(g|gr|p)[0-9]`)

// GPUOf classifies an instance type by its family, the part before the
// dot: the g, gr and p families are NVIDIA's, except g4ad (AMD Radeon
// Pro); inf, trn, dl, f and vt (Inferentia, Trainium, Gaudi, FPGAs,
// Xilinx) have no GPU Talos' NVIDIA extensions drive.
func GPUOf(instanceType string) GPU {
	family, _, _ := strings.Cut(instanceType, ".")
	if !nvidiaFamily.MatchString(family) || family == "g4ad" {
		return GPU{}
	}
	g := GPU{NVIDIA: true}
	switch family {
	case "g2", "g3", "g3s", "p2", "p3", "p3dn":
		g.PreTuring = true
	case "p4d", "p4de":
		g.NVSwitch = true
	default:
		g.NVSwitch = strings.HasPrefix(family, "p5") || strings.HasPrefix(family, "p6")
	}
	return g
}

// The NVIDIA extensions, by driver branch (lts or production; each
// release's extensions build both, nvidia-gpu/vars.yaml@v1.13.9). A node
// needs one kernel-module flavor and the container toolkit of the same
// branch: "Make sure the driver version matches for both"
// (nvidia-gpu.mdx:24, docs v1.12 and v1.13).
var (
	nvidiaBranches = []string{"lts", "production"}
	openModules    = "siderolabs/nvidia-open-gpu-kernel-modules-"
	nonfreeModules = "siderolabs/nonfree-kmod-nvidia-"
	toolkit        = "siderolabs/nvidia-container-toolkit-"
	fabricManager  = "siderolabs/nvidia-fabricmanager-"
)

// nvidiaSet is which NVIDIA extensions a spec has.
type nvidiaSet struct {
	modules  []string // the kernel-module extensions
	open     bool     // one of them is the open flavor
	branches []string // the branches of the modules
	toolkits []string // the branches of the toolkits
	fabric   []string // the branches of the fabric managers
}

func nvidiaOf(s Spec) nvidiaSet {
	var n nvidiaSet
	for _, e := range s.Extensions {
		for _, b := range nvidiaBranches {
			switch e {
			case openModules + b:
				n.modules, n.open, n.branches = append(n.modules, e), true, append(n.branches, b)
			case nonfreeModules + b:
				n.modules, n.branches = append(n.modules, e), append(n.branches, b)
			case toolkit + b:
				n.toolkits = append(n.toolkits, b)
			case fabricManager + b:
				n.fabric = append(n.fabric, b)
			}
		}
	}
	return n
}

// HasNVIDIA reports whether a spec installs NVIDIA's kernel modules, the
// extensions that need the companion configuration (MachinePatches) and
// the cluster add-ons (NVIDIAAddons).
func (s Spec) HasNVIDIA() bool { return len(nvidiaOf(s).modules) > 0 }

// InstanceType is one instance type of a node group, with its key path
// (workerPools[1].instanceTypes[0], controlPlane.instanceType).
type InstanceType struct {
	Path string
	Name string
}

// Group is a node group as the GPU check sees it.
type Group struct {
	// ImagePath is the group's own image key (workerPools[1].image; for
	// the control plane, the cluster's: image), where a fix goes, even if
	// the group has none and runs the cluster's.
	ImagePath string
	// Spec is the image in effect; Inherited says it is the cluster's.
	Spec      Spec
	Inherited bool
	Types     []InstanceType
}

// ValidateGroup checks that a group's image drives its GPUs: a group on
// NVIDIA instance types needs the kernel modules (open, or proprietary
// for pre-Turing GPUs), the container toolkit of the same branch and, on
// NVSwitch types, the fabric manager; its instance types are all NVIDIA
// or none. Warnings: NVIDIA modules on a group without NVIDIA GPUs, which
// fail to load there.
func ValidateGroup(g Group) (problems []Problem, warnings []string) {
	var nv, other []InstanceType
	preTuring, nvswitch := false, false
	for _, t := range g.Types {
		gpu := GPUOf(t.Name)
		if !gpu.NVIDIA {
			other = append(other, t)
			continue
		}
		nv = append(nv, t)
		preTuring = preTuring || gpu.PreTuring
		nvswitch = nvswitch || gpu.NVSwitch
	}
	set := nvidiaOf(g.Spec)
	if len(nv) == 0 {
		if len(set.modules) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s.extensions: %s on instance types without NVIDIA GPUs (%s): the modules will fail to load there", g.ImagePath, strings.Join(set.modules, ", "), names(g.Types)))
		}
		return nil, warnings
	}
	for _, t := range other {
		problems = append(problems, Problem{Kind: Forbidden, Path: t.Path, Value: t.Name, Detail: fmt.Sprintf("%s %s NVIDIA GPUs and %s has none: give it its own pool", names(nv), have(nv), t.Name)})
	}
	where := g.ImagePath + ".extensions"
	inherited := ""
	if g.Inherited {
		inherited = " (the group runs the cluster's image; a pool's own image replaces it, so list the cluster's extensions there too)"
	}
	branch := "lts"
	if len(set.branches) > 0 {
		branch = set.branches[0]
	}
	modules := openModules + branch
	if preTuring {
		modules = nonfreeModules + branch
	}
	var missing []string
	switch {
	case len(set.modules) == 0:
		missing = append(missing, modules)
	case len(set.modules) > 1:
		problems = append(problems, Problem{Kind: Invalid, Path: where, Value: set.modules, Detail: "one NVIDIA kernel-module extension, not several"})
	case preTuring && set.open:
		problems = append(problems, Problem{Kind: Invalid, Path: where, Value: set.modules[0], Detail: fmt.Sprintf("%s %s GPUs older than Turing, which the open kernel modules do not drive: use %s", names(nv), have(nv), nonfreeModules+branch)})
	}
	if !slices.Contains(set.toolkits, branch) {
		missing = append(missing, toolkit+branch)
	}
	if nvswitch && !slices.Contains(set.fabric, branch) {
		missing = append(missing, fabricManager+branch)
	}
	for _, b := range set.toolkits {
		if b != branch {
			problems = append(problems, Problem{Kind: Invalid, Path: where, Value: toolkit + b, Detail: fmt.Sprintf("the container toolkit's driver branch must be the kernel modules' (%s): use %s", branch, toolkit+branch)})
		}
	}
	if len(missing) > 0 {
		problems = append(problems, Problem{Kind: Required, Path: where, Detail: fmt.Sprintf("%s %s NVIDIA GPUs, which need %s: add %s%s",
			names(nv), have(nv), strings.Join(missing, " and "), strings.Join(quote(missing), ", "), inherited)})
	}
	return problems, warnings
}

// have is "has" for one instance type, "have" for several.
func have(ts []InstanceType) string {
	if len(ts) == 1 {
		return "has"
	}
	return "have"
}

func names(ts []InstanceType) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Path+" "+t.Name)
	}
	return strings.Join(out, ", ")
}
