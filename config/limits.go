package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits that AWS, Kubernetes and Talos enforce at apply time, checked here
// so `pulumi preview` fails instead of a half-created stack. Each constant
// names its source.
const (
	// kube-apiserver: an IPv4 service range may have at most 20 host bits
	// (kubernetes v1.35 cmd/kube-apiserver/app/options/validation.go,
	// validateClusterIPFlags: maxCIDRBits = 20).
	minServicePrefix = 12
	// kube-controller-manager gives each node a /24 of the pod range unless
	// --node-cidr-mask-size-ipv4 says otherwise (kubernetes v1.35
	// cmd/kube-controller-manager/app/core.go, defaultNodeMaskCIDRIPv4 = 24);
	// Talos 1.12 runs it with --allocate-node-cidrs=true and no mask flag
	// (internal/app/machined/pkg/controllers/k8s/control_plane_static_pod.go),
	// and Cilium runs with ipam.mode=kubernetes (addons/values.go).
	NodeCIDRMask = 24
	// AWS: 50 user tags per resource (EC2 "Tag restrictions", IAM "Tagging
	// IAM resources", ELB, and Auto Scaling "Tags per Auto Scaling group").
	MaxTagsPerResource = 50
	// AWS VPC quotas: 60 inbound rules per security group (default, per
	// address family); each CIDR of a rule counts as one rule.
	MaxSGInboundRules = 60
	// Amazon EBS volume types (gp3): 3,000-16,000 IOPS, 125-1,000 MiB/s,
	// at most 500 IOPS per GiB and 0.25 MiB/s per provisioned IOPS.
	gp3MinIOPS       = 3000
	gp3MaxIOPS       = 16000
	gp3MinThroughput = 125
	gp3MaxThroughput = 1000
	gp3IOPSPerGiB    = 500
	// io1: 100-64,000 IOPS, 50 IOPS per GiB; io2: 100-256,000, 500 per GiB.
	ioMinIOPS = 100
)

// Provisioned IOPS of io1 and io2 volumes: per GiB and in all (Amazon EBS
// volume types).
var (
	ioIOPSPerGiB = map[string]int{"io1": 50, "io2": 500}
	ioMaxIOPS    = map[string]int{"io1": 64000, "io2": 256000}
)

// AutoscalerLabelTagPrefix and AutoscalerTaintTagPrefix prefix the cluster
// autoscaler's node-template tags on a pool's Auto Scaling Group (the
// label or taint key follows; see compute.AutoscalerTags).
const (
	AutoscalerLabelTagPrefix = "k8s.io/cluster-autoscaler/node-template/label/"
	AutoscalerTaintTagPrefix = "k8s.io/cluster-autoscaler/node-template/taint/"
)

// The characters AWS accepts in tag keys and values on every service this
// stack tags (IAM is the strictest: Tag.Key/Value pattern
// [\p{L}\p{Z}\p{N}_.:/=+\-@]*, the same set EC2 and ELB document).
var tagCharsRe = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

const tagCharsDetail = "AWS tags allow only letters, digits, spaces and _ . : / = + - @"

// isPrivate reports RFC 1918 and RFC 6598 (carrier-grade NAT) ranges.
func isPrivate(p netip.Prefix) bool {
	for _, r := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"} {
		if netip.MustParsePrefix(r).Overlaps(p) && p.Bits() >= netip.MustParsePrefix(r).Bits() {
			return true
		}
	}
	return false
}

// MaxNodes is the most nodes the configuration allows at once.
func (c *Config) MaxNodes() int {
	n := c.ControlPlane.Count
	for _, p := range c.WorkerPools {
		n += p.MaxSize
	}
	return n
}

