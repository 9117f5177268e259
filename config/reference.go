package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/talos-aws/talos-aws/images"
	"github.com/talos-aws/talos-aws/internal/fielddoc"
)

// Entry is one row of the configuration reference: a key, or a field of
// an object at its full path as `pulumi config set --path` writes it
// (workerPools[].rootVolume.iops).
type Entry struct {
	Path    string
	Type    string
	Default string // "" when the field has none of its own (an object's fields carry theirs)
	Allowed string
	// Values are the allowed values, validation's own slice (nil: any
	// value within Allowed).
	Values []string
	Doc    string
	// Object reports whether the entry has fields of its own below it.
	Object bool
}

// Reference lists every key of Schema and, below each object key, every
// field of its type, depth first, with the field's documentation from its
// type's FieldDocs and its default from the key's default value. A field
// without documentation is an error: the reference covers every field the
// program reads.
func Reference() ([]Entry, error) {
	kd := keyDocs()
	var out []Entry
	for _, k := range Schema() {
		doc := kd[k.Name]
		e := Entry{Path: k.Name, Type: k.Type, Allowed: doc.AllowedText(), Values: doc.Values, Doc: k.Description, Default: "**required**"}
		if k.Items != "" {
			e.Type += " of " + k.Items
		}
		if k.Default != nil {
			b, err := json.Marshal(k.Default)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k.Name, err)
			}
			e.Default = "`" + string(b) + "`"
		}
		if doc.Default != "" {
			e.Default = doc.Default
		}
		path := k.Name
		if k.Type == "array" && k.Items == "object" {
			path += "[]"
		}
		var fields []Entry
		if def := elementDefault(k); def != nil {
			var err error
			if fields, err = fieldsOf(path, reflect.ValueOf(def)); err != nil {
				return nil, err
			}
		}
		e.Object = len(fields) > 0
		out = append(out, e)
		out = append(out, fields...)
	}
	return out, nil
}

// elementDefault is the value a key's fields take their defaults from:
// the key's default, or for a list of objects the element every given
// element is decoded onto (a list's own default is a whole list).
func elementDefault(k Key) any {
	switch k.Name {
	case "workerPools":
		return DefaultWorkerPool()
	case "serviceAccountRoles":
		return ServiceAccountRole{}
	case "image":
		return images.Spec{}
	case "endpoint":
		return Endpoint{}
	}
	return k.Default
}

var stringMapKind = reflect.TypeOf(StringMap{})

// fieldsOf documents the fields of v's type under path, each with its
// default from v: through a pointer (nil: the zero value) and a list of
// objects (its element, at path[]).
func fieldsOf(path string, v reflect.Value) ([]Entry, error) {
	t := v.Type()
	switch {
	case t == stringMapKind:
		return nil, nil
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			return fieldsOf(path, reflect.Zero(t.Elem()))
		}
		return fieldsOf(path, v.Elem())
	case t.Kind() == reflect.Slice:
		et := t.Elem()
		for et.Kind() == reflect.Pointer {
			et = et.Elem()
		}
		if et.Kind() != reflect.Struct {
			return nil, nil
		}
		return fieldsOf(path+"[]", reflect.Zero(et))
	case t.Kind() != reflect.Struct:
		return nil, nil
	}
	documented, ok := v.Interface().(fielddoc.Documented)
	if !ok {
		return nil, fmt.Errorf("config reference: %s (%s) has fields but no FieldDocs", path, t)
	}
	docs := documented.FieldDocs()
	var out []Entry
	seen := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		seen[name] = true
		d, ok := docs[name]
		if !ok || d.Doc == "" {
			return nil, fmt.Errorf("config reference: %s.%s has no documentation in %s.FieldDocs", path, name, t.Name())
		}
		fv := v.Field(i)
		e := Entry{Path: path + "." + name, Type: typeName(fv.Type()), Allowed: d.AllowedText(), Values: d.Values, Doc: d.Doc}
		sub, err := fieldsOf(e.Path, fv)
		if err != nil {
			return nil, err
		}
		e.Object = len(sub) > 0
		switch {
		case d.Default != "":
			e.Default = d.Default
		case e.Object:
		case fv.Kind() == reflect.Bool || !fv.IsZero():
			b, err := json.Marshal(fv.Interface())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Path, err)
			}
			e.Default = "`" + string(b) + "`"
		}
		out = append(out, e)
		out = append(out, sub...)
	}
	for name := range docs {
		if !seen[name] {
			return nil, fmt.Errorf("config reference: %s.FieldDocs documents %q, which %s has no field for", t.Name(), name, path)
		}
	}
	return out, nil
}

// typeName names a Go field type as Pulumi.yaml's types do.
func typeName(t reflect.Type) string {
	if t == stringMapKind {
		return "map of string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Int:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct:
		return "object"
	case reflect.Slice:
		return "array of " + typeName(t.Elem())
	}
	return t.Kind().String()
}

// ReferenceMarkdown renders Reference: an index of the keys, then one
// section per key with its fields.
func ReferenceMarkdown() (string, error) {
	entries, err := Reference()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| key | type | default |\n|---|---|---|\n")
	for _, e := range entries {
		if !strings.ContainsAny(e.Path, ".[") {
			fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", e.Path, strings.ToLower(e.Path), e.Type, cell(shortDefault(e)))
		}
	}
	for i, e := range entries {
		if strings.ContainsAny(e.Path, ".[") {
			continue
		}
		fmt.Fprintf(&b, "\n### `%s`\n\n%s\n\n", e.Path, text(e.Doc))
		fmt.Fprintf(&b, "Type: %s. Default: %s.", e.Type, e.Default)
		if e.Allowed != "" {
			fmt.Fprintf(&b, " Allowed: %s.", strings.TrimSuffix(text(e.Allowed), "."))
		}
		b.WriteString("\n")
		if !e.Object {
			continue
		}
		if strings.HasPrefix(e.Type, "array of object") {
			b.WriteString("\nThe fields of each element, with the defaults an element you write starts from:\n")
		}
		b.WriteString("\n| field | type | default | allowed | description |\n|---|---|---|---|---|\n")
		for _, f := range entries[i+1:] {
			if !strings.ContainsAny(f.Path, ".[") {
				break
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Path, f.Type, cell(f.Default), cell(f.Allowed), cell(f.Doc))
		}
	}
	return b.String(), nil
}

// shortDefault keeps the index's default column short: an object's
// default is in its section.
func shortDefault(e Entry) string {
	if e.Object && strings.HasPrefix(e.Default, "`{") && len(e.Default) > 40 {
		return "see its fields"
	}
	if strings.HasPrefix(e.Default, "`[{") {
		return "see its fields"
	}
	return e.Default
}

// tagLike is text Markdown would take for an HTML tag (<clusterName>).
var tagLike = regexp.MustCompile(`<([A-Za-z][^<>\s]*)>`)

// text makes prose safe for Markdown: placeholders such as <name> are
// shown, not taken for HTML. Code spans are left alone.
func text(s string) string {
	parts := strings.Split(s, "`")
	for i := 0; i < len(parts); i += 2 {
		parts[i] = tagLike.ReplaceAllString(parts[i], "&lt;$1&gt;")
	}
	return strings.Join(parts, "`")
}

// cell is text for a table cell: no pipes, no line breaks.
func cell(s string) string {
	if s == "" {
		return "–"
	}
	return strings.ReplaceAll(text(s), "|", "\\|")
}
