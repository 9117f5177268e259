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
// cluster patches and, when they are not Talos' default, the API servers'
// service-account issuers.
func ControlPlanePatches(in PatchInput) ([]string, error) {
	patches, err := ClusterPatches(in)
	if err != nil || len(in.ServiceAccountIssuers) == 0 {
		return patches, err
	}
	p, err := render(IssuerPatch(in.ServiceAccountIssuers, in.ServiceAccountJWKSURI))
	if err != nil {
		return nil, err
	}
	return append(patches, p), nil
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
