package program

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/talos-aws/talos-aws/testkit"
)

var updateGraph = flag.Bool("update-graph", false, "rewrite testdata/graph from the program as it is now")

// TestGraphUnchanged compares every registration of the dev and HA stacks,
// in `up` and in a first preview, with the one recorded in testdata/graph:
// URN, parent, type, inputs, dependencies, provider and every option. A
// refactor must leave these files as they are; a change that alters the
// graph rewrites them (-update-graph) and the diff shows what existing
// stacks will see.
func TestGraphUnchanged(t *testing.T) {
	ha := func(t *testing.T) map[string]string { return haConfig(t) }
	for _, s := range []struct {
		name    string
		cfg     func(*testing.T) map[string]string
		preview bool
		// existing: the stack was deployed by the release before Talos
		// 1.13 (legacyLastUp), so unset versions keep Talos 1.12.
		existing bool
	}{
		{"dev-up", devConfig, false, true},
		{"ha-up", ha, false, true},
		{"dev-preview", devConfig, true, false},
		{"ha-preview", ha, true, false},
		// A new stack's first `up`, on the default versions.
		{"dev-up-new", devConfig, false, false},
		{"ha-up-new", ha, false, false},
		// workloadIdentity false: an existing stack kept on today's model has
		// the graph it had before workload identity existed.
		{"dev-up-noidentity", func(t *testing.T) map[string]string { return noIdentity(devConfig(t)) }, false, true},
		{"ha-up-noidentity", func(t *testing.T) map[string]string { return noIdentity(haConfig(t)) }, false, true},
		{"dev-preview-noidentity", func(t *testing.T) map[string]string { return noIdentity(devConfig(t)) }, true, false},
		{"ha-preview-noidentity", func(t *testing.T) map[string]string { return noIdentity(haConfig(t)) }, true, false},
		// The access modes and an existing VPC, on a new stack: who dials
		// whom from where is in these graphs (docs/security.md's table).
		{"ha-up-private", func(t *testing.T) map[string]string {
			c := haConfig(t)
			c["apiAccess"], c["ingressAccess"] = "private", "private"
			return c
		}, false, false},
		{"ha-up-private-jump", func(t *testing.T) map[string]string {
			c := haConfig(t)
			c["apiAccess"], c["ingressAccess"], c["jumpHost"] = "private", "private", "true"
			return c
		}, false, false},
		{"ha-up-byovpc", byoConfig, false, false},
	} {
		t.Run(s.name, func(t *testing.T) {
			m := &testkit.Mocks{ControlPlaneInstances: cpInstances(), Preview: s.preview, VPC: testkit.HealthyVPC()}
			cfg := s.cfg(t)
			if s.existing {
				m.LastUp = legacyLastUp(cfg)
			}
			outs, err := testkit.Run(t, m, cfg, program)
			if err != nil {
				t.Fatal(err)
			}
			g, err := m.Graph("userData", "kubeconfig")
			if err != nil {
				t.Fatal(err)
			}
			invokes, err := m.Invokes()
			if err != nil {
				t.Fatal(err)
			}
			// Each export's value; a secret's only as "secret" (the mocks
			// make its value from fresh keys).
			exports := map[string]any{}
			for k, o := range outs {
				exports[k] = o.Value
				if o.Secret {
					exports[k] = "secret"
				}
			}
			got, err := json.MarshalIndent(map[string]any{"resources": g, "exports": exports, "invokes": invokes}, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", "graph", s.name+".json")
			if *updateGraph {
				if err := os.WriteFile(file, got, 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file) //nolint:gosec // this test's own golden file
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(got, want) {
				return
			}
			var w, gg struct {
				Resources map[string]json.RawMessage
				Exports   map[string]json.RawMessage
				Invokes   []string
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &gg); err != nil {
				t.Fatal(err)
			}
			var diffs []string
			for urn, v := range gg.Resources {
				old, ok := w.Resources[urn]
				switch {
				case !ok:
					diffs = append(diffs, "added "+urn)
				case !jsonEqual(old, v):
					diffs = append(diffs, "changed "+urn+"\n  was "+string(compact(old))+"\n  now "+string(compact(v)))
				}
			}
			for urn := range w.Resources {
				if _, ok := gg.Resources[urn]; !ok {
					diffs = append(diffs, "removed "+urn)
				}
			}
			for k, v := range gg.Exports {
				if old, ok := w.Exports[k]; !ok || !jsonEqual(old, v) {
					diffs = append(diffs, "export "+k+" now "+string(compact(v)))
				}
			}
			for k := range w.Exports {
				if _, ok := gg.Exports[k]; !ok {
					diffs = append(diffs, "export removed "+k)
				}
			}
			if !slices.Equal(w.Invokes, gg.Invokes) {
				for _, c := range gg.Invokes {
					if !slices.Contains(w.Invokes, c) {
						diffs = append(diffs, "invoke added or changed: "+c)
					}
				}
				for _, c := range w.Invokes {
					if !slices.Contains(gg.Invokes, c) {
						diffs = append(diffs, "invoke removed or changed: "+c)
					}
				}
			}
			slices.Sort(diffs)
			t.Errorf("the %s graph differs from %s (go test -run TestGraphUnchanged -update-graph . rewrites it):\n%s", s.name, file, joinLines(diffs))
		})
	}
}

func noIdentity(cfg map[string]string) map[string]string {
	cfg["workloadIdentity"] = "false"
	return cfg
}

func jsonEqual(a, b json.RawMessage) bool { return bytes.Equal(compact(a), compact(b)) }

func compact(b json.RawMessage) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

func joinLines(l []string) string {
	var b bytes.Buffer
	for _, s := range l {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}
