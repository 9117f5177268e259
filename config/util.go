package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	machineapi "github.com/siderolabs/talos/pkg/machinery/api/machine"
)

func contains(list []string, v string) bool { return slices.Contains(list, v) }

func hasAnyPrefix(s string, prefixes ...string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func talosVersionInfo(tag string) *machineapi.VersionInfo {
	return &machineapi.VersionInfo{Tag: tag}
}

// k8sRanges are the Kubernetes versions each supported Talos minor accepts
// (pkg/machinery/compatibility), for error messages.
var k8sRanges = map[string]string{"1.10": "1.28.0-1.33.x", "1.11": "1.29.0-1.34.x", "1.12": "1.30.0-1.35.x"}

func supportedK8sRange(talosVersion string) string {
	parts := strings.SplitN(strings.TrimPrefix(talosVersion, "v"), ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return fmt.Sprintf("%s (supported by Talos %s)", k8sRanges[parts[0]+"."+parts[1]], talosVersion)
}
