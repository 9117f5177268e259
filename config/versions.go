package config

import (
	"fmt"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/siderolabs/talos/pkg/machinery/compatibility"
	"github.com/siderolabs/talos/pkg/machinery/compatibility/talos112"
	"github.com/siderolabs/talos/pkg/machinery/compatibility/talos113"
)

// Versions of stacks deployed before this project recorded the versions
// their nodes run: the defaults it had then. An existing stack that never
// set talosVersion or kubernetesVersion runs these.
const (
	LegacyTalosVersion      = "v1.12.11"
	LegacyKubernetesVersion = "1.35.10"
)

// talosLine is one Talos minor the stack renders configurations for, with
// the Kubernetes range Talos' machinery allows on it (pkg/machinery/
// compatibility/talos1xx, machinery v1.13.9): the same tables Talos checks
// an upgrade with.
type talosLine struct {
	minor    string
	min, max semver.Version
}

var talosLines = []talosLine{
	{"1.12", talos112.MinimumKubernetesVersion, talos112.MaximumKubernetesVersion},
	{"1.13", talos113.MinimumKubernetesVersion, talos113.MaximumKubernetesVersion},
}

// TalosLine is one supported Talos minor and the Kubernetes versions it
// takes, for the reference.
type TalosLine struct {
	Minor      string // "1.13"
	Kubernetes string // "1.31.0-1.36.x"
}

// TalosLines lists the supported Talos minors, oldest first.
func TalosLines() []TalosLine {
	out := make([]TalosLine, 0, len(talosLines))
	for _, l := range talosLines {
		out = append(out, TalosLine{Minor: l.minor, Kubernetes: l.k8sRange()})
	}
	return out
}

// supportedTalosMinors lists talosLines' minors.
func supportedTalosMinors() []string {
	out := make([]string, 0, len(talosLines))
	for _, l := range talosLines {
		out = append(out, l.minor)
	}
	return out
}

func lineOf(talosVersion string) (talosLine, bool) {
	for _, l := range talosLines {
		if strings.HasPrefix(talosVersion, "v"+l.minor+".") {
			return l, true
		}
	}
	return talosLine{}, false
}

// k8sRange is the range a Talos line accepts, as the error shows it
// (1.31.0-1.36.x: machinery's maximum is 1.36.99).
func (l talosLine) k8sRange() string {
	return fmt.Sprintf("%d.%d.%d-%d.%d.x", l.min.Major, l.min.Minor, l.min.Patch, l.max.Major, l.max.Minor)
}

// k8sRangesText lists each line's Kubernetes range, for the reference.
func k8sRangesText() string {
	var out []string
	for _, l := range talosLines {
		out = append(out, "Talos "+l.minor+": "+l.k8sRange())
	}
	return strings.Join(out, "; ")
}

// supportedK8sRange is the Kubernetes range of talosVersion's line, for
// error messages.
func supportedK8sRange(talosVersion string) string {
	l, ok := lineOf(talosVersion)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s (supported by Talos %s)", l.k8sRange(), talosVersion)
}

// rejectedTalosMinors say why a Talos minor the stack does not render for
// is refused, and what to do instead.
var rejectedTalosMinors = map[string]string{
	"1.10": "talos-aws renders machine configurations with Talos machinery v1.13.9, for Talos 1.12 and 1.13 only; move a 1.10 stack to v1.12.x first with the talos-aws release before this one (it rendered 1.10-1.12), then upgrade talos-aws",
	"1.11": "talos-aws renders machine configurations with Talos machinery v1.13.9, for Talos 1.12 and 1.13 only; move a 1.11 stack to v1.12.x first with the talos-aws release before this one (it rendered 1.10-1.12), then upgrade talos-aws",
	"1.14": "Talos 1.14 moves the Kubernetes settings into new documents (KubeAPIServerConfig, KubeServiceAccountConfig, KubeNodeConfig, ...) that no Talos machinery this project can pin (v1.13.9 is the newest served) renders or validates, and it no longer publishes ghcr.io/siderolabs/installer; until then its configurations cannot be checked before a node boots them (README.md#supported-versions)",
}

// Deployed is what the stack's last `up` recorded about its cluster (the
// stack's own outputs, read back through a stack reference): zero for a
// stack never deployed.
type Deployed struct {
	// Exists: the stack has been deployed (it has outputs).
	Exists bool
	// TalosVersion and KubernetesVersion its nodes run; "" when the last
	// `up` was by a release of this project that did not record them.
	TalosVersion      string
	KubernetesVersion string
	// ClusterEndpoint is the cluster endpoint URL its nodes were given.
	ClusterEndpoint string
}

