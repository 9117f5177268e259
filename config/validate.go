package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/talos-aws/talos-aws/internal/tagkeys"
)

// Bounds of what this stack supports.
const (
	MaxAZs          = 6
	minVPCPrefix    = 16
	maxVPCPrefix    = 21 // private subnets stay >= /24, public >= /27
	minRootVolume   = 20 // the Talos AMI's own root volume is 20 GiB
	maxRootVolume   = 16384
	maxPoolNameLen  = 20
	maxAWSTagKeyLen = 128
	maxAWSTagValLen = 256
)

var (
	clusterNameRe  = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	poolNameRe     = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	regionRe       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	instanceTypeRe = regexp.MustCompile(`^([a-z][a-z0-9-]*[0-9][a-z0-9-]*)\.[a-z0-9]+$`)
	gravitonRe     = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z]*$`)
	talosVersionRe = regexp.MustCompile(`^v1\.([0-9]+)\.[0-9]+$`)
	k8sVersionRe   = regexp.MustCompile(`^1\.[0-9]+\.[0-9]+$`)
	chartVersionRe = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	imageTagRe     = regexp.MustCompile(`^v[0-9]+\.([0-9]+)\.[0-9]+$`)
	amiRe          = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)
	labelNameRe    = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	dnsSubdomainRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelValueRe   = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

var (
	natStrategies = []string{NATSingle, NATPerAZ}
	arches        = []string{string(ArchAMD64), string(ArchARM64)}
	volumeTypes   = []string{"gp3", "gp2", "io1", "io2"}
	taintEffects  = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
	cpCounts      = []string{"1", "3", "5"}
)

// Validate checks a parsed configuration, appending every error to errs, and
// returns warnings: settings that work but deserve a second look.
func Validate(c *Config, errs *ErrorList) Warnings { return validate(c, errs, nil) }

// validate runs every check except on the keys in skip, which could not be
// read: their values are defaults and judging them would only add noise.
func validate(c *Config, errs *ErrorList, skip map[string]bool) Warnings {
	var w Warnings
	validateName(c, errs)
	validateLocation(c, errs)
	validateNetwork(c, errs, &w, skip)
	validateEndpoint(c, errs)
	validateVersions(c, c.deployed, errs)
	validateAlarmTopic(c, errs)
	validateSecretReaders(c, errs, &w)
	for _, k := range []struct{ key, id string }{{"amiIdAmd64", c.AMIAMD64}, {"amiIdArm64", c.AMIARM64}} {
		if k.id != "" && !amiRe.MatchString(k.id) {
			errs.Invalid(k.key, k.id, "must be an AMI id like ami-0123456789abcdef0")
		}
	}
	if !skip["controlPlane"] {
		validateControlPlane(c.ControlPlane, errs, &w)
		warnControlPlaneZones(c, &w)
	}
	if !skip["workerPools"] {
		validatePools(c.WorkerPools, c.TalosVersion, errs, &w, skip)
	}
	validateBootModes(c, errs, skip)
	validateImages(c, errs, &w, skip)
	if !skip["addons"] {
		validateAddons(c, errs, &w)
		warnUntestedCharts(c, &w)
	}
	if !skip["tags"] {
		validateTags(c.Tags, errs)
	}
	if !skip["controlPlane"] && !skip["workerPools"] {
		validatePodCapacity(c, errs)
	}
	if !skip["tags"] && !skip["workerPools"] {
		validateTagBudget(c, errs, skip)
	}
	validateSecurityGroupQuota(c, errs, skip)
	validateConvergence(c, errs, &w)
	validateBackups(c, errs, &w)
	validateIdentity(c, errs, &w, skip)
	return w
}

func validateName(c *Config, errs *ErrorList) {
	if !clusterNameRe.MatchString(c.ClusterName) {
		errs.Invalid("clusterName", c.ClusterName, "must be lowercase letters, digits and '-', starting with a letter")
		return
	}
	names := NamesFor(c.ClusterName)
	// ELBv2 CreateLoadBalancer: a load balancer name "must not begin with
	// internal-" (AWS API reference, CreateLoadBalancer, Name).
	for _, n := range []string{names.InternalLB, names.PublicLB} {
		if strings.HasPrefix(n, "internal-") {
			errs.Invalid("clusterName", c.ClusterName, fmt.Sprintf(
				"the derived load balancer name %q begins with \"internal-\", which AWS does not allow; choose a name that does not start with \"internal\"", n))
			return
		}
	}
	for _, n := range names.All() {
		if len(n) > maxLBNameLen {
			errs.TooLong("clusterName", c.ClusterName, fmt.Sprintf(
				"derived AWS load balancer/target group name %q is %d characters, AWS allows %d; use at most %d characters",
				n, len(n), maxLBNameLen, maxLBNameLen-(len(n)-len(c.ClusterName))))
			return
		}
	}
}

func validateLocation(c *Config, errs *ErrorList) {
	if !regionRe.MatchString(c.Region) {
		errs.Invalid("region", c.Region, "must be an AWS region name like ap-southeast-1")
	}
	if c.BringYourOwnVPC() {
		// The zones are the subnets' (validateBYO forbids these keys).
		return
	}
	if len(c.AvailabilityZones) == 0 {
		if c.AZCount < 1 || c.AZCount > MaxAZs {
			errs.Invalid("azCount", c.AZCount, fmt.Sprintf("must be between 1 and %d", MaxAZs))
		}
		return
	}
	if len(c.AvailabilityZones) > MaxAZs {
		errs.TooLong("availabilityZones", len(c.AvailabilityZones), fmt.Sprintf("at most %d zones", MaxAZs))
	}
	seen := map[string]string{}
	for i, az := range c.AvailabilityZones {
		path := fmt.Sprintf("availabilityZones[%d]", i)
		if first, dup := seen[az]; dup {
			errs.Duplicate(path, az, first)
		} else {
			seen[az] = path
		}
		suffix, ok := strings.CutPrefix(az, c.Region)
		if !ok || len(suffix) != 1 || suffix[0] < 'a' || suffix[0] > 'z' {
			errs.NotSupported(path, az, []string{c.Region + "a", c.Region + "b", c.Region + "c", "..."})
		}
	}
}

// parseNetwork parses an IPv4 network prefix and insists on its network address.
func parseNetwork(path, s string, errs *ErrorList) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err == nil && p.Addr().Is6() {
		// The VPC, the load balancers' security groups and the cluster's
		// pod and service ranges are IPv4-only in this stack.
		errs.Invalid(path, s, "IPv6 is not supported here; use an IPv4 CIDR like 10.0.0.0/16")
		return netip.Prefix{}, false
	}
	if err != nil || !p.Addr().Is4() {
		errs.Invalid(path, s, "must be an IPv4 CIDR like 10.0.0.0/16")
		return netip.Prefix{}, false
	}
	if p.Masked() != p {
		errs.Invalid(path, s, fmt.Sprintf("host bits set; did you mean %s?", p.Masked()))
		return netip.Prefix{}, false
	}
	return p, true
}

func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// parseVPCCIDR reads vpcCidr for a VPC the stack creates; with an existing
// VPC (byo) there is none to read.
func parseVPCCIDR(c *Config, byo bool, errs *ErrorList) (netip.Prefix, bool) {
	if byo {
		return netip.Prefix{}, false
	}
	vpc, ok := parseNetwork("vpcCidr", c.VPCCIDR, errs)
	if ok && (vpc.Bits() < minVPCPrefix || vpc.Bits() > maxVPCPrefix) {
		errs.Invalid("vpcCidr", c.VPCCIDR, fmt.Sprintf(
			"prefix must be /%d to /%d: the plan gives each AZ a private subnet 1/8 of the VPC and a public one 1/64", minVPCPrefix, maxVPCPrefix))
	}
	return vpc, ok
}

func validateNetwork(c *Config, errs *ErrorList, w *Warnings, skip map[string]bool) {
	type named struct {
		path string
		p    netip.Prefix
	}
	var nets []named
	byo := c.BringYourOwnVPC()
	if byo && !skip["network"] {
		validateBYO(c, errs)
	}
	// An existing VPC's CIDR blocks are the preflight's to compare with
	// podCidr and serviceCidr (preflight.CheckVPC).
	if vpc, ok := parseVPCCIDR(c, byo, errs); ok {
		nets = append(nets, named{"vpcCidr", vpc})
	}
	if pod, ok := parseNetwork("podCidr", c.PodCIDR, errs); ok {
		nets = append(nets, named{"podCidr", pod})
	}
	if svc, ok := parseNetwork("serviceCidr", c.ServiceCIDR, errs); ok {
		// kube-apiserver refuses a service range of more than 20 host bits
		// for IPv4 (cmd/kube-apiserver/app/options/validation.go,
		// validateClusterIPFlags, maxCIDRBits = 20): the mask must be >= /12.
		if svc.Bits() < minServicePrefix {
			errs.Invalid("serviceCidr", c.ServiceCIDR, fmt.Sprintf(
				"too large: the Kubernetes API server accepts an IPv4 service range of at most /%d (prefix length %d or more)", minServicePrefix, minServicePrefix))
		}
		nets = append(nets, named{"serviceCidr", svc})
	}
	for i := range nets {
		for j := i + 1; j < len(nets); j++ {
			if overlaps(nets[i].p, nets[j].p) {
				errs.Invalid(nets[j].path, nets[j].p.String(), fmt.Sprintf("overlaps %s %s", nets[i].path, nets[i].p))
			}
		}
	}
	if !byo && !contains(natStrategies, c.NATStrategy) {
		errs.NotSupported("natStrategy", c.NATStrategy, natStrategies)
	}
	if len(c.AdminCIDRs) == 0 && !skip["adminCidrs"] {
		errs.Required("adminCidrs", "who may reach the Kubernetes API (6443) and Talos API (50000)? "+
			"run: pulumi config set --path 'adminCidrs[0]' <your-public-ip>/32")
	}
	validateCIDRList("adminCidrs", c.AdminCIDRs, errs, w, c.PrivateAPI())
	validateCIDRList("ingressCidrs", c.IngressCIDRs, errs, nil, c.PrivateIngress())
	if len(c.IngressCIDRs) == 0 {
		w.Add("ingressCidrs", "empty: HTTPS ingress (443) on the public load balancer is reachable from nowhere")
	}
}

// private: the list admits to the internal load balancer, where private ranges are what reaches it.
func validateCIDRList(key string, cidrs []string, errs *ErrorList, w *Warnings, private bool) {
	seen := map[string]string{}
	for i, s := range cidrs {
		path := fmt.Sprintf("%s[%d]", key, i)
		p, ok := parseNetwork(path, s, errs)
		if !ok {
			continue
		}
		if first, dup := seen[p.String()]; dup {
			errs.Duplicate(path, s, first)
		} else {
			seen[p.String()] = path
		}
		if w != nil && p.Bits() == 0 {
			w.Add(path, "0.0.0.0/0 opens the Kubernetes and Talos APIs to the whole internet (they still require client certificates)")
		}
		if w != nil && isPrivate(p) && !private {
			w.Add(path, "%s is a private (RFC 1918/6598) range: the public load balancer only sees public source addresses, so this admits nobody; use your public IP/32", p)
		}
	}
}

func validateVolume(path string, v RootVolume, errs *ErrorList) {
	if v.SizeGiB < minRootVolume || v.SizeGiB > maxRootVolume {
		errs.Invalid(path+".sizeGiB", v.SizeGiB, fmt.Sprintf("must be between %d and %d", minRootVolume, maxRootVolume))
	}
	if !contains(volumeTypes, v.Type) {
		errs.NotSupported(path+".type", v.Type, volumeTypes)
	}
	if v.IOPS < 0 || (v.IOPS > 0 && v.Type == "gp2") {
		errs.Invalid(path+".iops", v.IOPS, "set only for gp3, io1 or io2")
	}
	if v.Throughput < 0 || (v.Throughput > 0 && v.Type != "gp3") {
		errs.Invalid(path+".throughput", v.Throughput, "set only for gp3")
	}
	if (v.Type == "io1" || v.Type == "io2") && v.IOPS == 0 {
		errs.Required(path+".iops", v.Type+" volumes need provisioned iops")
	}
	validateVolumePerformance(path, v, errs)
}

// InstanceArch infers the architecture of an instance type from its family:
// Graviton families carry a 'g' right after the generation digit (m7g, c7gn,
// r8gd, t4g, x2gd, im4gn), plus the original a1.
func InstanceArch(instanceType string) (Arch, bool) {
	m := instanceTypeRe.FindStringSubmatch(instanceType)
	if m == nil {
		return "", false
	}
	if m[1] == "a1" || gravitonRe.MatchString(m[1]) {
		return ArchARM64, true
	}
	return ArchAMD64, true
}

// validateInstanceType checks an instance type for a role: that it is one,
// that Talos runs on its family, that it matches arch, and that it meets
// Talos' minimum for the role. Each is an error at path.
func validateInstanceType(path, it string, arch Arch, role Role, errs *ErrorList) {
	got, ok := InstanceArch(it)
	if !ok {
		errs.Invalid(path, it, "must be an EC2 instance type like m7i.large")
		return
	}
	if reason := unsupportedFamily(it); reason != "" {
		errs.Invalid(path, it, reason)
		return
	}
	if contains(arches, string(arch)) && got != arch {
		errs.Invalid(path, it, fmt.Sprintf("is an %s instance type but arch is %q", got, arch))
	}
	if reason := undersized(it, role); reason != "" {
		errs.Invalid(path, it, reason)
	}
}

func validateArch(path string, a Arch, errs *ErrorList) {
	if !contains(arches, string(a)) {
		errs.NotSupported(path, a, arches)
	}
}

func validateControlPlane(cp ControlPlane, errs *ErrorList, w *Warnings) {
	if !contains(cpCounts, fmt.Sprint(cp.Count)) {
		errs.NotSupported("controlPlane.count", cp.Count, cpCounts)
	} else if cp.Count == 1 {
		w.Add("controlPlane.count", "1 control-plane node: etcd has no quorum to spare; use 3 for production")
		w.Add("controlPlane.count", "1 control-plane node: the etcd guard hands a live node over to its replacement (a refresh, a scheduled retirement), but if the node dies etcd dies with it, since its root volume is deleted with the instance; keep etcd backups (backups.enabled) to restore from (docs/etcd-guard.md#runbook-restore-a-lost-control-plane)")
	}
	validateArch("controlPlane.arch", cp.Arch, errs)
	validateInstanceType("controlPlane.instanceType", cp.InstanceType, cp.Arch, RoleControlPlane, errs)
	validateVolume("controlPlane.rootVolume", cp.RootVolume, errs)
}

func validatePools(pools []WorkerPool, talosVersion string, errs *ErrorList, w *Warnings, skip map[string]bool) {
	if len(pools) == 0 {
		errs.Required("workerPools", "at least one worker pool: ingress and workloads run on workers")
	}
	names := map[string]string{}
	for i, p := range pools {
		path := fmt.Sprintf("workerPools[%d]", i)
		if skip[path] {
			continue
		}
		switch {
		case !poolNameRe.MatchString(p.Name):
			errs.Invalid(path+".name", p.Name, "must be lowercase letters, digits and '-', starting with a letter")
		case len(p.Name) > maxPoolNameLen:
			errs.TooLong(path+".name", p.Name, fmt.Sprintf("at most %d characters", maxPoolNameLen))
		case names[p.Name] != "":
			errs.Duplicate(path+".name", p.Name, names[p.Name])
		case reservedPoolName(p.Name):
			errs.Forbidden(path+".name", fmt.Sprintf(
				"%q is reserved: resources named after it would clash with the control plane's or the node groups' own resources; choose another name", p.Name))
		}
		if names[p.Name] == "" {
			names[p.Name] = path + ".name"
		}
		validateArch(path+".arch", p.Arch, errs)
		if len(p.InstanceTypes) == 0 {
			errs.Required(path+".instanceTypes", "at least one instance type")
		}
		seen := map[string]string{}
		for j, it := range p.InstanceTypes {
			ip := fmt.Sprintf("%s.instanceTypes[%d]", path, j)
			if first, dup := seen[it]; dup {
				errs.Duplicate(ip, it, first)
			} else {
				seen[it] = ip
			}
			validateInstanceType(ip, it, p.Arch, RoleWorker, errs)
		}
		if p.MinSize < 0 {
			errs.Invalid(path+".minSize", p.MinSize, "must be >= 0")
		}
		if p.MaxSize < 1 {
			errs.Invalid(path+".maxSize", p.MaxSize, "must be >= 1")
		}
		if p.MinSize > p.MaxSize {
			errs.Invalid(path+".minSize", p.MinSize, fmt.Sprintf("must be <= maxSize (%d)", p.MaxSize))
		}
		if p.DesiredCapacity < p.MinSize || p.DesiredCapacity > p.MaxSize {
			errs.Invalid(path+".desiredCapacity", p.DesiredCapacity, fmt.Sprintf("must be between minSize (%d) and maxSize (%d)", p.MinSize, p.MaxSize))
		}
		if p.Spot && len(p.InstanceTypes) < 2 {
			w.Add(path+".instanceTypes", "a spot pool with one instance type is interrupted together; list several")
		}
		validateLabels(path+".labels", p.Labels, errs)
		validateTaints(path+".taints", p.Taints, errs)
		validateVolume(path+".rootVolume", p.RootVolume, errs)
		owned := ownedFieldsFor(path, p)
		for j, patch := range p.ConfigPatches {
			validatePatch(fmt.Sprintf("%s.configPatches[%d]", path, j), patch, talosVersion, owned, errs)
		}
	}
}

// validQualifiedName checks a Kubernetes label or taint key: [prefix/]name.
func validQualifiedName(k string) bool {
	prefix, name, found := strings.Cut(k, "/")
	if !found {
		name = prefix
	} else if prefix == "" || len(prefix) > 253 || !dnsSubdomainRe.MatchString(prefix) {
		return false
	}
	return len(name) <= 63 && labelNameRe.MatchString(name)
}

func validateLabels(path string, labels map[string]string, errs *ErrorList) {
	for _, k := range sortedKeys(labels) {
		if !validQualifiedName(k) {
			errs.Invalid(path, k, "not a valid Kubernetes label key ([prefix/]name, name <= 63 characters of [A-Za-z0-9-_.])")
		} else if reason := forbiddenNodeLabel(k); reason != "" {
			errs.Forbidden(path+"."+k, reason)
		}
		if v := labels[k]; len(v) > 63 || !labelValueRe.MatchString(v) {
			errs.Invalid(path+"."+k, v, "not a valid Kubernetes label value (<= 63 characters of [A-Za-z0-9-_.])")
		}
	}
}

func validateTaints(path string, taints []Taint, errs *ErrorList) {
	// A node holds one taint per key and effect (Kubernetes validates node
	// taints as unique by key and effect): the same key with two effects is
	// two taints, the same key and effect twice is a mistake.
	seen := map[string]string{}
	for i, t := range taints {
		tp := fmt.Sprintf("%s[%d]", path, i)
		if first, dup := seen[t.Key+"\x00"+t.Effect]; dup {
			errs.Duplicate(tp, t.Key+":"+t.Effect, first)
		} else {
			seen[t.Key+"\x00"+t.Effect] = tp
		}
		if !validQualifiedName(t.Key) {
			errs.Invalid(tp+".key", t.Key, "not a valid taint key ([prefix/]name)")
		}
		if len(t.Value) > 63 || !labelValueRe.MatchString(t.Value) {
			errs.Invalid(tp+".value", t.Value, "not a valid taint value")
		}
		if !contains(taintEffects, t.Effect) {
			errs.NotSupported(tp+".effect", t.Effect, taintEffects)
		}
	}
}

func validateAddons(c *Config, errs *ErrorList, w *Warnings) {
	a := c.Addons
	charts := []struct {
		path    string
		enabled bool
		version string
	}{
		{"addons.cilium", a.Cilium.Enabled, a.Cilium.Version},
		{"addons.awsCloudControllerManager", a.CloudControllerManager.Enabled, a.CloudControllerManager.Version},
		{"addons.csrApprover", a.CSRApprover.Enabled, a.CSRApprover.Version},
		{"addons.metricsServer", a.MetricsServer.Enabled, a.MetricsServer.Version},
		{"addons.argocd", a.ArgoCD.Enabled, a.ArgoCD.Version},
		{"addons.ebsCsi", a.EBSCSI.Enabled, a.EBSCSI.Version},
		{"addons.nodeTerminationHandler", a.NodeTerminationHandler.Enabled, a.NodeTerminationHandler.Version},
	}
	for _, ch := range charts {
		if ch.enabled && !chartVersionRe.MatchString(ch.version) {
			errs.Invalid(ch.path+".version", ch.version, "must be an exact chart version like 1.2.3 (no ranges)")
		}
	}
	if !a.Cilium.Enabled {
		w.Add("addons.cilium.enabled", "false: nodes stay NotReady (and Talos reboots them) until you install a CNI yourself")
	}
	if a.CloudControllerManager.Enabled && a.CloudControllerManager.ImageTag != "" {
		m := imageTagRe.FindStringSubmatch(a.CloudControllerManager.ImageTag)
		if m == nil {
			errs.Invalid("addons.awsCloudControllerManager.imageTag", a.CloudControllerManager.ImageTag, "must be vMAJOR.MINOR.PATCH")
		} else if !strings.HasPrefix(c.KubernetesVersion, "1."+m[1]+".") {
			w.Add("addons.awsCloudControllerManager.imageTag", "%s does not match Kubernetes %s; the cloud controller manager's minor should match", a.CloudControllerManager.ImageTag, c.KubernetesVersion)
		}
	} else if !a.CloudControllerManager.Enabled {
		w.Add("addons.awsCloudControllerManager.enabled", "false: nodes keep the node.cloudprovider.kubernetes.io/uninitialized taint until a cloud controller manager runs")
	}
	if a.MetricsServer.Enabled && !a.CSRApprover.Enabled {
		errs.Forbidden("addons.metricsServer.enabled", "needs addons.csrApprover.enabled: metrics-server verifies kubelet serving certificates, which must be approved (this stack never uses --kubelet-insecure-tls)")
	}
	if a.ArgoCD.Enabled && !chartVersionRe.MatchString(a.ArgoCD.AppsVersion) {
		errs.Invalid("addons.argocd.appsVersion", a.ArgoCD.AppsVersion, "must be an exact chart version like 1.2.3")
	}
	ra := a.ArgoCD.RootApp
	switch {
	case ra.RepoURL == "" && (ra.Path != "" || ra.Revision != ""):
		errs.Required("addons.argocd.rootApp.repoURL", "path/revision are set but no repository")
	case ra.RepoURL != "" && !a.ArgoCD.Enabled:
		errs.Forbidden("addons.argocd.rootApp", "needs addons.argocd.enabled")
	case ra.RepoURL != "" && !hasAnyPrefix(ra.RepoURL, "https://", "ssh://", "git@"):
		errs.Invalid("addons.argocd.rootApp.repoURL", ra.RepoURL, "must be an https://, ssh:// or git@ repository URL")
	}
}

func validateTags(tags map[string]string, errs *ErrorList) {
	for _, k := range sortedKeys(tags) {
		switch {
		case k == "" || utf8.RuneCountInString(k) > maxAWSTagKeyLen:
			errs.Invalid("tags", k, fmt.Sprintf("tag keys must be 1-%d characters", maxAWSTagKeyLen))
		case !tagCharsRe.MatchString(k):
			errs.Invalid("tags", k, tagCharsDetail)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			errs.Invalid("tags", k, "the aws: prefix is reserved by AWS")
		case strings.HasPrefix(k, tagkeys.ClusterPrefix) || k == "Name":
			errs.Forbidden("tags."+k, "set by the stack itself")
		}
		if utf8.RuneCountInString(tags[k]) > maxAWSTagValLen {
			errs.TooLong("tags."+k, tags[k], fmt.Sprintf("tag values must be at most %d characters", maxAWSTagValLen))
		} else if !tagCharsRe.MatchString(tags[k]) {
			errs.Invalid("tags."+k, tags[k], tagCharsDetail)
		}
	}
}
