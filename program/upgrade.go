package program

import (
	"fmt"
	"strings"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/talos"
)

// upgradeNotes says, in preview and up, what a version change does to the
// running cluster: which nodes roll, in which order, and what restarts.
// Versions come from what the last `up` recorded; a stack deployed before
// the record is assumed to run what it was deployed with, the legacy
// defaults, unless its configuration names the versions.
func upgradeNotes(cfg *config.Config, last config.Deployed) []string {
	if !last.Exists {
		return nil
	}
	fromTalos, fromK8s, assumed := last.TalosVersion, last.KubernetesVersion, ""
	if fromTalos == "" {
		fromTalos, assumed = config.LegacyTalosVersion, " (assumed: what the talos-aws release that deployed this stack defaulted to)"
	}
	if fromK8s == "" {
		fromK8s = config.LegacyKubernetesVersion
	}
	var changes []string
	if cfg.TalosVersion != fromTalos {
		c := fmt.Sprintf("talosVersion %s -> %s%s: every node boots the new AMI", fromTalos, cfg.TalosVersion, assumed)
		if img := talos.InstallerImage(cfg.TalosVersion); img != talos.InstallerImage(fromTalos) {
			c += " and its machine configuration names the installer " + img
		}
		changes = append(changes, c)
		if gpu := cfg.NVIDIAPools(); len(gpu) > 0 && strings.HasPrefix(fromTalos, "v1.12.") && !strings.HasPrefix(cfg.TalosVersion, "v1.12.") {
			// Talos 1.13's upgrade notes (upgrading-talos.mdx:42-75, docs
			// v1.13): the 1.12 NVIDIA set gives way to the GPU operator.
			changes = append(changes, fmt.Sprintf("GPU pools (%s): the nvidia-device-plugin release is replaced by NVIDIA's GPU operator %s, which takes over the nvidia RuntimeClass (the stack leaves it in place); "+
				"the old device plugin runs until `up` deletes its release at the end", strings.Join(gpu, ", "), images.GPUOperatorVersion))
		}
	}
	if cfg.KubernetesVersion != fromK8s {
		c := fmt.Sprintf("kubernetesVersion %s -> %s: every node runs the new kubelet, the control plane the new API server, controller manager and scheduler", fromK8s, cfg.KubernetesVersion)
		from, to := config.AddonsFor(fromK8s), config.AddonsFor(cfg.KubernetesVersion)
		var restarts []string
		if cfg.Addons.CloudControllerManager.Enabled && from.CCMImage != to.CCMImage {
			restarts = append(restarts, fmt.Sprintf("the cloud controller manager (%s -> %s)", from.CCMImage, to.CCMImage))
		}
		if from.AutoscalerImage != to.AutoscalerImage && anyAutoscaled(cfg) {
			restarts = append(restarts, "the cluster autoscaler (its "+strings.SplitN(cfg.KubernetesVersion, ".", 3)[1]+" minor's release)")
		}
		if len(restarts) > 0 {
			c += "; " + strings.Join(restarts, " and ") + " restart on the new minor's release once the nodes are Ready"
		}
		c += fmt.Sprintf("; after `up`, `talosctl upgrade-k8s --to %s` updates the bootstrap manifests new nodes do not (docs/operations.md#upgrade-talos-and-kubernetes)", cfg.KubernetesVersion)
		changes = append(changes, c)
	}
	if len(changes) == 0 {
		return nil
	}
	pools := make([]string, 0, len(cfg.WorkerPools))
	for _, p := range cfg.WorkerPools {
		pools = append(pools, p.Name)
	}
	roll := fmt.Sprintf("Rolls: the control plane first, %d node(s) one at a time, each new node launched before an old one goes and gated by the etcd guard (it joins etcd as a healthy voter before the old node leaves); "+
		"`up` waits for that roll, then the worker pools (%s) replace their nodes by instance refresh, so no kubelet is ever newer than the API server.",
		cfg.ControlPlane.Count, strings.Join(pools, ", "))
	return append(changes, roll)
}

func anyAutoscaled(cfg *config.Config) bool {
	for _, p := range cfg.WorkerPools {
		if p.Autoscaled {
			return true
		}
	}
	return false
}
