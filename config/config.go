// Package config declares, reads and validates the whole stack configuration.
// Every other stage only reads the typed Config this package returns.
package config

import (
	"slices"

	"github.com/talos-aws/talos-aws/images"
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

// ControlPlane is the control-plane node group.
type ControlPlane struct {
	Count        int        `json:"count"`
	InstanceType string     `json:"instanceType"`
	Arch         Arch       `json:"arch"`
	RootVolume   RootVolume `json:"rootVolume"`
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
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

// Chart is a Helm chart add-on that can be switched off.
type Chart struct {
	Enabled bool   `json:"enabled"`
	Version string `json:"version"`
}

// Cilium is the CNI add-on.
type Cilium struct {
	Enabled bool   `json:"enabled"`
	Version string `json:"version"`
	Hubble  bool   `json:"hubble"`
}

// CloudControllerManager is the AWS cloud controller manager add-on.
type CloudControllerManager struct {
	Enabled bool   `json:"enabled"`
	Version string `json:"version"`
	// ImageTag pins the controller image; its minor should match Kubernetes'.
	ImageTag string `json:"imageTag"`
}

// RootApp is the optional Argo CD app-of-apps.
type RootApp struct {
	RepoURL  string `json:"repoURL,omitempty"`
	Path     string `json:"path,omitempty"`
	Revision string `json:"revision,omitempty"`
}

// ArgoCD is the GitOps add-on.
type ArgoCD struct {
	Enabled     bool    `json:"enabled"`
	Version     string  `json:"version"`
	AppsVersion string  `json:"appsVersion"`
	RootApp     RootApp `json:"rootApp"`
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
	APIAccess         string
	IngressAccess     string
	Endpoint          Endpoint
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
