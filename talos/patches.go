package talos

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/ports"
)

// Constants the patches share with other stages.
const (
	// AmazonTimeSync is the link-local Amazon Time Sync Service.
	AmazonTimeSync = "169.254.169.123"
)

// PatchInput is the typed input of the patches every node gets.
type PatchInput struct {
	// SANs: both NLB DNS names. talosctl and kubectl reach the nodes through
	// the public NLB and verify its name; nodes use the internal one.
	CertSANs    []string
	PodCIDR     string
	ServiceCIDR string
	// TalosAPIAccess lets the CSR approver (kube-system) read node identities
	// through the Talos API; control plane only.
	TalosAPIAccess bool
	// ServiceAccountIssuers, when set, are the API servers'
	// service-account issuers (PlanIssuers): the first signs, all are
	// accepted; with workload identity its keys are at
	// ServiceAccountJWKSURI.
	ServiceAccountIssuers []string
	ServiceAccountJWKSURI string
	// APIAudiences, when set, are the API servers' token audiences
	// (PlanAudiences).
	APIAudiences []string
	// issuers and audiences are the planned lists even when Talos'
	// defaults need no patch, for the stack's record.
	issuers, audiences []string
}

// The structs below mirror the subset of Talos' v1alpha1 schema the patches
// set. Fields are omitempty so each patch only touches what it means to.
type machinePatch struct {
	Machine *machineSection `json:"machine,omitempty"`
	Cluster *clusterSection `json:"cluster,omitempty"`
}

type machineSection struct {
	CertSANs   []string          `json:"certSANs,omitempty"`
	Kubelet    *kubelet          `json:"kubelet,omitempty"`
	Features   *features         `json:"features,omitempty"`
	Time       *timeSection      `json:"time,omitempty"`
	NodeLabels map[string]string `json:"nodeLabels,omitempty"`
}

type kubelet struct {
	ExtraArgs        map[string]string `json:"extraArgs,omitempty"`
	ExtraConfig      *kubeletConfig    `json:"extraConfig,omitempty"`
	RegisterWithFQDN *bool             `json:"registerWithFQDN,omitempty"`
}

// kubeletConfig is the part of the KubeletConfiguration (kubelet.config.k8s.io
// v1beta1) the patches set through machine.kubelet.extraConfig.
type kubeletConfig struct {
	RegisterWithTaints []kubeletTaint `json:"registerWithTaints,omitempty"`
}

// kubeletTaint is a core/v1 Taint as the KubeletConfiguration spells it.
type kubeletTaint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

type features struct {
	KubePrism                *kubePrism      `json:"kubePrism,omitempty"`
	HostDNS                  *hostDNS        `json:"hostDNS,omitempty"`
	KubernetesTalosAPIAccess *talosAPIAccess `json:"kubernetesTalosAPIAccess,omitempty"`
}

type kubePrism struct {
	Enabled bool `json:"enabled"`
	Port    int  `json:"port"`
}

type hostDNS struct {
	Enabled              bool `json:"enabled"`
	ForwardKubeDNSToHost bool `json:"forwardKubeDNSToHost"`
}

type talosAPIAccess struct {
	Enabled                     bool     `json:"enabled"`
	AllowedRoles                []string `json:"allowedRoles"`
	AllowedKubernetesNamespaces []string `json:"allowedKubernetesNamespaces"`
}

type timeSection struct {
	Servers []string `json:"servers"`
}

type clusterSection struct {
	APIServer             *apiServer             `json:"apiServer,omitempty"`
	Network               *clusterNetwork        `json:"network,omitempty"`
	Proxy                 *proxy                 `json:"proxy,omitempty"`
	ExternalCloudProvider *externalCloudProvider `json:"externalCloudProvider,omitempty"`
}

type apiServer struct {
	CertSANs []string `json:"certSANs,omitempty"`
	// ExtraArgs values are strings, or lists from Talos 1.13.
	ExtraArgs map[string]any `json:"extraArgs,omitempty"`
}

type clusterNetwork struct {
	CNI            *cni     `json:"cni,omitempty"`
	PodSubnets     []string `json:"podSubnets,omitempty"`
	ServiceSubnets []string `json:"serviceSubnets,omitempty"`
}

type cni struct {
	Name string `json:"name"`
}

type proxy struct {
	Disabled bool `json:"disabled"`
}

type externalCloudProvider struct {
	Enabled bool `json:"enabled"`
}

func render(p machinePatch) (string, error) {
	b, err := yaml.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("render Talos patch: %w", err)
	}
	return string(b), nil
}

