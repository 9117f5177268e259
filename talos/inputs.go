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

// ControlPlanePatches is the full patch list of a control-plane node.
func ControlPlanePatches(in PatchInput) ([]string, error) {
	return ClusterPatches(in)
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
