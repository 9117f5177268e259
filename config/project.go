package config

import (
	"encoding/json"
	"fmt"
)

// Declaration is a key as Pulumi.yaml declares it under config:.
type Declaration struct {
	Type        string            `json:"type"`
	Items       map[string]string `json:"items,omitempty"`
	Description string            `json:"description"`
	Default     any               `json:"default,omitempty"`
}

// plain turns a Go default into the JSON-shaped value Pulumi.yaml holds.
func plain(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

// ProjectDeclarations renders Schema as Pulumi.yaml's config section.
func ProjectDeclarations() (map[string]Declaration, error) {
	out := map[string]Declaration{}
	for _, k := range Schema() {
		d := Declaration{Type: k.Type, Description: k.Description}
		if k.Items != "" {
			d.Items = map[string]string{"type": k.Items}
		}
		if k.Default != nil {
			v, err := plain(k.Default)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k.Name, err)
			}
			d.Default = v
		}
		out[k.Name] = d
	}
	return out, nil
}
