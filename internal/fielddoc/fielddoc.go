// Package fielddoc is how a configuration type documents its fields, next
// to the type: the configuration reference (docs/reference/configuration.md)
// is rendered from these, and a field's allowed values are the very slice
// or bound its validation checks, so the two cannot disagree.
package fielddoc

import "strings"

// Field documents one field of a configuration object.
type Field struct {
	// Doc says what the field does.
	Doc string
	// Values are the allowed values: the slice validation checks them
	// against, never a copy.
	Values []string
	// Allowed says what else bounds the field (a range, a pattern, a
	// rule), built from validation's own constants.
	Allowed string
	// Default replaces the default shown when it is decided at run time
	// ("on when controlPlane.count > 1").
	Default string
}

// Documented is a configuration type whose JSON fields each have a
// Field, by JSON name.
type Documented interface {
	FieldDocs() map[string]Field
}

// AllowedText renders a field's allowed values and bounds for a table
// cell: each value as code, then the rest.
func (f Field) AllowedText() string {
	var parts []string
	if len(f.Values) > 0 {
		vs := make([]string, len(f.Values))
		for i, v := range f.Values {
			vs[i] = "`" + v + "`"
		}
		parts = append(parts, strings.Join(vs, ", "))
	}
	if f.Allowed != "" {
		parts = append(parts, f.Allowed)
	}
	return strings.Join(parts, "; ")
}
