package images

import (
	"slices"
	"strings"
)

// ECRCredentialProvider is the extension that lets the kubelet pull from
// ECR with the node's role.
const ECRCredentialProvider = "siderolabs/ecr-credential-provider" //nolint:gosec // an extension's name

// nvidiaModulesPatch loads NVIDIA's kernel modules, as Talos' NVIDIA
// guides (OSS and proprietary) patch every GPU node: docs v1.12
// nvidia-gpu.mdx:43-49, nvidia-gpu-proprietary.mdx:45-51; docs v1.13
// nvidia-gpu.mdx:45-51, nvidia-gpu-proprietary.mdx:45-51.
const nvidiaModulesPatch = `machine:
  kernel:
    modules:
      - name: nvidia
      - name: nvidia_uvm
      - name: nvidia_drm
      - name: nvidia_modeset
`

// nvidiaBPFJITPatch relaxes the KSPP net.core.bpf_jit_harden Talos sets
// to 1: the 1.12 container toolkit's nvidia-container-cli loads BPF
// programs (nvidia-container-toolkit/README.md:23-29@v1.12.11; Talos
// 1.12's guides, nvidia-gpu.mdx:50-51 and nvidia-gpu-proprietary.mdx:52-53).
// The 1.13 toolkit no longer ships
// nvidia-container-cli (it generates a CDI specification instead,
// nvidia-cdi-gen.yaml@v1.13.9) and the 1.13 guides drop the sysctl, so
// 1.13 nodes keep Talos' hardening.
const nvidiaBPFJITPatch = `machine:
  sysctls:
    net.core.bpf_jit_harden: "1"
`

// ecrCredentialProviderPatch is the kubelet configuration the ECR
// credential provider extension's README gives
// (container-runtime/ecr-credential-provider/README.md:14-30, identical at
// v1.12.11 and v1.13.9). The node's role needs ECR's pull permissions
// (ecr:GetAuthorizationToken, ecr:BatchGetImage,
// ecr:GetDownloadUrlForLayer). It holds no credential: the kubelet runs
// the provider, which takes the node role's.
//
//nolint:gosec // configuration of a credential provider, not a credential
const ecrCredentialProviderPatch = `machine:
  kubelet:
    credentialProviderConfig:
      apiVersion: kubelet.config.k8s.io/v1
      kind: CredentialProviderConfig
      providers:
        - name: ecr-credential-provider
          matchImages:
            - "*.dkr.ecr.*.amazonaws.com"
            - "*.dkr.ecr.*.amazonaws.com.cn"
            - "*.dkr.ecr-fips.*.amazonaws.com"
            - "*.dkr.ecr.us-iso-east-1.c2s.ic.gov"
            - "*.dkr.ecr.us-isob-east-1.sc2s.sgov.gov"
          defaultCacheDuration: "12h"
          apiVersion: credentialprovider.kubelet.k8s.io/v1
`

// MachinePatches are the Talos machine-configuration patches (strategic
// merge, YAML) the extensions of s need on a node of talosVersion, in a
// fixed order: the stack applies them to the group's configuration before
// the user's own patches, so a user need not (and should not) write them.
// Nothing for a spec without such extensions.
func MachinePatches(talosVersion string, s Spec) []string {
	var out []string
	if s.HasNVIDIA() {
		out = append(out, nvidiaModulesPatch)
		if strings.HasPrefix(talosVersion, "v1.12.") {
			out = append(out, nvidiaBPFJITPatch)
		}
	}
	if slices.Contains(s.Extensions, ECRCredentialProvider) {
		out = append(out, ecrCredentialProviderPatch)
	}
	return out
}