// validatePodCapacity: every node needs its own /24 of the pod range.
func validatePodCapacity(c *Config, errs *ErrorList) {
	pod, err := netip.ParsePrefix(c.PodCIDR)
	if err != nil || !pod.Addr().Is4() {
		return // reported by validateNetwork
	}
	if pod.Bits() > NodeCIDRMask {
		errs.Invalid("podCidr", c.PodCIDR, fmt.Sprintf(
			"too small: Kubernetes gives every node a /%d of the pod range; use /%d or larger", NodeCIDRMask, NodeCIDRMask))
		return
	}
	capacity := 1 << (NodeCIDRMask - pod.Bits())
	if nodes := c.MaxNodes(); nodes > capacity {
		need := NodeCIDRMask
		for 1<<(NodeCIDRMask-need) < nodes {
			need--
		}
		errs.Invalid("podCidr", c.PodCIDR, fmt.Sprintf(
			"holds %d node ranges of /%d but the configuration allows %d nodes (controlPlane.count + every workerPools[*].maxSize); use /%d or larger",
			capacity, NodeCIDRMask, nodes, need))
	}
}

// validateSecurityGroupQuota: the public load balancer's security group
// admits each adminCidrs entry on two ports (6443, 50000) and each
// ingressCidrs entry on one (443).
func validateSecurityGroupQuota(c *Config, errs *ErrorList, skip map[string]bool) {
	if skip["adminCidrs"] || skip["ingressCidrs"] {
		return
	}
	rules := 2*len(c.AdminCIDRs) + len(c.IngressCIDRs)
	if rules > MaxSGInboundRules {
		errs.TooLong("adminCidrs", len(c.AdminCIDRs), fmt.Sprintf(
			"the public load balancer's security group would need %d inbound rules (2 per adminCidrs entry + 1 per ingressCidrs entry); AWS allows %d per group by default: use fewer, wider CIDRs",
			rules, MaxSGInboundRules))
	}
}

// validateVolumePerformance checks provisioned IOPS and throughput.
func validateVolumePerformance(path string, v RootVolume, errs *ErrorList) {
	switch v.Type {
	case "gp3":
		iops := v.IOPS
		if iops == 0 {
			iops = gp3MinIOPS // AWS's gp3 baseline when unset
		} else if iops < gp3MinIOPS || iops > gp3MaxIOPS {
			errs.Invalid(path+".iops", v.IOPS, fmt.Sprintf("gp3 volumes take %d-%d IOPS", gp3MinIOPS, gp3MaxIOPS))
			return
		}
		if v.IOPS > 0 && v.SizeGiB > 0 && v.IOPS > gp3IOPSPerGiB*v.SizeGiB {
			errs.Invalid(path+".iops", v.IOPS, fmt.Sprintf(
				"gp3 allows at most %d IOPS per GiB: %d GiB takes at most %d IOPS; raise sizeGiB or lower iops", gp3IOPSPerGiB, v.SizeGiB, gp3IOPSPerGiB*v.SizeGiB))
		}
		if v.Throughput == 0 {
			return
		}
		if v.Throughput < gp3MinThroughput || v.Throughput > gp3MaxThroughput {
			errs.Invalid(path+".throughput", v.Throughput, fmt.Sprintf("gp3 volumes take %d-%d MiB/s", gp3MinThroughput, gp3MaxThroughput))
			return
		}
		// At most 0.25 MiB/s per IOPS: throughput*4 <= iops.
		if v.Throughput*4 > iops {
			errs.Invalid(path+".throughput", v.Throughput, fmt.Sprintf(
				"gp3 allows at most 0.25 MiB/s per IOPS: %d IOPS carry at most %d MiB/s; set iops to at least %d", iops, iops/4, v.Throughput*4))
		}
	case "io1", "io2":
		perGiB, maxIOPS := ioIOPSPerGiB[v.Type], ioMaxIOPS[v.Type]
		if v.IOPS == 0 {
			return // reported as required
		}
		if v.IOPS < ioMinIOPS || v.IOPS > maxIOPS {
			errs.Invalid(path+".iops", v.IOPS, fmt.Sprintf("%s volumes take %d-%d IOPS", v.Type, ioMinIOPS, maxIOPS))
		} else if v.SizeGiB > 0 && v.IOPS > perGiB*v.SizeGiB {
			errs.Invalid(path+".iops", v.IOPS, fmt.Sprintf("%s allows at most %d IOPS per GiB: %d GiB takes at most %d", v.Type, perGiB, v.SizeGiB, perGiB*v.SizeGiB))
		}
	}
}

