package images

import (
	"fmt"
	"slices"
	"strings"
)

// Chart is a pinned Helm release the cluster needs, with its values.
type Chart struct {
	Release   string
	Repo      string
	Chart     string
	Version   string
	Namespace string
	Values    map[string]any
}

// RuntimeClass is a Kubernetes RuntimeClass (node.k8s.io/v1).
type RuntimeClass struct {
	Name    string
	Handler string
}

// NVIDIAAddons is what the cluster needs, beside the nodes' extensions and
// MachinePatches, for nvidia.com/gpu to be allocatable on a Talos
// version's GPU nodes, as that version's guide says.
type NVIDIAAddons struct {
	Chart Chart
	// NamespaceLabels label Chart.Namespace, which the stack creates with
	// them; nil when the namespace is kube-system (there already).
	NamespaceLabels map[string]string
	// RuntimeClass is created by the stack when set; nil when the chart's
	// operator creates it.
	RuntimeClass *RuntimeClass
	// Source is the guide this follows.
	Source string
	// Upgrade says what moving a cluster onto this version's set involves.
	Upgrade string
}

// The pinned NVIDIA charts.
const (
	// DevicePluginVersion is the nvidia-device-plugin chart Talos 1.12's
	// guide installs (nvidia-gpu.mdx:105-111, docs v1.12).
	DevicePluginVersion = "0.13.0"
	// GPUOperatorVersion is the gpu-operator chart for Talos 1.13: the
	// guide demands v26.3.1 or later (nvidia-gpu.mdx:103, docs v1.13);
	// v26.3.3 is the newest patch of that line.
	GPUOperatorVersion = "v26.3.3"
)

// NVIDIAAddonsFor is the cluster side of GPU pools on talosVersion.
// gpuPools are the pools that run the NVIDIA extensions and poolLabel the
// node label naming a node's pool (config.PoolLabel).
//
// Talos 1.12 (nvidia-gpu.mdx:90-111 and the toolkit README, v1.12.11): a
// RuntimeClass "nvidia" with handler "nvidia" (the handler the toolkit
// extension adds to containerd,
// 10-nvidia-container-runtime.part@v1.12.11), and NVIDIA's device plugin
// chart 0.13.0 running in it, which advertises nvidia.com/gpu; GPU pods
// set runtimeClassName: nvidia. It runs in kube-system, which Talos'
// default Pod Security admission exempts (the plugin mounts host paths).
// Its DaemonSet has no node affinity of its own (values.yaml:62-63@v0.13.0)
// and a pod of a runtime class a node lacks cannot start, so it is pinned
// to the GPU pools; it tolerates nvidia.com/gpu:NoSchedule by default
// (values.yaml:64-71).
//
// Talos 1.13 (nvidia-gpu.mdx:90-112, docs v1.13): NVIDIA's GPU operator,
// v26.3.1 or later, with its driver and toolkit off (the extensions are
// both) and driverInstallDir /usr/local (where the extensions put the
// driver), in a namespace labeled for privileged pods. The operator
// creates the "nvidia" RuntimeClass itself (its pre-requisites state,
// controllers/object_controls.go:5265-5300 and
// assets/pre-requisites/0200_runtime_class.yaml@v26.3.3) and deploys the
// device plugin (devicePlugin.enabled, on by default) on the nodes its
// node-feature discovery finds GPUs on, tolerating nvidia.com/gpu
// (daemonsets.tolerations, values.yaml:41-44).
func NVIDIAAddonsFor(talosVersion, poolLabel string, gpuPools []string) (NVIDIAAddons, error) {
	minor, _, ok := minorOf(talosVersion)
	if !ok {
		return NVIDIAAddons{}, fmt.Errorf("images: Talos version %q: expected vMAJOR.MINOR.PATCH", talosVersion)
	}
	switch minor {
	case "1.12":
		if len(gpuPools) == 0 {
			return NVIDIAAddons{}, fmt.Errorf("images: the device plugin needs the GPU pools it runs on")
		}
		pools := slices.Clone(gpuPools)
		slices.Sort(pools)
		return NVIDIAAddons{
			Chart: Chart{
				Release: "nvidia-device-plugin", Repo: "https://nvidia.github.io/k8s-device-plugin", Chart: "nvidia-device-plugin",
				Version: DevicePluginVersion, Namespace: "kube-system",
				Values: map[string]any{
					"runtimeClassName": "nvidia",
					"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
						"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{
							"key": poolLabel, "operator": "In", "values": toAny(pools),
						}}}},
					}}},
				},
			},
			RuntimeClass: &RuntimeClass{Name: "nvidia", Handler: "nvidia"},
			Source:       "Talos 1.12 NVIDIA GPU guide (nvidia-gpu.mdx:90-111, docs v1.12)",
		}, nil
	case "1.13":
		return NVIDIAAddons{
			Chart: Chart{
				Release: "gpu-operator", Repo: "https://helm.ngc.nvidia.com/nvidia", Chart: "gpu-operator",
				Version: GPUOperatorVersion, Namespace: "gpu-operator",
				Values: map[string]any{
					"driver":    map[string]any{"enabled": false},
					"toolkit":   map[string]any{"enabled": false},
					"hostPaths": map[string]any{"driverInstallDir": "/usr/local"},
				},
			},
			NamespaceLabels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"},
			Source:          "Talos 1.13 NVIDIA GPU guide (nvidia-gpu.mdx:90-112, docs v1.13)",
			// upgrading-talos.mdx:42-75 (docs v1.13).
			Upgrade: "Talos' 1.13 upgrade notes remove the 1.12 set before the upgrade: the nvidia-device-plugin release and the nvidia RuntimeClass, which the GPU operator creates and owns from 1.13 on",
		}, nil
	}
	return NVIDIAAddons{}, fmt.Errorf("images: no NVIDIA add-ons known for Talos %s (known: 1.12, 1.13)", strings.TrimPrefix(minor, "v"))
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
