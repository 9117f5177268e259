package images

import (
	"fmt"
	"strings"
)

// FactoryURL is Sidero Labs' public Image Factory.
const FactoryURL = "https://factory.talos.dev"

// factoryRegistry is the factory's registry host: the host of FactoryURL,
// as terraform-provider-talos derives it (uri.Host,
// pkg/talos/talos_image_factory_urls_data_source.go:278-287@v0.10.1).
const factoryRegistry = "factory.talos.dev"

// Recipe is the revision of how images/ami builds an AMI (image format,
// RegisterImage parameters). It is part of every AMI name, so a change to
// the recipe builds new AMIs instead of reusing ones built the old way.
const Recipe = 1

// AMIName is the content-addressed name of the AMI of a schematic for a
// Talos version, architecture and region: an AMI of that name owned by the
// account was built from exactly that, so `up` looks it up before it
// builds, and a second stack or a re-run reuses it. Sidero names its own
// talos-<tag>-<region>-<arch> (hack/cloud-image-uploader/aws.go:374@v1.13.9);
// this keeps that order, behind a prefix no official name has, and adds
// the full schematic ID (at most 113 characters; EC2 allows 128).
func AMIName(schematicID, talosVersion, region, arch string) string {
	return fmt.Sprintf("talos-aws-r%d-%s-%s-%s-%s", Recipe, talosVersion, region, arch, schematicID)
}

// InstallerImage is machine.install.image for nodes booted from a
// schematic's AMI: the factory's AWS installer of the same schematic and
// Talos version, so an upgrade through the Talos API keeps the
// extensions. The factory serves <platform>-installer/<schematic>:<tag>
// for platform-specific installers and plain installer/ for the metal one
// (getRequestedImage, internal/frontend/http/registry.go:49-78@v0.9.0);
// Talos' documentation upgrades AWS nodes with aws-installer
// (platform-specific-installations/boot-assets.mdx:236-250, docs v1.13),
// and terraform-provider-talos names the same image
// (talos_image_factory_urls_data_source.go:286@v0.10.1).
func InstallerImage(schematicID, talosVersion string) string {
	return fmt.Sprintf("%s/aws-installer/%s:%s", factoryRegistry, schematicID, talosVersion)
}

// DiskImagePath is the factory path of the AWS disk image of a schematic:
// raw, zstd-compressed. The factory takes the platform, architecture, disk
// format and compression from the file name, .raw.zst among them
// (ParseFromPath, internal/profile/profile.go:189-253@v0.9.0; its
// integration test downloads metal-amd64.raw.zst,
// internal/integration/download_test.go:596-604), and sizes an aws image
// from Talos' aws profile: 8 GiB (profile.go:242-251;
// pkg/imager/profile/default.go:18,113-124@v1.13.9, where Sidero's own
// AWS images are .zst too). zstd rather than the documented .raw.xz:
// klauspost/compress/zstd is already compiled into the program (an xz
// decoder would be a new dependency) and it decompresses several times
// faster.
func DiskImagePath(schematicID, talosVersion, arch string) string {
	return fmt.Sprintf("/image/%s/%s/aws-%s.raw.zst", schematicID, talosVersion, arch)
}

// DiskImageGiB is the size of the factory's aws disk image, hence of the
// snapshot: Talos' DefaultRAWDiskSize, 8192 MiB (see DiskImagePath).
const DiskImageGiB = 8

// EC2Arch is EC2's name of a Talos architecture, as Sidero registers its
// AMIs (awsArchitectures, hack/cloud-image-uploader/aws.go:85-88@v1.13.9).
func EC2Arch(arch string) (string, error) {
	switch arch {
	case "amd64":
		return "x86_64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("images: architecture %q: expected amd64 or arm64", arch)
}

// minorOf is "1.13" of "v1.13.9".
func minorOf(talosVersion string) (minor string, patch string, ok bool) {
	v, found := strings.CutPrefix(talosVersion, "v")
	if !found {
		return "", "", false
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return "", "", false
		}
	}
	return parts[0] + "." + parts[1], parts[2], true
}
