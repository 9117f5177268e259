package images

import (
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// chartKeys are the value paths each pinned NVIDIA chart reads, checked
// against its values.yaml at the pinned tag (a path covers everything
// below it); Helm silently drops any other key.
//   - nvidia-device-plugin 0.13.0 (NVIDIA/k8s-device-plugin v0.13.0,
//     deployments/helm/nvidia-device-plugin/values.yaml): affinity 63,
//     runtimeClassName 79 (read by templates/daemonset.yml:50-51, 213-219).
//   - gpu-operator v26.3.3 (NVIDIA/gpu-operator v26.3.3,
//     deployments/gpu-operator/values.yaml): hostPaths.driverInstallDir 35,
//     driver.enabled 119, toolkit.enabled 211.
var chartKeys = map[string]struct {
	repo, tag, path string
	keys            []string
}{
	"nvidia-device-plugin": {"NVIDIA+k8s-device-plugin", "v" + DevicePluginVersion, "deployments/helm/nvidia-device-plugin/values.yaml", []string{"affinity", "runtimeClassName"}},
	"gpu-operator":         {"NVIDIA+gpu-operator", GPUOperatorVersion, "deployments/gpu-operator/values.yaml", []string{"hostPaths.driverInstallDir", "driver.enabled", "toolkit.enabled"}},
}

func leaves(prefix string, v map[string]any) []string {
	var out []string
	for k, x := range v {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if m, ok := x.(map[string]any); ok {
			out = append(out, leaves(p, m)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func TestNVIDIAAddonsPerTalosVersion(t *testing.T) {
	a, err := NVIDIAAddonsFor("v1.12.11", "node.talos-aws.io/pool", []string{"gpu-b", "gpu-a"})
	if err != nil {
		t.Fatal(err)
	}
	if a.RuntimeClass == nil || *a.RuntimeClass != (RuntimeClass{"nvidia", "nvidia"}) {
		t.Errorf("1.12 runtime class %+v", a.RuntimeClass)
	}
	if a.Chart.Chart != "nvidia-device-plugin" || a.Chart.Version != "0.13.0" || a.Chart.Namespace != "kube-system" || a.NamespaceLabels != nil {
		t.Errorf("1.12 chart %+v %v", a.Chart, a.NamespaceLabels)
	}
	if a.Chart.Values["runtimeClassName"] != "nvidia" {
		t.Errorf("device plugin not in the nvidia runtime class: %v", a.Chart.Values)
	}
	terms := a.Chart.Values["affinity"].(map[string]any)["nodeAffinity"].(map[string]any)["requiredDuringSchedulingIgnoredDuringExecution"].(map[string]any)["nodeSelectorTerms"].([]any)
	expr := terms[0].(map[string]any)["matchExpressions"].([]any)[0].(map[string]any)
	if expr["key"] != "node.talos-aws.io/pool" || expr["operator"] != "In" || !reflect.DeepEqual(expr["values"], []any{"gpu-a", "gpu-b"}) {
		t.Errorf("device plugin not pinned to the GPU pools: %v", expr)
	}
	if _, err := NVIDIAAddonsFor("v1.12.11", "node.talos-aws.io/pool", nil); err == nil {
		t.Error("1.12 without GPU pools accepted")
	}

	b, err := NVIDIAAddonsFor("v1.13.13", "node.talos-aws.io/pool", []string{"gpu"})
	if err != nil {
		t.Fatal(err)
	}
	if b.RuntimeClass != nil {
		t.Error("1.13: the GPU operator owns the nvidia RuntimeClass; the stack must not create one")
	}
	if b.Chart.Chart != "gpu-operator" || b.Chart.Namespace != "gpu-operator" || b.NamespaceLabels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("1.13 chart %+v %v", b.Chart, b.NamespaceLabels)
	}
	want := map[string]any{"driver": map[string]any{"enabled": false}, "toolkit": map[string]any{"enabled": false}, "hostPaths": map[string]any{"driverInstallDir": "/usr/local"}}
	if !reflect.DeepEqual(b.Chart.Values, want) {
		t.Errorf("1.13 values %v, want %v", b.Chart.Values, want)
	}
	// The guide demands v26.3.1 or later.
	if v := strings.Split(strings.TrimPrefix(b.Chart.Version, "v"), "."); v[0] != "26" || v[1] != "3" || v[2] < "1" {
		t.Errorf("gpu-operator %s", b.Chart.Version)
	}
	if !strings.Contains(b.Upgrade, "nvidia-device-plugin") {
		t.Errorf("1.13 upgrade note: %q", b.Upgrade)
	}
	if _, err := NVIDIAAddonsFor("v1.14.0", "x", []string{"gpu"}); err == nil {
		t.Error("1.14 accepted")
	}

	for _, add := range []NVIDIAAddons{a, b} {
		keys := chartKeys[add.Chart.Chart]
		for _, p := range leaves("", add.Chart.Values) {
			if !slices.ContainsFunc(keys.keys, func(k string) bool { return p == k || strings.HasPrefix(p, k+".") }) {
				t.Errorf("%s: %q is not a key chart %s@%s reads", add.Chart.Chart, p, add.Chart.Chart, add.Chart.Version)
			}
		}
	}
}

// TestChartKeysInValuesYAML reads each chart's values.yaml at the pinned
// tag from a git mirror, when there is one, and checks every chartKeys
// path is there.
func TestChartKeysInValuesYAML(t *testing.T) {
	for chart, c := range chartKeys {
		dir := "/work/.mirror/" + c.repo + "/repo"
		if _, err := os.Stat(dir); err != nil {
			t.Logf("%s: no mirror at %s: keys not re-checked", chart, dir)
			continue
		}
		out, err := exec.Command("git", "--git-dir", dir, "show", c.tag+":"+c.path).Output()
		if err != nil {
			t.Fatalf("%s: %s:%s: %v", chart, c.tag, c.path, err)
		}
		var values map[string]any
		if err := yaml.Unmarshal(out, &values); err != nil {
			t.Fatal(err)
		}
		for _, k := range c.keys {
			var cur any = values
			for _, part := range strings.Split(k, ".") {
				m, ok := cur.(map[string]any)
				if !ok {
					cur = nil
					break
				}
				if cur, ok = m[part]; !ok {
					cur = nil
					break
				}
			}
			if cur == nil && !strings.HasSuffix(k, "runtimeClassName") {
				t.Errorf("%s@%s: no %s in %s", chart, c.tag, k, c.path)
			}
		}
		// runtimeClassName is null by default: present, not set.
		if chart == "nvidia-device-plugin" {
			if _, ok := values["runtimeClassName"]; !ok {
				t.Errorf("%s@%s: no runtimeClassName", chart, c.tag)
			}
		}
	}
}
