package config

import (
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