// resolveVersion is the value of talosVersion or kubernetesVersion when the
// stack does not set it: the default for a new stack; for an existing one,
// what its nodes run (recorded, or the default of the release that deployed
// it), so that taking a new release of this project never upgrades a
// cluster by itself. The warning says how to upgrade.
func resolveVersion(key, set string, d Deployed, recorded, legacy, def string, w *Warnings) string {
	if set != "" {
		return set
	}
	if !d.Exists {
		return def
	}
	running, how := recorded, "recorded by its last `up`"
	if running == "" {
		running, how = legacy, "the default of the talos-aws release that deployed it"
	}
	if running != def {
		w.Add(key, "not set: this existing stack keeps %s (%s); new stacks get %s. Set %s to upgrade (docs/operations.md#upgrade-talos-and-kubernetes)", running, how, def, key)
	}
	return running
}

// validateVersions checks talosVersion and kubernetesVersion: each a
// supported version, Kubernetes within the Talos line's range, and, for an
// existing stack, an upgrade the cluster can take in one `up`.
func validateVersions(c *Config, d Deployed, errs *ErrorList) {
	var talos *compatibility.TalosVersion
	if m := talosVersionRe.FindStringSubmatch(c.TalosVersion); m == nil {
		errs.Invalid("talosVersion", c.TalosVersion, "must be vMAJOR.MINOR.PATCH, e.g. "+DefaultTalosVersion)
	} else if why, ok := rejectedTalosMinors["1."+m[1]]; ok {
		*errs = append(*errs, FieldError{Type: ErrNotSupported, Path: "talosVersion", Value: c.TalosVersion,
			Detail: fmt.Sprintf("allowed values: %s; %s", quotedMinors(), why)})
	} else if !contains(supportedTalosMinors(), "1."+m[1]) {
		errs.NotSupported("talosVersion", c.TalosVersion, minorPatterns())
	} else if tv, err := compatibility.ParseTalosVersion(talosVersionInfo(c.TalosVersion)); err != nil {
		errs.Invalid("talosVersion", c.TalosVersion, err.Error())
	} else {
		talos = tv
	}
	if !k8sVersionRe.MatchString(c.KubernetesVersion) {
		errs.Invalid("kubernetesVersion", c.KubernetesVersion, "must be MAJOR.MINOR.PATCH without a leading v, e.g. "+DefaultKubernetesVersion)
		return
	}
	k8s, err := compatibility.ParseKubernetesVersion(c.KubernetesVersion)
	if err != nil {
		errs.Invalid("kubernetesVersion", c.KubernetesVersion, err.Error())
		return
	}
	if talos != nil {
		if err := k8s.SupportedWith(talos); err != nil {
			errs.NotSupported("kubernetesVersion", c.KubernetesVersion, []string{supportedK8sRange(c.TalosVersion)})
		}
	}
	validateUpgrade(c, d, talos, errs)
}

// validateUpgrade refuses what one `up` cannot do to a running cluster. The
// control plane rolls one node at a time, so old and new API servers serve
// side by side: Kubernetes allows them one minor apart and no minor
// downgrade (Kubernetes version skew policy, kube-apiserver), and a Talos
// version takes the nodes its upgrade path accepts
// (compatibility.TalosVersion.UpgradeableFrom: the new nodes join the old
// ones' etcd).
func validateUpgrade(c *Config, d Deployed, talos *compatibility.TalosVersion, errs *ErrorList) {
	if d.KubernetesVersion != "" {
		from, err1 := semver.ParseTolerant(d.KubernetesVersion)
		to, err2 := semver.ParseTolerant(c.KubernetesVersion)
		switch {
		case err1 != nil || err2 != nil:
		case to.Major == from.Major && to.Minor > from.Minor+1:
			errs.Invalid("kubernetesVersion", c.KubernetesVersion, fmt.Sprintf(
				"the cluster runs Kubernetes %s: one `up` moves one minor (old and new API servers serve side by side while the control plane rolls, and may be one minor apart); set %d.%d.x first, then %s",
				d.KubernetesVersion, from.Major, from.Minor+1, c.KubernetesVersion))
		case to.Major == from.Major && to.Minor < from.Minor:
			errs.Invalid("kubernetesVersion", c.KubernetesVersion, fmt.Sprintf(
				"the cluster runs Kubernetes %s: Kubernetes does not support going back a minor (its API objects are stored in the newer versions); allowed: %d.%d.x or newer",
				d.KubernetesVersion, from.Major, from.Minor))
		}
	}
	if d.TalosVersion != "" && talos != nil {
		from, err := compatibility.ParseTalosVersion(talosVersionInfo(d.TalosVersion))
		if err == nil {
			if err := talos.UpgradeableFrom(from); err != nil {
				errs.Invalid("talosVersion", c.TalosVersion, fmt.Sprintf("the cluster runs Talos %s: %v (Talos' upgrade path)", d.TalosVersion, err))
			}
		}
	}
}

