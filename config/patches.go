package config

import (
	"fmt"
	"strings"

	"github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	"sigs.k8s.io/yaml"
)

// validatePatch checks one worker-pool Talos patch the way the program
// will load it (configpatcher.LoadPatches, machinery v1.13.9), and
// rejects what would load but cannot apply, and what would change a field
// of owned (ownedFieldsFor).
func validatePatch(path, patch, talosVersion string, owned []ownedField, errs *ErrorList) {
	trimmed := strings.TrimSpace(patch)
	if trimmed == "" {
		errs.Invalid(path, nil, "empty patch: remove it, or write a YAML strategic merge patch such as \"machine:\\n  sysctls:\\n    vm.max_map_count: \\\"262144\\\"\"")
		return
	}
	// LoadPatches reads "@file", and any text without a space or newline
	// that does not start with '[' or '{', as a file path on the machine
	// running Pulumi (configpatcher/load.go). Patches here are inline.
	if strings.HasPrefix(trimmed, "@") || (!strings.ContainsAny(patch, "\n ") && !strings.HasPrefix(patch, "[") && !strings.HasPrefix(patch, "{")) {
		errs.Invalid(path, patch, "looks like a file name: Talos would read it from the disk of whoever runs pulumi; put the YAML patch itself here")
		return
	}
	var doc any
	if err := yaml.Unmarshal([]byte(patch), &doc); err == nil && isEmpty(doc) {
		errs.Invalid(path, patch, "empty object: the patch changes nothing; set at least one field, e.g. \"machine:\\n  sysctls: {...}\"")
		return
	}
	p, err := configpatcher.LoadPatch([]byte(patch))
	if err != nil {
		errs.Invalid(path, nil, "not a valid Talos strategic merge patch (a YAML machine configuration fragment): "+err.Error())
		return
	}
	validateOwnedFields(path, patch, owned, errs)
	if _, ok := p.(configpatcher.StrategicMergePatch); !ok {
		// configpatcher.JSON6902 (machinery v1.13.9, json6902.go) refuses any
		// config with more than one YAML document, and Talos 1.12 and 1.13
		// machine configurations have several (v1alpha1 and
		// HostnameConfig), so such a patch fails at apply.
		errs.Invalid(path, nil, fmt.Sprintf("JSON6902 (JSON Patch) patches cannot be applied: the pinned Talos machinery only applies them to single-document configurations, and Talos %s machine configurations have several documents; write the change as a YAML strategic merge patch", talosVersion))
	}
}

func isEmpty(doc any) bool {
	switch d := doc.(type) {
	case nil:
		return true
	case map[string]any:
		return len(d) == 0
	case []any:
		return len(d) == 0
	}
	return false
}
