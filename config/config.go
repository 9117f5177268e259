// Package config declares, reads and validates the whole stack configuration.
// Every other stage only reads the typed Config this package returns.
package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/internal/fielddoc"
)

// Arch is a CPU architecture as Talos names its images.
type Arch string

// The architectures Talos publishes AMIs for.
const (
	ArchAMD64 Arch = "amd64"
	ArchARM64 Arch = "arm64"
)

// NAT strategies.
const (
	NATSingle = "single"
	NATPerAZ  = "perAz"
)

// RootVolume is a node's EBS root volume. It is always encrypted.
type RootVolume struct {
	SizeGiB    int    `json:"sizeGiB"`
	Type       string `json:"type"`
	IOPS       int    `json:"iops,omitempty"`
	Throughput int    `json:"throughput,omitempty"`
}

// FieldDocs documents the fields for the configuration reference; the
// bounds are validateVolume's and validateVolumePerformance's.
func (RootVolume) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"sizeGiB": {Doc: "Size in GiB.", Allowed: fmt.Sprintf("%d-%d", minRootVolume, maxRootVolume)},
		"type":    {Doc: "EBS volume type. Every root volume is encrypted.", Values: volumeTypes},
		"iops": {Doc: "Provisioned IOPS: optional for gp3 (AWS's baseline of " + fmt.Sprint(gp3MinIOPS) + " when unset), required for io1 and io2, not for gp2.",
			Allowed: fmt.Sprintf("gp3: %d-%d, at most %d per GiB; io1: %d-%d, at most %d per GiB; io2: %d-%d, at most %d per GiB",
				gp3MinIOPS, gp3MaxIOPS, gp3IOPSPerGiB, ioMinIOPS, ioMaxIOPS["io1"], ioIOPSPerGiB["io1"], ioMinIOPS, ioMaxIOPS["io2"], ioIOPSPerGiB["io2"])},
		"throughput": {Doc: "Throughput in MiB/s, gp3 only (AWS's baseline when unset).",
			Allowed: fmt.Sprintf("%d-%d, at most 0.25 MiB/s per IOPS", gp3MinThroughput, gp3MaxThroughput)},
	}
}

// ControlPlane is the control-plane node group.
type ControlPlane struct {
	Count        int        `json:"count"`
	InstanceType string     `json:"instanceType"`
	Arch         Arch       `json:"arch"`
	RootVolume   RootVolume `json:"rootVolume"`
}

// FieldDocs documents the fields for the configuration reference.
func (ControlPlane) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"count": {Doc: "Control-plane nodes, one etcd member each. 1 has no quorum to spare (a warning); use 3 for production.", Values: cpCounts},
		"instanceType": {Doc: "EC2 instance type of the control-plane nodes.",
			Allowed: "an instance type of `arch`, of a family Talos runs on (no Mac, no paravirtual-only family), at least 2 GiB and 2 vCPUs (Talos' minimum for a control plane); on Talos 1.13 one that boots UEFI"},
		"arch":       {Doc: "CPU architecture; it picks the AMI.", Values: arches},
		"rootVolume": {Doc: "The nodes' root volume, which holds etcd."},
	}
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// FieldDocs documents the fields for the configuration reference; the
// rules are validateTaints'.
func (Taint) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"key":    {Doc: "Taint key.", Allowed: "a Kubernetes qualified name, [prefix/]name; unique per key and effect within a pool"},
		"value":  {Doc: "Taint value (optional).", Allowed: "at most 63 characters of [A-Za-z0-9-_.]"},
		"effect": {Doc: "Taint effect.", Values: taintEffects},
	}
}

// ValueEffect renders a taint's value as the cluster autoscaler's
// node-template tags expect: "value:Effect". One tag per key: of a key
// with several effects the autoscaler's template sees the last one.
func (t Taint) ValueEffect() string { return t.Value + ":" + t.Effect }

// PoolLabel is the node label naming a node's worker pool.
const PoolLabel = "node.talos-aws.io/pool"

