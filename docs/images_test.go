package docs_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/talos-aws/talos-aws/config"
)

// The README's image example is a configuration the stack accepts: the
// GPU pool with NVIDIA's extensions passes the GPU check, and every
// extension is one of the default Talos version's.
func TestREADMEImageExampleParses(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### System extensions and GPU pools")
	if !ok {
		t.Fatal("README has no section \"System extensions and GPU pools\"")
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the section has no YAML example")
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
		t.Fatalf("the README's example is refused: %v", err)
	}
	if got := cfg.NVIDIAPools(); len(got) != 1 || got[0] != "gpu" {
		t.Errorf("GPU pools %v, want the example's gpu", got)
	}
}
