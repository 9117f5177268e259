package config

import (
	"fmt"

	"github.com/talos-aws/talos-aws/images"
)

// validateImages checks the image keys (the cluster's, and each pool's
// own) through images.ValidateSpec, and each node group's instance types
// against the image it runs (images.ValidateGroup: NVIDIA GPUs need the
// NVIDIA extensions), every problem at its key path.
//
// One exception keeps existing stacks deploying: a group of a deployed
// stack that runs no image of its own choosing (its image is zero, so it
// boots the official AMI as it always has) gets the GPU findings as
// warnings. Its GPUs were unusable before too; making them an error would
// stop every `up` of that stack until its pools roll onto a new AMI.
func validateImages(c *Config, errs *ErrorList, w *Warnings, skip map[string]bool) {
	if errs.Has("talosVersion") {
		return // the extension lists are per version
	}
	report := func(problems []images.Problem) {
		for _, p := range problems {
			*errs = append(*errs, FieldError{Type: ErrorType(p.Kind), Path: p.Path, Value: p.Value, Detail: p.Detail})
		}
	}
	if !skip["image"] {
		report(images.ValidateSpec("image", c.Image, c.TalosVersion))
	}
	group := func(g images.Group) {
		problems, warnings := images.ValidateGroup(g)
		for _, s := range warnings {
			*w = append(*w, s)
		}
		if c.deployed.Exists && g.Spec.IsZero() {
			for _, p := range problems {
				w.Add(p.Path, "%s (a warning, not an error, while this stack's nodes boot the official AMI: its GPUs had no driver before either)", p.Detail)
			}
			return
		}
		report(problems)
	}
	if !skip["controlPlane"] && !skip["image"] {
		group(images.Group{ImagePath: "image", Spec: c.Image,
			Types: []images.InstanceType{{Path: "controlPlane.instanceType", Name: c.ControlPlane.InstanceType}}})
	}
	if skip["workerPools"] {
		return
	}
	for i, p := range c.WorkerPools {
		path := fmt.Sprintf("workerPools[%d]", i)
		if skip[path] {
			continue
		}
		if p.Image != nil {
			report(images.ValidateSpec(path+".image", *p.Image, c.TalosVersion))
		} else if skip["image"] {
			continue
		}
		// Inherited: the pool runs a cluster image it does not set, which
		// the message then says a pool's own image replaces.
		g := images.Group{ImagePath: path + ".image", Spec: c.ImageOf(p), Inherited: p.Image == nil && !c.Image.IsZero()}
		for j, it := range p.InstanceTypes {
			g.Types = append(g.Types, images.InstanceType{Path: fmt.Sprintf("%s.instanceTypes[%d]", path, j), Name: it})
		}
		group(g)
	}
	validateImageAMIs(c, errs)
}

// validateImageAMIs refuses an explicit AMI for an architecture a group
// with an image runs on: the AMI would boot without the image's
// extensions while its machine configuration names the image's installer.
func validateImageAMIs(c *Config, errs *ErrorList) {
	override := map[Arch]string{ArchAMD64: c.AMIAMD64, ArchARM64: c.AMIARM64}
	key := map[Arch]string{ArchAMD64: "amiIdAmd64", ArchARM64: "amiIdArm64"}
	used := map[Arch]string{}
	if !c.Image.IsZero() {
		used[c.ControlPlane.Arch] = "image"
	}
	for i, p := range c.WorkerPools {
		if _, ok := used[p.Arch]; !ok && !c.ImageOf(p).IsZero() {
			used[p.Arch] = fmt.Sprintf("workerPools[%d].image", i)
			if p.Image == nil {
				used[p.Arch] = "image"
			}
		}
	}
	for _, a := range []Arch{ArchAMD64, ArchARM64} {
		if by, ok := used[a]; ok && override[a] != "" {
			errs.Forbidden(key[a], fmt.Sprintf("%s nodes run the image of %s, whose AMI the stack builds with its extensions; an explicit AMI would boot without them: unset %s, or remove %s", a, by, key[a], by))
		}
	}
}
