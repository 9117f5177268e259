package talos

import (
	"errors"
	"fmt"
	"strings"

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
// deployment before a launch template or instance is created. A role Talos
// rejects is reported in the returned error and the others are still
// rendered: one bad pool must not hide the next.
func EstimateUserData(cfg *config.Config) ([]RoleSize, error) {
	bundle, err := NewSecretsBundleCached(cfg.TalosVersion)
	if err != nil {
		return nil, err
	}
	names := config.NamesFor(cfg.ClusterName)
	in := PatchInputFor(cfg, []string{placeholderDNS(cfg, names.InternalLB), placeholderDNS(cfg, names.PublicLB)})
	endpoint := ClusterEndpoint(placeholderDNS(cfg, names.InternalLB))
	if cfg.StableEndpoint() {
		in = PatchInputFor(cfg, StableSANs(cfg))
		endpoint = ClusterEndpoint(config.StableHost(cfg.ClusterName))
	}
	if cfg.WorkloadIdentity {
		// CloudFront names are d + 13 or 14 characters: the longest.
		issuer := "https://d00000000000000.cloudfront.net"
		in.ServiceAccountIssuers = []string{issuer}
		in.ServiceAccountJWKSURI = issuer + "/openid/v1/jwks"
	}
	if MultipleIssuers(cfg.TalosVersion) {
		// The largest configuration is the one of a move: the old issuer,
		// the cluster endpoint at its longest, still accepted.
		primary := endpoint
		if cfg.WorkloadIdentity {
			primary = in.ServiceAccountIssuers[0]
		}
		in.ServiceAccountIssuers = []string{primary, endpoint}
	}
	// And the audiences of an endpoint move: the new and the old one.
	in.APIAudiences = []string{endpoint, ClusterEndpoint(placeholderDNS(cfg, names.InternalLB))}
	var sizes []RoleSize
	var errs config.ErrorList
	generate := func(typ machine.Type, patches []string, img Image) ([]byte, error) {
		b, err := Render(RenderInput{ClusterName: cfg.ClusterName, Endpoint: endpoint, KubernetesVersion: cfg.KubernetesVersion,
			TalosVersion: cfg.TalosVersion, Type: typ, Patches: patches, Secrets: bundle, InstallImage: img.Installer})
		if err == nil {
			_, err = ValidateMachineConfig(b)
		}
		return b, err
	}
	// blame names the element whose patch makes Talos reject the config.
	render := func(path, what string, typ machine.Type, patches []string, img Image, err error, blame func() string) {
		if err != nil {
			errs.Invalid(path, nil, err.Error())
			return
		}
		b, err := generate(typ, patches, img)
		if err != nil {
			if blame != nil {
				path = blame()
			}
			errs.Invalid(path, nil, fmt.Sprintf("Talos rejects the %s machine configuration: %s", what, userTerms(err)))
			return
		}
		sizes = append(sizes, RoleSize{path, len(b)})
	}
	// Each role with its image's installer and companion patches, exactly
	// as the program renders it.
	cpImage := ControlPlaneImage(cfg)
	cpPatches, err := ControlPlaneRolePatches(in, cpImage)
	render(controlPlaneKey, "control-plane", machine.TypeControlPlane, cpPatches, cpImage, err, nil)
	for i, pool := range cfg.WorkerPools {
		if cfg.Unreadable(fmt.Sprintf("workerPools[%d]", i)) {
			continue // reported by config; its values are defaults
		}
		img := PoolImage(cfg, pool)
		patches, err := WorkerPatches(in, pool, img)
		blame := func() string {
			return offendingPatch(i, pool, patches, func(p []string) bool { _, err := generate(machine.TypeWorker, p, img); return err == nil })
		}
		render(poolKey(i), fmt.Sprintf("worker pool %q", pool.Name), machine.TypeWorker, patches, img, err, blame)
	}
	return sizes, errs.Err()
}

// offendingPatch is the path of the first of the pool's own configPatches
// after which its configuration no longer renders (the user's patches come
// last in patches), with the index the user wrote; the list's path when the
// stack's patches alone fail or no single patch is to blame.
func offendingPatch(i int, pool config.WorkerPool, patches []string, renders func([]string) bool) string {
	first := len(patches) - len(pool.ConfigPatches)
	if first < 0 || !renders(patches[:first]) {
		return poolKey(i)
	}
	for k := range pool.ConfigPatches {
		if !renders(patches[:first+k+1]) {
			j := k
			if k < len(pool.PatchIndices) {
				j = pool.PatchIndices[k]
			}
			return fmt.Sprintf("%s[%d]", poolKey(i), j)
		}
	}
	return poolKey(i)
}

// CheckUserData fails, naming every offending role or pool, when a machine
// configuration would not fit EC2's user-data limit or Talos rejects it.
func CheckUserData(cfg *config.Config) error {
	return CheckUserDataErrors(cfg).Err()
}

// CheckUserDataErrors is CheckUserData as a list, to join the other checks.
func CheckUserDataErrors(cfg *config.Config) config.ErrorList {
	sizes, err := EstimateUserData(cfg)
	var errs config.ErrorList
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		errs = append(errs, ve.Errors...)
	} else if err != nil {
		errs.Invalid("talosVersion", cfg.TalosVersion, err.Error())
	}
	for _, s := range sizes {
		if s.Bytes > MaxUserDataBytes-sizeMargin {
			errs.TooLong(s.Path, fmt.Sprintf("%d bytes", s.Bytes), fmt.Sprintf(
				"the Talos machine configuration would be about %d bytes; EC2 user data is limited to %d: shorten the config patches",
				s.Bytes, MaxUserDataBytes))
		}
	}
	return errs
}

// userTerms flattens Talos' nested multierror text ("1 error occurred:\n\t*
// v1alpha1.Config: ...") into one line of the problems themselves.
func userTerms(err error) string {
	var parts []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "* "))
		if line == "" || strings.HasSuffix(line, "error occurred:") || strings.HasSuffix(line, "errors occurred:") {
			continue
		}
		for _, prefix := range []string{"v1alpha1.Config: ", "1 error occurred:"} {
			line = strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
		if line != "" {
			parts = append(parts, line)
		}
	}
	if len(parts) == 0 {
		return err.Error()
	}
	return strings.Join(parts, "; ")
}