func minorPatterns() []string {
	var out []string
	for _, m := range supportedTalosMinors() {
		out = append(out, "v"+m+".x")
	}
	return out
}

func quotedMinors() string {
	var out []string
	for _, m := range minorPatterns() {
		out = append(out, fmt.Sprintf("%q", m))
	}
	return strings.Join(out, ", ")
}

// UEFIOnly reports whether the official AMIs of a Talos version boot UEFI
// only. Sidero registers its AMIs with BootMode uefi-preferred up to 1.12
// and uefi from 1.13 (hack/cloud-image-uploader/aws.go RegisterImage,
// v1.12.11 and v1.13.9).
func UEFIOnly(talosVersion string) bool {
	l, ok := lineOf(talosVersion)
	return ok && l.minor != "1.12"
}

// noUEFI explains why an instance type cannot boot a UEFI-only AMI, or "".
// The EC2 User Guide ("Requirements to launch an EC2 instance in UEFI boot
// mode", "Instances built on the AWS Nitro System"): Graviton types boot
// UEFI; Intel and AMD types do on the Nitro System, except bare metal, DL1,
// G4ad, P4, u-*tb1 and VT1; Xen-based families boot legacy BIOS only.
func noUEFI(instanceType string) string {
	family, size, _ := strings.Cut(instanceType, ".")
	if a, _ := InstanceArch(instanceType); a == ArchARM64 {
		return ""
	}
	switch {
	case contains(xenFamilies, family) && size != "metal":
		return "a Xen-based family, which boots legacy BIOS only"
	case size == "metal" || strings.HasPrefix(size, "metal-"):
		return "bare metal, which boots legacy BIOS only"
	case contains([]string{"dl1", "g4ad", "p4d", "p4de", "vt1"}, family):
		return "one of the Nitro families EC2 lists without UEFI (DL1, G4ad, P4, VT1)"
	case strings.HasPrefix(family, "u-") && strings.HasSuffix(family, "tb1"):
		return "one of the Nitro families EC2 lists without UEFI (u-*tb1)"
	}
	return ""
}

// xenFamilies are the EC2 families on the Xen hypervisor (EC2 User Guide,
// previous-generation and Xen-based instance types; i3.metal and p3dn are
// Nitro). t1, m1, m2 and c1 are refused already: paravirtual only.
var xenFamilies = []string{"c3", "c4", "d2", "f1", "g2", "g3", "g3s", "h1", "i2", "i3", "m3", "m4", "p2", "p3", "r3", "r4", "t2", "x1", "x1e", "cc2", "cr1", "hs1", "hi1", "cg1"}

// validateBootMode refuses, at path, an instance type that cannot boot the
// AMIs it launches: the official AMIs of talosVersion, or, when the role
// runs an image key (built), the AMI `up` builds, which is registered UEFI
// only whatever the version (images/ami registers as Sidero's uploader
// does at v1.13.9).
func validateBootMode(path, instanceType, talosVersion string, amiOverride, built bool, errs *ErrorList) {
	if amiOverride || !built && !UEFIOnly(talosVersion) {
		return
	}
	why := noUEFI(instanceType)
	switch {
	case why == "":
	case built:
		errs.Invalid(path, instanceType, fmt.Sprintf(
			"the AMI `up` builds for this role's image boots UEFI only and this type is %s; use a Nitro type such as m7i.large", why))
	default:
		errs.Invalid(path, instanceType, fmt.Sprintf(
			"Talos %s's official AMIs boot UEFI only and this type is %s; use a Nitro type such as m7i.large (or stay on Talos v1.12.x, whose AMIs also boot legacy BIOS)",
			talosVersion, why))
	}
}

// validateBootModes checks every instance type against the boot mode of the
// AMIs it will launch (none when the stack names its own AMI for the arch).
func validateBootModes(c *Config, errs *ErrorList, skip map[string]bool) {
	override := func(a Arch) bool {
		return (a == ArchAMD64 && c.AMIAMD64 != "") || (a == ArchARM64 && c.AMIARM64 != "")
	}
	if !skip["controlPlane"] {
		validateBootMode("controlPlane.instanceType", c.ControlPlane.InstanceType, c.TalosVersion, override(c.ControlPlane.Arch), !c.Image.IsZero(), errs)
	}
	if skip["workerPools"] {
		return
	}
	for i, p := range c.WorkerPools {
		for j, it := range p.InstanceTypes {
			validateBootMode(fmt.Sprintf("workerPools[%d].instanceTypes[%d]", i, j), it, c.TalosVersion, override(p.Arch), !c.ImageOf(p).IsZero(), errs)
		}
	}
}