// validateTagBudget counts the tags the stack derives for each resource, the
// largest being a worker pool's Auto Scaling Group: the user's tags, the
// cluster tag, Name, and the cluster autoscaler's discovery (2) and
// node-template tags (the pool label, each label, each taint key). It also
// checks the lengths of the derived tag keys.
func validateTagBudget(c *Config, errs *ErrorList, skip map[string]bool) {
	user := len(c.Tags)
	// Launch templates and instances: user + cluster + Name + role + pool.
	if n := user + 4; n > MaxTagsPerResource {
		errs.TooLong("tags", user, fmt.Sprintf(
			"%d tags here plus the %d the stack adds (cluster, Name, talos-aws/role, talos-aws/pool) exceed AWS's %d per resource; at most %d",
			user, 4, MaxTagsPerResource, MaxTagsPerResource-4))
		return
	}
	for i, p := range c.WorkerPools {
		path := fmt.Sprintf("workerPools[%d]", i)
		if skip[path] {
			continue
		}
		n := user + PoolASGTagCount(p)
		if n > MaxTagsPerResource {
			errs.TooLong(path+".labels", len(p.Labels), fmt.Sprintf(
				"the pool's Auto Scaling group would carry %d tags (%d from tags, 5 the stack adds, one per label and taint key for the cluster autoscaler); AWS allows %d: drop labels, taints or tags",
				n, user, MaxTagsPerResource))
		}
		for _, k := range sortedKeys(p.Labels) {
			if l := utf8.RuneCountInString(AutoscalerLabelTagPrefix + k); l > maxAWSTagKeyLen {
				errs.TooLong(path+".labels."+k, k, fmt.Sprintf(
					"the cluster autoscaler tag key %q is %d characters; AWS allows %d: use a label key of at most %d characters",
					AutoscalerLabelTagPrefix+k, l, maxAWSTagKeyLen, maxAWSTagKeyLen-len(AutoscalerLabelTagPrefix)))
			}
		}
		for j, t := range p.Taints {
			if l := utf8.RuneCountInString(AutoscalerTaintTagPrefix + t.Key); l > maxAWSTagKeyLen {
				errs.TooLong(fmt.Sprintf("%s.taints[%d].key", path, j), t.Key, fmt.Sprintf(
					"the cluster autoscaler tag key is %d characters; AWS allows %d: use a taint key of at most %d characters",
					l, maxAWSTagKeyLen, maxAWSTagKeyLen-len(AutoscalerTaintTagPrefix)))
			}
		}
	}
}

// PoolASGTagCount is how many tags the stack itself puts on a pool's Auto
// Scaling group, besides the user's: cluster, Name, the autoscaler's
// enabled and cluster-owned tags, the pool label, then one tag per label and
// per distinct taint key (compute.AutoscalerTags).
func PoolASGTagCount(p WorkerPool) int {
	keys := map[string]bool{}
	for _, t := range p.Taints {
		keys[t.Key] = true
	}
	labels := 0
	for k := range p.Labels {
		if k != PoolLabel {
			labels++
		}
	}
	return 5 + labels + len(keys)
}

// Node labels a kubelet may not set on its own Node. Talos applies
// machine.nodeLabels with the kubelet's credentials
// (internal/app/machined/pkg/controllers/k8s/node_apply.go v1.12.0:
// NewClientFromKubeletKubeconfig), so the NodeRestriction admission plugin
// decides (kubernetes v1.35 plugin/pkg/admission/noderestriction/
// admission.go, getForbiddenLabels): keys under node-restriction.kubernetes.io
// are refused, and so is any kubernetes.io or k8s.io key that is not a
// kubelet label (staging/src/k8s.io/kubelet/pkg/apis/well_known_labels.go,
// IsKubeletLabel: the fixed list below and the kubelet.kubernetes.io and
// node.kubernetes.io namespaces).
var kubeletOwnLabels = []string{
	"kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
	"failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
	"beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
	"kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
}