// WorkerPool is one worker Auto Scaling Group.
type WorkerPool struct {
	Name            string     `json:"name"`
	InstanceTypes   []string   `json:"instanceTypes"`
	Arch            Arch       `json:"arch"`
	MinSize         int        `json:"minSize"`
	MaxSize         int        `json:"maxSize"`
	DesiredCapacity int        `json:"desiredCapacity"`
	Spot            bool       `json:"spot"`
	Labels          StringMap  `json:"labels,omitempty"`
	Taints          []Taint    `json:"taints,omitempty"`
	RootVolume      RootVolume `json:"rootVolume"`
	// ConfigPatches are Talos machine-config strategic merge patches (YAML),
	// applied after every patch this program builds. JSON6902 patches are
	// rejected for Talos 1.12: the pinned machinery cannot apply them to the
	// multi-document configs it generates (see validatePatch).
	ConfigPatches []string `json:"configPatches,omitempty"`
	// PatchIndices are the configPatches indices ConfigPatches' elements had
	// before Renderable dropped refused ones (nil: unchanged), so an error
	// about a rendered patch still names the element the user wrote.
	PatchIndices []int `json:"-"`
	// Autoscaled hands desiredCapacity to a cluster autoscaler: the stack sets
	// it on create and ignores it afterwards.
	Autoscaled bool `json:"autoscaled"`
	// Image, when set, is the pool's own image key (system extensions and
	// kernel arguments): it replaces the cluster's image for this pool, not
	// merged with it; unset, the pool runs the cluster's (Config.ImageOf).
	Image *images.Spec `json:"image,omitempty"`
}

// FieldDocs documents the fields for the configuration reference; the
// rules are validatePools' and the owned-field table's (owned.go).
func (WorkerPool) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"name": {Doc: "Pool name: in its resources' names and the node label " + PoolLabel + ".",
			Allowed: fmt.Sprintf("lowercase letters, digits and '-', starting with a letter, at most %d characters, unique; not %s, nor starting with %s",
				maxPoolNameLen, strings.Join(reservedPoolNames, ", "), strings.Join(reservedPoolPrefixes, ", "))},
		"instanceTypes": {Doc: "EC2 instance types, tried in order (several let a Spot pool survive one type's interruptions).",
			Allowed: "at least one; each of `arch`, of a family Talos runs on, at least 1 GiB and 1 vCPU (Talos' minimum for a worker); GPU types need NVIDIA's extensions in the pool's image; on Talos 1.13 types that boot UEFI"},
		"arch":            {Doc: "CPU architecture; it picks the AMI.", Values: arches},
		"minSize":         {Doc: "Smallest number of nodes.", Allowed: ">= 0, <= maxSize"},
		"maxSize":         {Doc: "Largest number of nodes; the pod CIDR must hold a /24 per node at every pool's maxSize.", Allowed: ">= 1"},
		"desiredCapacity": {Doc: "Nodes to run; with autoscaled, set on create and then the autoscaler's.", Allowed: "between minSize and maxSize"},
		"spot":            {Doc: "Run Spot instances (about half the price; interrupted with a 2-minute warning, drained by the node termination handler)."},
		"labels":          {Doc: "Node labels, applied at registration.", Allowed: "Kubernetes label keys and values; no node-role.kubernetes.io/*, node-restriction.kubernetes.io/* nor other kubernetes.io/k8s.io keys outside kubelet.kubernetes.io and node.kubernetes.io (NodeRestriction); not the kubelet's own labels"},
		"taints":          {Doc: "Node taints, registered by the kubelet (machine.kubelet.extraConfig.registerWithTaints): a change takes effect on new nodes."},
		"rootVolume":      {Doc: "The nodes' root volume."},
		"configPatches": {Doc: "Talos machine-configuration strategic merge patches (YAML), applied after the stack's own.",
			Allowed: "YAML strategic merge patches (JSON6902 only before Talos 1.12), none empty; none may set a field the stack sets (the CNI, the pod and service subnets, the cluster identity and secrets, the pool label, labels and taints, …: config/owned.go)"},
		"autoscaled": {Doc: "Hand desiredCapacity to the cluster autoscaler, which the stack installs (with workloadIdentity) and tags the group for."},
		"image":      {Doc: "The pool's own image (system extensions and kernel arguments); it replaces the cluster's image for this pool, not merged with it.", Default: "the cluster's image"},
	}
}

// Chart is a Helm chart add-on that can be switched off.
type Chart struct {
	Enabled bool   `json:"enabled"`
	Version string `json:"version"`
}

// FieldDocs documents the fields for the configuration reference.
func (Chart) FieldDocs() map[string]fielddoc.Field {
	return chartDocs()
}

// chartDocs documents the fields every chart add-on has.
func chartDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"enabled": {Doc: "Install it."},
		"version": {Doc: "Chart version, pinned; a version newer than the tested one is a warning.", Allowed: "an exact version, MAJOR.MINOR.PATCH[-pre] (no ranges)"},
	}
}

// Cilium is the CNI add-on.
type Cilium struct {
	Enabled bool   `json:"enabled"`
	Version string `json:"version"`
	Hubble  bool   `json:"hubble"`
}

