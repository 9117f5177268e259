package talos

import (
	"fmt"
	"strings"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/internal/ports"
)

// controlPlaneKey and poolKey name the config key to fix when a role's
// machine configuration is rejected or too large.
const controlPlaneKey = "controlPlane"

func poolKey(i int) string {
	return fmt.Sprintf("workerPools[%d].configPatches", i)
}

// ClusterEndpoint is the Talos cluster endpoint for an API host name.
func ClusterEndpoint(host string) string {
	return fmt.Sprintf("https://%s:%d", host, ports.KubeAPI)
}

// PatchInputFor derives the patch input from the configuration and the
// names the nodes' certificates carry (CertSANs).
func PatchInputFor(cfg *config.Config, certSANs []string) PatchInput {
	return PatchInput{
		CertSANs:       certSANs,
		PodCIDR:        cfg.PodCIDR,
		ServiceCIDR:    cfg.ServiceCIDR,
		TalosAPIAccess: cfg.Addons.CSRApprover.Enabled,
	}
}

// StableSANs are the certificate names of a stack with the stable
// endpoint, all known before any load balancer exists: the stable host;
// every load balancer DNS name of the region, as one wildcard (an ELB
// name is <name>-<id>.elb.<region>.<suffix>: one label, which a wildcard
// matches, RFC 6125), so kubectl and talosctl verify the load balancers
// they dial, whichever is replaced; the public name; and, with a private
// API, the loopback names an SSM port forward dials. A wildcard is no
// wider trust here: clients trust only the cluster's own CA, which signs
// nothing but the cluster's certificates.
func StableSANs(cfg *config.Config) []string {
	sans := []string{config.StableHost(cfg.ClusterName), "*.elb." + cfg.Region + "." + dnsSuffix(cfg.Region)}
	if cfg.Endpoint.PublicName != "" {
		sans = append(sans, cfg.Endpoint.PublicName)
	}
	if cfg.PrivateAPI() {
		sans = append(sans, "localhost", "127.0.0.1")
	}
	return sans
}

// dnsSuffix is the AWS partition's DNS suffix of a region.
func dnsSuffix(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// ControlPlanePatches is the full patch list of a control-plane node: the
// cluster patches and, when they are not Talos' default, the API servers'
// service-account issuers.
func ControlPlanePatches(in PatchInput) ([]string, error) {
	patches, err := ClusterPatches(in)
	if err != nil {
		return nil, err
	}
	if len(in.ServiceAccountIssuers) > 0 {
		p, err := render(IssuerPatch(in.ServiceAccountIssuers, in.ServiceAccountJWKSURI))
		if err != nil {
			return nil, err
		}
		patches = append(patches, p)
	}
	if len(in.APIAudiences) > 0 {
		p, err := render(AudiencePatch(in.APIAudiences))
		if err != nil {
			return nil, err
		}
		patches = append(patches, p)
	}
	return patches, nil
}

// AudiencePatch sets the API servers' token audiences. Talos sets
// --api-audiences to the cluster endpoint (control_plane_static_pod.go,
// v1.12.0 and v1.13.9) and lets extraArgs override it; kube-apiserver reads
// it as a comma-separated list (a string slice), so one value works on
// every Talos version.
func AudiencePatch(audiences []string) machinePatch {
	return machinePatch{Cluster: &clusterSection{APIServer: &apiServer{ExtraArgs: map[string]any{
		"api-audiences": strings.Join(audiences, ","),
	}}}}
}

// IssuerPatch makes the API servers sign service-account tokens as
// issuers[0], accept every one of issuers, and (with workload identity)
// advertise their keys at jwksURI, so STS verifies them without reaching the
// cluster. Talos defaults the issuer to the cluster endpoint and lets
// extraArgs override it (MergeOverwrite; the key files stay MergeDenied:
// internal/app/machined/pkg/controllers/k8s/control_plane_static_pod.go
// v1.12.0 and v1.13.9); the key, and so every token's signature, stays the
// machine secrets'. One issuer is written as a string, as always; several
// as a list, which Talos takes from 1.13 (v1alpha1 Args/ArgValue) and
// passes as one --service-account-issuer flag each (pkg/argsbuilder
// Args.Args, v1.13.9): kube-apiserver signs with the first and accepts all.
func IssuerPatch(issuers []string, jwksURI string) machinePatch {
	args := map[string]any{"service-account-issuer": issuers[0]}
	if len(issuers) > 1 {
		args["service-account-issuer"] = issuers
	}
	if jwksURI != "" {
		args["service-account-jwks-uri"] = jwksURI
	}
	return machinePatch{Cluster: &clusterSection{APIServer: &apiServer{ExtraArgs: args}}}
}

// WorkerPatches is the full patch list of a pool's worker node: the cluster
// patches, the pool's labels and taints, its image's companion patches,
// then the user's patches last (they may override the companions).
func WorkerPatches(in PatchInput, pool config.WorkerPool, img Image) ([]string, error) {
	// Talos API access from Kubernetes is a control-plane-only feature.
	in.TalosAPIAccess = false
	base, err := ClusterPatches(in)
	if err != nil {
		return nil, err
	}
	labels, err := poolLabelsPatch(pool)
	if err != nil {
		return nil, err
	}
	out := append(base, labels)
	out = append(out, img.Patches...)
	return append(out, pool.ConfigPatches...), nil
}

// ControlPlaneRolePatches is the control plane's full patch list: its
// patches (ControlPlanePatches), then its image's companion patches.
func ControlPlaneRolePatches(in PatchInput, img Image) ([]string, error) {
	patches, err := ControlPlanePatches(in)
	if err != nil {
		return nil, err
	}
	return append(patches, img.Patches...), nil
}
