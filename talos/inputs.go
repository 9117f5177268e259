package talos

import (
	"fmt"

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

// PatchInputFor derives the patch input from the configuration and the two
// load balancer names.
func PatchInputFor(cfg *config.Config, internalDNS, publicDNS string) PatchInput {
	return PatchInput{
		CertSANs:       []string{internalDNS, publicDNS},
		PodCIDR:        cfg.PodCIDR,
		ServiceCIDR:    cfg.ServiceCIDR,
		TalosAPIAccess: cfg.Addons.CSRApprover.Enabled,
	}
}

// ControlPlanePatches is the full patch list of a control-plane node: the
// cluster patches and, with workload identity, the API servers' issuer.
func ControlPlanePatches(in PatchInput) ([]string, error) {
	patches, err := ClusterPatches(in)
	if err != nil || in.ServiceAccountIssuer == "" {
		return patches, err
	}
	p, err := render(IssuerPatch(in.ServiceAccountIssuer, in.ServiceAccountJWKSURI))
	if err != nil {
		return nil, err
	}
	return append(patches, p), nil
}

// IssuerPatch makes the API servers sign service-account tokens as issuer
// and advertise its keys at jwksURI, so STS verifies them without reaching
// the cluster. Talos v1.12.0 defaults the issuer to the cluster endpoint
// (the internal NLB) and lets extraArgs override both flags (the key files
// stay in its MergeDenied list: control_plane_static_pod.go, argsbuilder);
// the key, and so every token's signature, stays the machine secrets'.
// extraArgs holds one value per flag in 1.12, so there is no second,
// accepted issuer to migrate through (README "Workload identity").
func IssuerPatch(issuer, jwksURI string) machinePatch {
	return machinePatch{Cluster: &clusterSection{APIServer: &apiServer{ExtraArgs: map[string]string{
		"service-account-issuer":   issuer,
		"service-account-jwks-uri": jwksURI,
	}}}}
}

// WorkerPatches is the full patch list of a pool's worker node: the cluster
// patches, the pool's labels and taints, then the user's patches last.
func WorkerPatches(in PatchInput, pool config.WorkerPool) ([]string, error) {
	// Talos API access from Kubernetes is a control-plane-only feature.
	in.TalosAPIAccess = false
	base, err := ClusterPatches(in)
	if err != nil {
		return nil, err
	}
	own, err := PoolPatches(pool)
	if err != nil {
		return nil, err
	}
	return append(base, own...), nil
}