// FieldDocs documents the fields for the configuration reference.
func (Cilium) FieldDocs() map[string]fielddoc.Field {
	d := chartDocs()
	d["enabled"] = fielddoc.Field{Doc: "Install Cilium, the CNI. Off, nodes stay NotReady (and Talos reboots them) until you install a CNI yourself (a warning)."}
	d["hubble"] = fielddoc.Field{Doc: "Turn on Hubble (relay to the Hubble servers on tcp/4244 between nodes)."}
	return d
}

// CloudControllerManager is the AWS cloud controller manager add-on.
type CloudControllerManager struct {
	Enabled bool   `json:"enabled"`
	Version string `json:"version"`
	// ImageTag pins the controller image; its minor should match Kubernetes'.
	ImageTag string `json:"imageTag"`
}

// FieldDocs documents the fields for the configuration reference.
func (CloudControllerManager) FieldDocs() map[string]fielddoc.Field {
	d := chartDocs()
	d["enabled"] = fielddoc.Field{Doc: "Install the AWS cloud controller manager. Off, nodes keep the uninitialized taint until one runs (a warning)."}
	d["imageTag"] = fielddoc.Field{Doc: "The controller image's tag; its minor should match Kubernetes' (a warning otherwise).",
		Allowed: "vMAJOR.MINOR.PATCH", Default: "the release of the cluster's Kubernetes minor (Supported versions)"}
	return d
}

// RootApp is the optional Argo CD app-of-apps.
type RootApp struct {
	RepoURL  string `json:"repoURL,omitempty"`
	Path     string `json:"path,omitempty"`
	Revision string `json:"revision,omitempty"`
}

// FieldDocs documents the fields for the configuration reference.
func (RootApp) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"repoURL":  {Doc: "Git repository of the root Application (app of apps); set, the cluster takes over its own apps. Needs addons.argocd.enabled.", Allowed: "an https://, ssh:// or git@ URL"},
		"path":     {Doc: "Path in the repository.", Allowed: "only with repoURL"},
		"revision": {Doc: "Branch, tag or commit.", Allowed: "only with repoURL"},
	}
}

// ArgoCD is the GitOps add-on.
type ArgoCD struct {
	Enabled     bool    `json:"enabled"`
	Version     string  `json:"version"`
	AppsVersion string  `json:"appsVersion"`
	RootApp     RootApp `json:"rootApp"`
}

// FieldDocs documents the fields for the configuration reference.
func (ArgoCD) FieldDocs() map[string]fielddoc.Field {
	d := chartDocs()
	d["appsVersion"] = fielddoc.Field{Doc: "Version of the argocd-apps chart that installs the root Application.", Allowed: "an exact version, MAJOR.MINOR.PATCH"}
	d["rootApp"] = fielddoc.Field{Doc: "Optional root Application; it carries Argo CD's resources finalizer, so deleting it deletes what it deployed."}
	return d
}

// Addons are the Helm releases installed into the cluster.
type Addons struct {
	Cilium                 Cilium                 `json:"cilium"`
	CloudControllerManager CloudControllerManager `json:"awsCloudControllerManager"`
	// CSRApprover approves kubelet serving certificates after checking them
	// against the node (Talos cloud controller manager, node-csr-approval only).
	CSRApprover   Chart  `json:"csrApprover"`
	MetricsServer Chart  `json:"metricsServer"`
	ArgoCD        ArgoCD `json:"argocd"`
	EBSCSI        Chart  `json:"ebsCsi"`
	// NodeTerminationHandler drains workers before AWS takes them away
	// (aws-node-termination-handler, queue mode).
	NodeTerminationHandler Chart `json:"nodeTerminationHandler"`
}

// FieldDocs documents the fields for the configuration reference.
func (Addons) FieldDocs() map[string]fielddoc.Field {
	return map[string]fielddoc.Field{
		"cilium":                    {Doc: "Cilium: the CNI, kube-proxy replacement and the ingress controller (NodePort 30443)."},
		"awsCloudControllerManager": {Doc: "The AWS cloud controller manager: initialises nodes, load balancers for LoadBalancer Services."},
		"csrApprover":               {Doc: "Approves kubelet serving certificates after checking them against the Node (Talos cloud controller manager, node-csr-approval only). Metrics Server needs it."},
		"metricsServer":             {Doc: "Metrics Server, on workers."},
		"argocd":                    {Doc: "Argo CD, on workers, with an optional root Application."},
		"ebsCsi":                    {Doc: "The EBS CSI driver and a default encrypted gp3 StorageClass."},
		"nodeTerminationHandler":    {Doc: "aws-node-termination-handler in queue mode: drains workers before AWS takes them away (worker pools only)."},
	}
}

