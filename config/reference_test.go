package config

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Every allowed value the reference lists for a key or field is one
// validation accepts there, and a value outside the list is refused there
// as unsupported: the reference's values are validation's, not a copy.
func TestReferenceValuesAreValidations(t *testing.T) {
	entries, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	var checked []string
	for _, e := range entries {
		if len(e.Values) == 0 {
			continue
		}
		checked = append(checked, e.Path)
		bogus := "not-a-value"
		if e.Type == "integer" {
			bogus = "7"
		}
		for _, v := range append(slices.Clone(e.Values), bogus) {
			raw, at := rawAt(t, e, v)
			_, _, err := Parse(MapSource(raw))
			var ve *ValidationError
			var here []FieldError
			if errors.As(err, &ve) {
				for _, fe := range ve.Errors {
					if fe.Path == at {
						here = append(here, fe)
					}
				}
			}
			switch {
			case v == bogus && (len(here) != 1 || here[0].Type != ErrNotSupported):
				t.Errorf("%s = %s: want one unsupported-value error at %s, got %v", e.Path, v, at, here)
			case v != bogus && len(here) > 0:
				t.Errorf("%s = %s, which the reference allows: refused at %s: %v", e.Path, v, at, here)
			}
		}
	}
	for _, want := range []string{"natStrategy", "apiAccess", "ingressAccess", "controlPlane.count", "controlPlane.arch",
		"controlPlane.rootVolume.type", "workerPools[].arch", "workerPools[].rootVolume.type", "workerPools[].taints[].effect"} {
		if !slices.Contains(checked, want) {
			t.Errorf("the reference lists no allowed values for %s (checked %v)", want, checked)
		}
	}
}

// rawAt is a stack configuration setting the entry's path to v (a list
// with one element at each []), and the key path an error there carries.
func rawAt(t *testing.T, e Entry, v string) (map[string]string, string) {
	t.Helper()
	var leaf any = v
	if e.Type == "integer" {
		leaf = json.Number(v)
	}
	segs := strings.Split(e.Path, ".")
	val := leaf
	for i := len(segs) - 1; i >= 1; i-- {
		name, list := strings.CutSuffix(segs[i], "[]")
		if list {
			val = []any{val}
		}
		val = map[string]any{name: val}
	}
	top, list := strings.CutSuffix(segs[0], "[]")
	if list {
		val = []any{val}
	}
	raw := map[string]string{"adminCidrs": `["203.0.113.10/32"]`}
	if s, ok := val.(string); ok {
		raw[top] = s
	} else {
		b, err := json.Marshal(val)
		if err != nil {
			t.Fatal(err)
		}
		raw[top] = string(b)
	}
	return raw, strings.ReplaceAll(e.Path, "[]", "[0]")
}

// Every field of every object key is documented, and no documentation
// names a field that does not exist (Reference fails on either).
func TestReferenceDocumentsEveryField(t *testing.T) {
	entries, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]Entry{}
	for _, e := range entries {
		if e.Doc == "" {
			t.Errorf("%s has no description", e.Path)
		}
		paths[e.Path] = e
	}
	for path, typ := range map[string]string{
		"workerPools[].rootVolume.iops":  "integer",
		"backups.objectLockDays":         "integer",
		"endpoint.publicName":            "string",
		"image.extensions":               "array of string",
		"network.privateSubnetIds":       "array of string",
		"workerPools[].image.extensions": "array of string",
		"workerPools[].labels":           "map of string",
		"addons.argocd.rootApp.repoURL":  "string",
		"serviceAccountRoles[].policy":   "string",
		"backups.enabled":                "boolean",
	} {
		if e, ok := paths[path]; !ok || e.Type != typ {
			t.Errorf("%s: %+v, want type %s", path, e, typ)
		}
	}
	if e := paths["controlPlane.rootVolume.sizeGiB"]; e.Default != "`50`" || !strings.Contains(e.Allowed, "20-16384") {
		t.Errorf("controlPlane.rootVolume.sizeGiB: default %q allowed %q", e.Default, e.Allowed)
	}
	if e := paths["workerPools[].minSize"]; e.Default != "`1`" {
		t.Errorf("a pool's minSize defaults to DefaultWorkerPool's 1, the reference says %q", e.Default)
	}
	if e := paths["backups.enabled"]; !strings.Contains(e.Default, "controlPlane.count > 1") {
		t.Errorf("backups.enabled default %q", e.Default)
	}
}