func inNamespace(ns, domain string) bool { return ns == domain || strings.HasSuffix(ns, "."+domain) }

// forbiddenNodeLabel explains why a pool may not carry a label, or "".
func forbiddenNodeLabel(key string) string {
	ns, _, found := strings.Cut(key, "/")
	if !found {
		return ""
	}
	switch {
	case key == PoolLabel:
		return "set by the stack itself to the pool's name"
	case inNamespace(ns, "node-restriction.kubernetes.io"):
		return "the NodeRestriction admission plugin forbids a kubelet to set node-restriction.kubernetes.io labels, and Talos applies pool labels with the kubelet's credentials; label the nodes from outside, with admin credentials"
	case contains(kubeletOwnLabels, key):
		return "set by the kubelet or the cloud controller manager for every node; a pool must not override it"
	case inNamespace(ns, "kubelet.kubernetes.io") || inNamespace(ns, "node.kubernetes.io"):
		return ""
	case inNamespace(ns, "kubernetes.io") || inNamespace(ns, "k8s.io"):
		return "the NodeRestriction admission plugin forbids a kubelet to set kubernetes.io and k8s.io labels other than the kubelet's own (kubelet.kubernetes.io/*, node.kubernetes.io/*), and Talos applies pool labels with the kubelet's credentials; use your own prefix (e.g. example.com/role) or label the nodes with admin credentials"
	}
	return ""
}

// Pool names whose derived resource names (compute-<pool> launch templates
// and Auto Scaling groups, <cluster>-worker-<pool> Name tags) would equal
// the names of the control plane's or the shared node resources
// (compute-cp, compute-worker, compute-control-plane[-*], compute-workers[-*]).
var (
	reservedPoolNames    = []string{"cp", "controlplane", "control-plane", "worker", "workers"}
	reservedPoolPrefixes = []string{"cp-", "control-plane-", "workers-"}
)

func reservedPoolName(name string) bool {
	return contains(reservedPoolNames, name) || hasAnyPrefix(name, reservedPoolPrefixes...)
}

// unsupportedFamily explains why Talos cannot run on an instance type's
// family, or "".
func unsupportedFamily(instanceType string) string {
	family, _, _ := strings.Cut(instanceType, ".")
	switch {
	case strings.HasPrefix(family, "mac"):
		// EC2 Mac instances are Apple hardware on Dedicated Hosts and boot
		// macOS AMIs only (Amazon EC2 User Guide, "Amazon EC2 Mac instances").
		return "EC2 Mac instances run only macOS on Dedicated Hosts; Talos cannot run there"
	case contains([]string{"t1", "m1", "m2", "c1"}, family):
		// The Talos AMI is registered as an HVM image (siderolabs/talos
		// v1.12.0 hack/cloud-image-uploader/aws.go: VirtualizationType hvm);
		// these previous-generation families run paravirtual AMIs only.
		return "this previous-generation family runs only paravirtual AMIs; the Talos AMI is HVM: use a current-generation type such as m7i.large"
	}
	return ""
}

// Role is the kind of node an instance type is chosen for.
type Role string

// The roles Talos documents requirements for.
const (
	RoleControlPlane Role = "control-plane"
	RoleWorker       Role = "worker"
)

// nodeShape is an instance size's memory and vCPUs; zero is unknown.
type nodeShape struct {
	MemoryMiB int
	VCPUs     int
}