// Config is the validated stack configuration.
type Config struct {
	// AWS is how the stack's AWS provider authenticates (aws: keys, ParseAWS).
	AWS AWS

	ClusterName       string
	Region            string
	AZCount           int
	AvailabilityZones []string
	VPCCIDR           string
	// Network is an existing VPC to deploy into; unset, the stack creates
	// one from VPCCIDR (network.go).
	Network      Network
	PodCIDR      string
	ServiceCIDR  string
	NATStrategy  string
	AdminCIDRs   []string
	IngressCIDRs []string
	// APIAccess and IngressAccess: public (a public load balancer) or
	// private (the internal one only); Endpoint names the cluster.
	APIAccess     string
	IngressAccess string
	Endpoint      Endpoint
	// JumpHost, with a private API: a small instance with the SSM agent in
	// a private subnet, for port forwarding to the internal load balancer.
	JumpHost          bool
	TalosVersion      string
	KubernetesVersion string
	AMIAMD64          string
	AMIARM64          string
	// Image is the cluster's image key: the control plane's, and every
	// pool's that sets none (zero: the official AMI and installer).
	Image        images.Spec
	ControlPlane ControlPlane
	WorkerPools  []WorkerPool
	Addons       Addons
	Tags         StringMap
	// ReadinessTimeoutMinutes bounds each wait `up` makes on the cluster.
	ReadinessTimeoutMinutes int
	// EtcdGuardPaused keeps the etcd guard observing only (metrics, no
	// membership change, no lifecycle completion), for work by hand.
	EtcdGuardPaused bool
	// EtcdGuardSecretReaders are the break-glass IAM roles: they may read
	// the guard's admin talosconfig besides the guard, read and delete the
	// etcd snapshots, and change the policies that say so.
	EtcdGuardSecretReaders []string
	// AlarmTopicARN is the SNS topic the guard's and backups' alarms
	// notify; empty: the stack makes one (alarms.go).
	AlarmTopicARN string
	// Backups are the scheduled etcd snapshots (backups.go).
	Backups Backups
	// WorkloadIdentity gives the cluster an OIDC issuer and IAM OIDC
	// provider, and each AWS add-on a role of its own (identity.go).
	WorkloadIdentity bool `json:"workloadIdentity"`
	// ServiceAccountRoles are the user's own workloads' IAM roles.
	ServiceAccountRoles []ServiceAccountRole `json:"serviceAccountRoles"`

	// unreadable holds the keys Parse could not read (type errors).
	unreadable map[string]bool
	// deployed is what the stack's last `up` recorded (ParseDeployed).
	deployed Deployed
}

// Unreadable reports whether Parse could not read a key (e.g. "controlPlane"
// or "workerPools[2]"): its value is a default, not the user's.
func (c *Config) Unreadable(key string) bool { return c.unreadable[key] }

// ImageOf is the image a pool's nodes run: its own image key when set,
// else the cluster's.
func (c *Config) ImageOf(p WorkerPool) images.Spec {
	if p.Image != nil {
		return *p.Image
	}
	return c.Image
}

// RunsExtension reports which roles run a system extension: the control
// plane (the cluster's image) and any worker pool.
func (c *Config) RunsExtension(name string) (controlPlane, workers bool) {
	controlPlane = slices.Contains(c.Image.Extensions, name)
	for _, p := range c.WorkerPools {
		workers = workers || slices.Contains(c.ImageOf(p).Extensions, name)
	}
	return controlPlane, workers
}

// NVIDIAPools are the pools whose image has NVIDIA's kernel modules: the
// GPU pools the cluster's NVIDIA add-ons serve (images.NVIDIAAddonsFor).
func (c *Config) NVIDIAPools() []string {
	var out []string
	for _, p := range c.WorkerPools {
		if c.ImageOf(p).HasNVIDIA() {
			out = append(out, p.Name)
		}
	}
	return out
}

// UsesImages reports whether any role runs an image beyond the official
// one (so `up` may build AMIs).
func (c *Config) UsesImages() bool {
	if !c.Image.IsZero() {
		return true
	}
	for _, p := range c.WorkerPools {
		if !c.ImageOf(p).IsZero() {
			return true
		}
	}
	return false
}

// Arches returns the architectures in use, sorted, so an AMI is looked up once per arch.
func (c *Config) Arches() []Arch {
	seen := map[Arch]bool{c.ControlPlane.Arch: true}
	for _, p := range c.WorkerPools {
		seen[p.Arch] = true
	}
	var out []Arch
	for _, a := range []Arch{ArchAMD64, ArchARM64} {
		if seen[a] {
			out = append(out, a)
		}
	}
	return out
}
