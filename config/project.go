package config

import (
	"encoding/json"
	"fmt"
	"strings"
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

// MarkdownTable renders Schema as the README's configuration reference.
func MarkdownTable() (string, error) {
	var b strings.Builder
	b.WriteString("| key | type | default | description |\n|---|---|---|---|\n")
	for _, k := range Schema() {
		typ := k.Type
		if k.Items != "" {
			typ += " of " + k.Items
		}
		def := "**required**"
		if k.Default != nil {
			v, err := json.Marshal(k.Default)
			if err != nil {
				return "", err
			}
			def = "`" + string(v) + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, typ, def, strings.ReplaceAll(k.Description, "|", "\\|"))
	}
	return b.String(), nil
}
