package talos

import (
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
)

// Image is what a role's machine configuration takes from the image its
// nodes run (config image keys): machine.install.image and the companion
// patches its extensions need. The zero Image is a role without one: the
// official installer, no patch, the configuration it always had.
type Image struct {
	// Installer is machine.install.image; "" for InstallerImage.
	Installer string
	// Patches are images.MachinePatches, applied after the stack's own
	// patches and before a pool's configPatches.
	Patches []string
}

// ImageFor is the Image of a role that runs spec on talosVersion: the
// Image Factory's installer of spec's schematic (so a Talos API upgrade
// keeps the extensions) and its extensions' companion patches; zero for a
// zero spec, so such roles render byte for byte as before.
func ImageFor(talosVersion string, spec images.Spec) Image {
	if spec.IsZero() {
		return Image{}
	}
	return Image{
		Installer: images.InstallerImage(spec.Schematic().ID(), talosVersion),
		Patches:   images.MachinePatches(talosVersion, spec),
	}
}

// ControlPlaneImage is the control plane's: the cluster's image key.
func ControlPlaneImage(cfg *config.Config) Image { return ImageFor(cfg.TalosVersion, cfg.Image) }

// PoolImage is a pool's: its own image key, else the cluster's.
func PoolImage(cfg *config.Config, pool config.WorkerPool) Image {
	return ImageFor(cfg.TalosVersion, cfg.ImageOf(pool))
}