// ClusterPatches are the patches every node gets, in order. Each is its own
// document so a failure names the concern, and order is stable.
func ClusterPatches(in PatchInput) ([]string, error) {
	registerWithFQDN := true
	patches := []machinePatch{
		// Both NLB names on apid's and the API server's certificates.
		{Machine: &machineSection{CertSANs: in.CertSANs},
			Cluster: &clusterSection{APIServer: &apiServer{CertSANs: in.CertSANs}}},
		// Cilium is the CNI and replaces kube-proxy.
		{Cluster: &clusterSection{
			Network: &clusterNetwork{CNI: &cni{Name: "none"}, PodSubnets: []string{in.PodCIDR}, ServiceSubnets: []string{in.ServiceCIDR}},
			Proxy:   &proxy{Disabled: true},
		}},
		// The AWS cloud controller manager initialises nodes (providerID,
		// addresses, zone labels); Talos then runs the kubelet with
		// --cloud-provider=external.
		{Cluster: &clusterSection{ExternalCloudProvider: &externalCloudProvider{Enabled: true}}},
		// Serving certificates signed by the cluster CA (approved by the CSR
		// approver), and node names equal to the EC2 private DNS name
		// (ip-10-0-1-5.<region>.compute.internal), which the AWS cloud
		// controller manager looks instances up by.
		{Machine: &machineSection{Kubelet: &kubelet{
			ExtraArgs:        map[string]string{"rotate-server-certificates": "true"},
			RegisterWithFQDN: &registerWithFQDN,
		}}},
		// KubePrism on a fixed port: Cilium reaches the API server through it.
		// Host DNS stays on, but kube-dns is not forwarded to it: with
		// Cilium's BPF masquerading (on, see addons) pods' DNS packets to
		// the host resolver's link-local address are masqueraded and CoreDNS
		// breaks (Talos' Cilium guide, siderolabs/talos#9200). CoreDNS
		// resolves upstream itself instead.
		{Machine: &machineSection{Features: &features{
			KubePrism: &kubePrism{Enabled: true, Port: ports.KubePrism},
			HostDNS:   &hostDNS{Enabled: true, ForwardKubeDNSToHost: false},
		}}},
		// Amazon Time Sync, reachable without NAT.
		{Machine: &machineSection{Time: &timeSection{Servers: []string{AmazonTimeSync}}}},
	}
	if in.TalosAPIAccess {
		patches = append(patches, machinePatch{Machine: &machineSection{Features: &features{
			KubernetesTalosAPIAccess: &talosAPIAccess{
				Enabled:                     true,
				AllowedRoles:                []string{"os:reader"},
				AllowedKubernetesNamespaces: []string{"kube-system"},
			},
		}}})
	}
	out := make([]string, 0, len(patches))
	for _, p := range patches {
		s, err := render(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// PoolPatches are a worker pool's own patches: its labels and taints, then
// the user's patches, which come last so they can override anything.
//
// Taints go to the kubelet's registerWithTaints, not machine.nodeTaints.
// Talos applies nodeTaints (and nodeLabels) by updating the Node with the
// kubelet's own credentials (siderolabs/talos v1.12.0
// internal/app/machined/pkg/controllers/k8s/node_apply.go), and the
// NodeRestriction admission plugin refuses any taint change in a kubelet's
// Node update (kubernetes v1.35 plugin/pkg/admission/noderestriction/
// admission.go: "is not allowed to modify taints"), which would also drop the
// labels sent in the same update. The kubelet may set taints when it creates
// its Node, and it does so from registerWithTaints. Talos copies
// machine.kubelet.extraConfig into the KubeletConfiguration it runs the
// kubelet with (kubelet_spec.go, prepareExtraConfig/NewKubeletConfiguration;
// registerWithTaints is not among pkg/machinery/kubelet's
// ProtectedConfigurationFields). Labels stay in nodeLabels: NodeRestriction
// lets a kubelet set labels outside kubernetes.io/k8s.io, and config
// validation rejects the ones it forbids.
func PoolPatches(pool config.WorkerPool) ([]string, error) {
	s, err := poolLabelsPatch(pool)
	if err != nil {
		return nil, err
	}
	return append([]string{s}, pool.ConfigPatches...), nil
}

// poolLabelsPatch is the pool's labels and taints patch (PoolPatches).
func poolLabelsPatch(pool config.WorkerPool) (string, error) {
	labels := map[string]string{}
	for k, v := range pool.Labels {
		labels[k] = v
	}
	labels[config.PoolLabel] = pool.Name
	m := &machineSection{NodeLabels: labels}
	if len(pool.Taints) > 0 {
		// Order kept as configured; the same key may carry several effects.
		taints := make([]kubeletTaint, 0, len(pool.Taints))
		for _, t := range pool.Taints {
			taints = append(taints, kubeletTaint{Key: t.Key, Value: t.Value, Effect: t.Effect})
		}
		m.Kubelet = &kubelet{ExtraConfig: &kubeletConfig{RegisterWithTaints: taints}}
	}
	return render(machinePatch{Machine: m})
}