// talosMinimums are Talos' documented minimum requirements per role (Talos
// v1.12 "System Requirements", "Minimum Requirements": control plane 2 GiB
// of memory and 2 cores, worker 1 GiB and 1 core). Below them a node is
// refused. The documented recommendations (control plane 4 GiB and 4
// cores, worker 2 GiB and 2 cores) are not checked: the default
// m7i.large, 2 vCPUs, is below them and runs well.
var talosMinimums = map[Role]nodeShape{
	RoleControlPlane: {MemoryMiB: 2048, VCPUs: 2},
	RoleWorker:       {MemoryMiB: 1024, VCPUs: 1},
}

// burstableRe matches the burstable families (t2, t3, t3a, t4g), not
// trn1 and the like.
var burstableRe = regexp.MustCompile(`^t[0-9]+[a-z]?$`)

// smallSizes are the sizes below large, smallest first.
var smallSizes = []string{"nano", "micro", "small", "medium"}

// shapeOf returns what is known of the sizes that can fall below Talos'
// minimums (Amazon EC2 instance type specifications): the burstable
// families have 0.5 GiB at nano, 1 GiB at micro, 2 GiB at small and 4 GiB
// at medium, with 2 vCPUs (t2: 1 vCPU up to small); every other family's
// medium has 1 vCPU (m6g.medium, c7g.medium, a1.medium) and at least
// 2 GiB. From large up every size has 2 vCPUs and 4 GiB or more, above
// both minimums, so it is not listed (ok false).
func shapeOf(instanceType string) (nodeShape, bool) {
	family, size, found := strings.Cut(instanceType, ".")
	if !found {
		return nodeShape{}, false
	}
	if burstableRe.MatchString(family) {
		mem := map[string]int{"nano": 512, "micro": 1024, "small": 2048, "medium": 4096}[size]
		if mem == 0 {
			return nodeShape{}, false
		}
		vcpus := 2
		if family == "t2" && size != "medium" {
			vcpus = 1
		}
		return nodeShape{MemoryMiB: mem, VCPUs: vcpus}, true
	}
	if size == "medium" {
		return nodeShape{VCPUs: 1}, true
	}
	return nodeShape{}, false
}

func (s nodeShape) meets(floor nodeShape) bool {
	return (s.MemoryMiB == 0 || s.MemoryMiB >= floor.MemoryMiB) && (s.VCPUs == 0 || s.VCPUs >= floor.VCPUs)
}

func gib(mib int) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(mib)/1024), ".0") + " GiB"
}

// undersized explains why an instance type is below Talos' documented
// minimum for role, naming the smallest size of its family that meets it,
// or returns "".
func undersized(instanceType string, role Role) string {
	shape, ok := shapeOf(instanceType)
	floor := talosMinimums[role]
	if !ok || shape.meets(floor) {
		return ""
	}
	var has, needs []string
	if shape.MemoryMiB != 0 && shape.MemoryMiB < floor.MemoryMiB {
		has = append(has, gib(shape.MemoryMiB)+" of memory")
		needs = append(needs, gib(floor.MemoryMiB))
	}
	if shape.VCPUs < floor.VCPUs {
		has = append(has, fmt.Sprintf("%d vCPU", shape.VCPUs))
		needs = append(needs, fmt.Sprintf("%d cores", floor.VCPUs))
	}
	family, _, _ := strings.Cut(instanceType, ".")
	fits := family + ".large"
	for _, size := range smallSizes {
		if s, ok := shapeOf(family + "." + size); ok && s.meets(floor) {
			fits = family + "." + size
			break
		}
	}
	return fmt.Sprintf("has %s, below Talos' minimum of %s for a %s node (Talos \"System Requirements\"); use %s or larger",
		strings.Join(has, " and "), strings.Join(needs, " and "), role, fits)
}

// warnControlPlaneZones: control-plane nodes spread over the zones in
// order; more nodes than zones puts several in one zone.
func warnControlPlaneZones(c *Config, w *Warnings) {
	zones := c.ZoneCount()
	n := c.ControlPlane.Count
	if zones < 1 || n <= zones {
		return
	}
	most := (n + zones - 1) / zones
	quorum := n/2 + 1
	msg := fmt.Sprintf("%d control-plane nodes in %d availability zone(s) put up to %d in one zone", n, zones, most)
	if n-most < quorum {
		msg += fmt.Sprintf("; losing that zone loses etcd quorum (%d of %d needed)", quorum, n)
	}
	w.Add("controlPlane.count", "%s", msg+"; use at least as many zones as control-plane nodes")
}

