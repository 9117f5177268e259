package program

import (
	"context"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/images/ami"
)

// AMIBuilder finds and builds the AMIs of image keys (images/ami.Builder).
type AMIBuilder interface {
	// Name is a request's AMI name; it contacts nothing.
	Name(r ami.Request) string
	// Find looks the AMI up (DescribeImages) and builds nothing.
	Find(ctx context.Context, r ami.Request) (imageID string, found bool, err error)
	// Ensure returns the AMI, building it when the account has none.
	Ensure(ctx context.Context, r ami.Request) (ami.Result, error)
}

// amiBuilderFor is the real Deps.AMIBuilder: a builder acting as the
// stack's AWS provider does, whose progress goes to `up`'s log.
func amiBuilderFor(ctx *pulumi.Context, cfg *config.Config) (AMIBuilder, error) {
	return ami.ForStack(ctx.Context(), cfg.Region, cfg.AWS, func(p ami.Progress) {
		_ = ctx.Log.Info(progressLine(p), nil)
	})
}

// progressLine is a build's progress as `up` logs it.
func progressLine(p ami.Progress) string {
	s := fmt.Sprintf("AMI %s: %s", p.Name, p.Phase)
	if p.Done > 0 || p.Total > 0 {
		if p.Total > 0 {
			s += fmt.Sprintf(", %d of %d MB", p.Done>>20, p.Total>>20)
		} else {
			s += fmt.Sprintf(", %d MB", p.Done>>20)
		}
	}
	if p.BlocksWritten > 0 || p.BlocksSkipped > 0 {
		s += fmt.Sprintf(", %d blocks written, %d zero blocks skipped", p.BlocksWritten, p.BlocksSkipped)
	}
	s += fmt.Sprintf(", %s elapsed", p.Elapsed.Round(time.Second))
	if p.ETA > 0 {
		s += fmt.Sprintf(", about %s left", p.ETA.Round(time.Second))
	}
	return s
}

// imageAMIs are the AMIs of the roles that run an image key, by
// config.ControlPlaneKey and pool name; one lookup or build per
// (schematic, architecture), shared by the roles that run it. Roles
// without an image are not in it: they boot the official AMI.
//
// A preview builds nothing: it looks the AMI up (read-only) and shows its
// id when the account has it, else leaves it unknown and says which AMI
// `up` will build. `up` ensures it (found, or built now) inside an apply,
// which registers no resource: the launch templates take its id.
func imageAMIs(ctx *pulumi.Context, cfg *config.Config, d Deps) (map[string]pulumi.StringInput, error) {
	if !cfg.UsesImages() {
		return nil, nil
	}
	if d.AMIBuilder == nil {
		return nil, fmt.Errorf("the image key needs an AMI builder, and this run has none")
	}
	b, err := d.AMIBuilder(ctx, cfg)
	if err != nil {
		return nil, err
	}
	type key struct {
		schematic string
		arch      config.Arch
	}
	byKey := map[key]pulumi.StringInput{}
	out := map[string]pulumi.StringInput{}
	role := func(name string, spec images.Spec, arch config.Arch) {
		if spec.IsZero() {
			return
		}
		k := key{spec.Schematic().ID(), arch}
		if _, ok := byKey[k]; !ok {
			byKey[k] = amiOf(ctx, b, ami.Request{Spec: spec, TalosVersion: cfg.TalosVersion, Arch: string(arch)}, cfg.Region)
		}
		out[name] = byKey[k]
	}
	role(config.ControlPlaneKey, cfg.Image, cfg.ControlPlane.Arch)
	for _, p := range cfg.WorkerPools {
		role(p.Name, cfg.ImageOf(p), p.Arch)
	}
	return out, nil
}

// amiOf is one AMI: found or pending in a preview, ensured in `up`.
func amiOf(ctx *pulumi.Context, b AMIBuilder, r ami.Request, region string) pulumi.StringInput {
	name := b.Name(r)
	schematic := r.Spec.Schematic().ID()
	if ctx.DryRun() {
		id, found, err := b.Find(ctx.Context(), r)
		switch {
		case err != nil:
			_ = ctx.Log.Warn(fmt.Sprintf("images: could not look up AMI %s in %s (%v); `pulumi up` looks it up again and builds it if the account has none", name, region, err), nil)
		case found:
			_ = ctx.Log.Info(fmt.Sprintf("images: AMI %s (Image Factory schematic %s) exists in %s: %s", name, schematic, region, id), nil)
			return pulumi.String(id)
		default:
			_ = ctx.Log.Info(fmt.Sprintf("images: AMI %s does not exist in %s yet: `pulumi up` builds it, once, from Image Factory schematic %s (Talos %s, %s; %s), then launches the nodes that run it",
				name, region, schematic, r.TalosVersion, r.Arch, extensionsOf(r.Spec)), nil)
		}
		return pulumi.UnsafeUnknownOutput(nil).ApplyT(func(any) string { return "" }).(pulumi.StringOutput)
	}
	return pulumi.String(name).ToStringOutput().ApplyTWithContext(ctx.Context(), func(c context.Context, n string) (string, error) {
		res, err := b.Ensure(c, r)
		if err != nil {
			return "", err
		}
		if res.Built {
			_ = ctx.Log.Info(fmt.Sprintf("images: built AMI %s (%s) in %s: %d MB stored in snapshot %s", n, res.ImageID, res.Elapsed.Round(time.Second), res.StoredBytes>>20, res.SnapshotID), nil)
		} else {
			_ = ctx.Log.Info(fmt.Sprintf("images: AMI %s exists: %s", n, res.ImageID), nil)
		}
		return res.ImageID, nil
	}).(pulumi.StringOutput)
}

func extensionsOf(s images.Spec) string {
	out := fmt.Sprintf("extensions %v", s.Schematic().Extensions)
	if len(s.ExtraKernelArgs) > 0 {
		out += fmt.Sprintf(", kernel arguments %v", s.ExtraKernelArgs)
	}
	return out
}
