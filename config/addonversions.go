package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// MinorAddons are the add-on images released per Kubernetes minor, which a
// stack takes from kubernetesVersion.
type MinorAddons struct {
	// CCMImage is kubernetes/cloud-provider-aws' cloud-controller-manager:
	// each release supports its own Kubernetes minor (docs/README.md,
	// v1.36.1). The newest patch registry.k8s.io serves, per the promotion
	// list (kubernetes/k8s.io registry.k8s.io/images/k8s-staging-provider-aws/
	// images.yaml); 1.35 keeps v1.35.0, what every stack ran before this
	// table, so no running cloud controller manager restarts; 1.36.1 is
	// the newest 1.36 tag (2026-07-15).
	CCMImage string
	// AutoscalerImage is cluster-autoscaler's image tag, set on chart
	// ClusterAutoscalerChartVersion ("" keeps the chart's appVersion, v1.35.0):
	// each release supports its own minor (kubernetes/autoscaler
	// cluster-autoscaler/README.md "Releases"); the newest tag of each
	// (cluster-autoscaler-1.3x.y, version/version.go). Every flag the chart
	// passes exists in each (templates/deployment.yaml at chart 9.59.0).
	AutoscalerImage string
}

// addonsByMinor is MinorAddons for every Kubernetes minor a supported Talos
// line accepts (TestEveryOfferedMinorHasAddons).
var addonsByMinor = map[string]MinorAddons{
	"1.30": {CCMImage: "v1.30.10", AutoscalerImage: "v1.30.7"},
	"1.31": {CCMImage: "v1.31.9", AutoscalerImage: "v1.31.5"},
	"1.32": {CCMImage: "v1.32.8", AutoscalerImage: "v1.32.7"},
	"1.33": {CCMImage: "v1.33.4", AutoscalerImage: "v1.33.6"},
	"1.34": {CCMImage: "v1.34.3", AutoscalerImage: "v1.34.5"},
	"1.35": {CCMImage: "v1.35.0", AutoscalerImage: ""},
	"1.36": {CCMImage: "v1.36.1", AutoscalerImage: "v1.36.1"},
}

// AddonsFor is the MinorAddons of a Kubernetes version (zero for an
// unsupported one, which validation refuses).
func AddonsFor(kubernetesVersion string) MinorAddons {
	return addonsByMinor[k8sMinor(kubernetesVersion)]
}

// Autoscaler is the cluster-autoscaler image tag that runs: AutoscalerImage,
// or the chart's own when that is unset (IAM grants follow it:
// compute.AddAutoscalerPermissions).
func (a MinorAddons) Autoscaler() string {
	if a.AutoscalerImage == "" {
		return ClusterAutoscalerChartImage
	}
	return a.AutoscalerImage
}

// OfferedMinors are the Kubernetes minors the stack offers ("1.30", ...),
// oldest first: those of addonsByMinor, which
// TestEveryOfferedMinorHasAddons holds to the supported Talos lines.
func OfferedMinors() []string {
	minors := make([]string, 0, len(addonsByMinor))
	for m := range addonsByMinor {
		minors = append(minors, m)
	}
	slices.SortFunc(minors, func(a, b string) int { return cmp.Compare(minorNumber(a), minorNumber(b)) })
	return minors
}

func k8sMinor(v string) string {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// testedRange is the Kubernetes minors an add-on at its pinned version is
// documented as tested on by its own project, with the source.
type testedRange struct {
	what     string
	min, max uint64 // 1.min .. 1.max; max 0: no upper bound documented
	source   string
}

// testedRanges: where an add-on's own project tests fewer Kubernetes minors
// than the stack offers, the README's supported-versions table says so.
// (EBS CSI 2.53.0 documents every version Kubernetes supports, README.md;
// the pod identity webhook documents none and is built against client-go
// v0.36.)
var testedRanges = []testedRange{
	{"Cilium " + CiliumChartVersion, 32, 35, "Cilium 1.19 docs, network/kubernetes/compatibility"},
	{"Argo CD 3.4 (chart " + ArgoCDChartVersion + ")", 32, 35, "argo-cd v3.4.4 docs/operator-manual/tested-kubernetes-versions.md"},
	{"Metrics Server 0.8 (chart " + MetricsServerChartVersion + ")", 31, 0, "metrics-server README.md, compatibility matrix"},
	{"aws-node-termination-handler 1.25.6 (chart " + NTHChartVersion + ")", 29, 32, "aws-node-termination-handler v1.25.6 README.md"},
}

// SupportedVersionsMarkdown renders the README's table of what follows each
// Kubernetes minor the stack offers: the Talos lines that accept it, the
// add-on images released for it, and the pinned add-ons whose projects do
// not test it (expected to work, untested upstream).
func SupportedVersionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Kubernetes | Talos | cloud controller manager | cluster autoscaler | pinned add-ons not tested on it by their project |\n|---|---|---|---|---|\n")
	for _, m := range OfferedMinors() {
		var lines []string
		for _, l := range talosLines {
			if n := minorNumber(m); n >= l.min.Minor && n <= l.max.Minor {
				lines = append(lines, l.minor)
			}
		}
		a := addonsByMinor[m]
		ca := a.Autoscaler()
		if a.AutoscalerImage == "" {
			ca += " (chart " + ClusterAutoscalerChartVersion + "'s own)"
		}
		var untested []string
		for _, r := range testedRanges {
			if n := minorNumber(m); n < r.min || (r.max > 0 && n > r.max) {
				untested = append(untested, r.what)
			}
		}
		if len(untested) == 0 {
			untested = []string{"none"}
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | `%s` | %s |\n", m, strings.Join(lines, ", "), a.CCMImage, ca, strings.Join(untested, "; "))
	}
	b.WriteString("\nWhere each add-on's project says which Kubernetes versions it tests:\n\n")
	for _, r := range testedRanges {
		span := fmt.Sprintf("1.%d and newer", r.min)
		if r.max > 0 {
			span = fmt.Sprintf("1.%d-1.%d", r.min, r.max)
		}
		fmt.Fprintf(&b, "- %s: %s (%s)\n", r.what, span, r.source)
	}
	return b.String()
}

func minorNumber(m string) uint64 {
	var n uint64
	_, _ = fmt.Sscanf(m, "1.%d", &n)
	return n
}