// warnUntestedCharts: a chart version newer than the one this stack pins
// has not been tested with the offered Kubernetes range and this stack's
// values.
func warnUntestedCharts(c *Config, w *Warnings) {
	a := c.Addons
	for _, ch := range []struct {
		path, version, pinned string
		enabled               bool
	}{
		{"addons.cilium.version", a.Cilium.Version, CiliumChartVersion, a.Cilium.Enabled},
		{"addons.awsCloudControllerManager.version", a.CloudControllerManager.Version, CCMChartVersion, a.CloudControllerManager.Enabled},
		{"addons.csrApprover.version", a.CSRApprover.Version, CSRApproverChartVersion, a.CSRApprover.Enabled},
		{"addons.metricsServer.version", a.MetricsServer.Version, MetricsServerChartVersion, a.MetricsServer.Enabled},
		{"addons.argocd.version", a.ArgoCD.Version, ArgoCDChartVersion, a.ArgoCD.Enabled},
		{"addons.ebsCsi.version", a.EBSCSI.Version, EBSCSIChartVersion, a.EBSCSI.Enabled},
	} {
		if ch.enabled && newerVersion(ch.version, ch.pinned) {
			w.Add(ch.path, "%s is newer than the pinned %s, which is the version tested with Kubernetes %s and this stack's values", ch.version, ch.pinned, c.KubernetesVersion)
		}
	}
	pinned := AddonsFor(c.KubernetesVersion).CCMImage
	if m := imageTagRe.FindStringSubmatch(a.CloudControllerManager.ImageTag); a.CloudControllerManager.Enabled && m != nil && pinned != "" &&
		newerVersion(strings.TrimPrefix(a.CloudControllerManager.ImageTag, "v"), strings.TrimPrefix(pinned, "v")) {
		w.Add("addons.awsCloudControllerManager.imageTag", "%s is newer than the pinned %s", a.CloudControllerManager.ImageTag, pinned)
	}
}

// newerVersion compares MAJOR.MINOR.PATCH versions (pre-release suffixes
// ignored); false when either does not parse.
func newerVersion(a, b string) bool {
	var x, y [3]int
	if _, err := fmt.Sscanf(a, "%d.%d.%d", &x[0], &x[1], &x[2]); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "%d.%d.%d", &y[0], &y[1], &y[2]); err != nil {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return x[i] > y[i]
		}
	}
	return false
}

// ProjectKeys are the top-level configuration keys of this project.
func ProjectKeys() []string {
	var keys []string
	for _, k := range Schema() {
		keys = append(keys, k.Name)
	}
	return keys
}

// UnknownKeys reports the keys set under this project's namespace that the
// program does not read: almost always typos, which would otherwise be
// silently ignored. keys are bare key names (without "<project>:"). Each is
// an error with the nearest valid key or, when none is near, the valid keys.
// A key like "controlPlane.count" was set without --path: the message says
// how to set it as the field it was meant to be.
func UnknownKeys(keys []string) ErrorList {
	valid := ProjectKeys()
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	var errs ErrorList
	for _, k := range keys {
		if contains(valid, k) {
			continue
		}
		if top, _, nested := strings.Cut(strings.ReplaceAll(k, "[", "."), "."); nested && contains(valid, top) {
			errs.Invalid(k, nil, fmt.Sprintf(
				"unknown key: set without --path, this is a key of its own that the program never reads; "+
					"run `pulumi config rm '%s'`, then `pulumi config set --path '%s' <value>`", k, k))
			continue
		}
		errs.Invalid(k, nil, unknownKeyDetail(k, valid)+fmt.Sprintf(" (remove it with `pulumi config rm '%s'`)", k))
	}
	return errs
}
