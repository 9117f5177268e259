package docs_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/docs"
)

// Pulumi.yaml must be valid for Pulumi and declare exactly the keys, types,
// defaults and descriptions of config.Schema.
func TestPulumiYAMLMatchesSchema(t *testing.T) {
	proj, err := workspace.LoadProject("../Pulumi.yaml")
	if err != nil {
		t.Fatalf("Pulumi rejects Pulumi.yaml: %v", err)
	}
	if proj.Name != "talos-aws" || proj.Runtime.Name() != "go" {
		t.Errorf("project %s runtime %s", proj.Name, proj.Runtime.Name())
	}
	decls, err := config.ProjectDeclarations()
	if err != nil {
		t.Fatal(err)
	}
	if len(proj.Config) != len(decls) {
		t.Errorf("Pulumi.yaml declares %d keys, schema has %d", len(proj.Config), len(decls))
	}
	for name, want := range decls {
		got, ok := proj.Config[name]
		if !ok {
			t.Errorf("%s: missing from Pulumi.yaml", name)
			continue
		}
		gotType := ""
		if got.Type != nil {
			gotType = *got.Type
		}
		if gotType != want.Type || got.Description != want.Description {
			t.Errorf("%s: Pulumi.yaml says type %q desc %q; code says %q %q", name, gotType, got.Description, want.Type, want.Description)
		}
		if !reflect.DeepEqual(normalize(got.Default), normalize(want.Default)) {
			t.Errorf("%s: Pulumi.yaml default %#v, code default %#v", name, got.Default, want.Default)
		}
	}
	// The whole file is what the generator writes.
	gen, err := docs.PulumiYAML()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("../Pulumi.yaml"); string(b) != gen {
		t.Error("Pulumi.yaml differs from the generated one: run `go run ./cmd/gen`")
	}
}

// normalize maps YAML-decoded numbers and maps onto JSON-decoded shapes.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case map[any]any:
		out := map[string]any{}
		for k, e := range x {
			out[k.(string)] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func TestREADMEGeneratedSectionsUpToDate(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sections, err := docs.SectionsAt("..")
	if err != nil {
		t.Fatal(err)
	}
	want, err := docs.ReplaceSections(string(b), sections)
	if err != nil {
		t.Fatal(err)
	}
	if want != string(b) {
		t.Error("README.md's generated tables are stale: run `go run ./cmd/gen`")
	}
	for _, k := range config.Schema() {
		if !strings.Contains(string(b), "| `"+k.Name+"` |") {
			t.Errorf("README lacks key %s", k.Name)
		}
	}
}

// Every WaitReason constant of the guard is in the README's table, with its
// doc: the table is parsed from the source, so count the constants another
// way too.
func TestGuardReasonsParsed(t *testing.T) {
	rs, err := docs.GuardReasons("..")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../" + docs.GuardReasonsFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), " WaitReason = \""); len(rs) != n || n < 20 {
		t.Fatalf("parsed %d reasons, the file declares %d", len(rs), n)
	}
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Group == "" || r.Doc == "" || strings.HasPrefix(r.Doc, "Reason") || seen[r.Value] {
			t.Errorf("reason %+v: want a group, a doc without the constant's name, a value used once", r)
		}
		seen[r.Value] = true
	}
	if !seen["OneChangeAtATime"] || !seen["ReplacementJoining"] {
		t.Errorf("reasons %v lack OneChangeAtATime or ReplacementJoining", seen)
	}
}
