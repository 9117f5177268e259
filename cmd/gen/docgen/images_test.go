package docgen_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/talos-aws/talos-aws/config"
)

// The image example of docs/extensions.md is a configuration the stack
// accepts: the GPU pool with NVIDIA's extensions passes the GPU check, and
// every extension is one of the default Talos version's.
func TestImageExampleParses(t *testing.T) {
	b, err := os.ReadFile(root + "/docs/extensions.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("docs/extensions.md has no YAML example")
	}
	var doc struct {
		Config map[string]any `json:"config"`
	}
	if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatal(err)
	}
	raw := map[string]string{"adminCidrs": `["203.0.113.10/32"]`}
	for k, v := range doc.Config {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		raw[strings.TrimPrefix(k, "talos-aws:")] = string(j)
	}
	if _, ok := raw["image"]; !ok {
		t.Fatalf("the example sets no image: %v", raw)
	}
	cfg, _, err := config.Parse(config.MapSource(raw))
	if err != nil {
		t.Fatalf("the example is refused: %v", err)
	}
	if got := cfg.NVIDIAPools(); len(got) != 1 || got[0] != "gpu" {
		t.Errorf("GPU pools %v, want the example's gpu", got)
	}
}
