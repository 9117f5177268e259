package talos

import (
	"fmt"

	"github.com/siderolabs/talos/pkg/machinery/config/machine"

	"github.com/talos-aws/talos-aws/config"
)

// sizeMargin covers what the estimate cannot know exactly: the real secrets'
// DER encodings differ by a few bytes from the throwaway ones.
const sizeMargin = 128

// placeholderDNS is the longest DNS name AWS can give a load balancer of
// this cluster, so the estimate never undercounts.
func placeholderDNS(cfg *config.Config, lbName string) string {
	return fmt.Sprintf("internal-%s-0123456789abcdef.elb.%s.amazonaws.com", lbName, cfg.Region)
}

// RoleSize is the estimated user-data size of one role or pool.
type RoleSize struct {
	Path  string // config key to fix when the size is too large
	Bytes int
}

// EstimateUserData renders every machine configuration locally, with the
// same generator and patches the provider will use, and returns their sizes.
// It runs before any resource exists, so an oversize config stops the
// deployment before a launch template or instance is created.
func EstimateUserData(cfg *config.Config) ([]RoleSize, error) {
	bundle, err := NewSecretsBundleCached(cfg.TalosVersion)
	if err != nil {
		return nil, err
	}
	names := config.NamesFor(cfg.ClusterName)
	in := PatchInputFor(cfg, placeholderDNS(cfg, names.InternalLB), placeholderDNS(cfg, names.PublicLB))
	endpoint := ClusterEndpoint(placeholderDNS(cfg, names.InternalLB))
	var sizes []RoleSize
	render := func(path string, typ machine.Type, patches []string, err error) error {
		if err != nil {
			return err
		}
		b, err := GenerateLocal(LocalInput{ClusterName: cfg.ClusterName, Endpoint: endpoint, KubernetesVersion: cfg.KubernetesVersion,
			TalosVersion: cfg.TalosVersion, Type: typ, Patches: patches, Secrets: bundle})
		if err == nil {
			_, err = ValidateMachineConfig(b)
		}
		if err != nil {
			return fmt.Errorf("%s: Talos rejects the machine configuration: %w", path, err)
		}
		sizes = append(sizes, RoleSize{path, len(b)})
		return nil
	}
	cpPatches, err := ControlPlanePatches(in)
	if err := render(controlPlaneKey, machine.TypeControlPlane, cpPatches, err); err != nil {
		return nil, err
	}
	for i, pool := range cfg.WorkerPools {
		patches, err := WorkerPatches(in, pool)
		if err := render(poolKey(i, pool), machine.TypeWorker, patches, err); err != nil {
			return nil, err
		}
	}
	return sizes, nil
}

// CheckUserData fails, naming every offending role or pool, when a machine
// configuration would not fit EC2's user-data limit.
func CheckUserData(cfg *config.Config) error {
	sizes, err := EstimateUserData(cfg)
	if err != nil {
		return err
	}
	var errs config.ErrorList
	for _, s := range sizes {
		if s.Bytes > MaxUserDataBytes-sizeMargin {
			errs.TooLong(s.Path, fmt.Sprintf("%d bytes", s.Bytes), fmt.Sprintf(
				"the Talos machine configuration would be about %d bytes; EC2 user data is limited to %d: shorten the config patches",
				s.Bytes, MaxUserDataBytes))
		}
	}
	return errs.Err()
}
