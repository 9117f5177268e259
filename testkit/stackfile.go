package testkit

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// LoadStackFile reads a Pulumi.<stack>.yaml and returns its project keys as
// the raw strings Pulumi hands the program (objects and arrays as JSON).
func LoadStackFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path) //nolint:gosec // a stack file the test names
	if err != nil {
		return nil, err
	}
	var f struct {
		Config map[string]any `json:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	for k, v := range f.Config {
		key, ok := strings.CutPrefix(k, Project+":")
		if !ok {
			continue
		}
		if s, ok := v.(string); ok {
			out[key] = s
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[key] = string(j)
	}
	return out, nil
}
