package docgen_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/talos-aws/talos-aws/cmd/gen/docgen"
	"github.com/talos-aws/talos-aws/config"
)

// Pulumi.yaml must be valid for Pulumi and declare exactly the keys, types,
// defaults and descriptions of config.Schema.
func TestPulumiYAMLMatchesSchema(t *testing.T) {
	proj, err := workspace.LoadProject(root + "/Pulumi.yaml")
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
	gen, err := docgen.PulumiYAML()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(root + "/Pulumi.yaml"); string(b) != gen {
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

// root is the repository, from this package's directory.
const root = "../../.."

// Every generated section of README.md and docs/ is what the code renders
// now, and each section is in exactly one file.
func TestGeneratedSectionsUpToDate(t *testing.T) {
	files, err := docgen.Render(root)
	if err != nil {
		t.Fatal(err)
	}
	sections, err := docgen.Sections(root)
	if err != nil {
		t.Fatal(err)
	}
	placed := map[string]string{}
	for _, f := range docgen.Files {
		b, err := os.ReadFile(root + "/" + f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if files[f.Path] != string(b) {
			t.Errorf("%s: generated sections are stale: run `go run ./cmd/gen`", f.Path)
		}
		for _, name := range f.Sections {
			if other, ok := placed[name]; ok {
				t.Errorf("section %s is in %s and %s", name, other, f.Path)
			}
			placed[name] = f.Path
		}
	}
	for name := range sections {
		if placed[name] == "" {
			t.Errorf("section %s is in no file", name)
		}
	}
	// No file holds markers of a section it does not own: they would
	// never be rewritten.
	pages, err := docgen.Pages(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		b, err := os.ReadFile(root + "/" + p)
		if err != nil {
			t.Fatal(err)
		}
		for name := range sections {
			if strings.Contains(string(b), "<!-- BEGIN GENERATED "+name+" -->") && placed[name] != p {
				t.Errorf("%s has markers of section %s, which %s owns", p, name, placed[name])
			}
		}
	}
}

// The configuration reference names every key and every field of every
// object, at its full path, with its type.
func TestReferenceCoversEveryField(t *testing.T) {
	b, err := os.ReadFile(root + "/docs/reference/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	entries, err := config.Reference()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Schema() {
		if !strings.Contains(page, "\n### `"+k.Name+"`\n") {
			t.Errorf("no section for key %s", k.Name)
		}
	}
	for _, e := range entries {
		if strings.ContainsAny(e.Path, ".[") && !strings.Contains(page, "| `"+e.Path+"` | "+e.Type+" |") {
			t.Errorf("no row for %s (%s)", e.Path, e.Type)
		}
	}
	for _, path := range []string{"workerPools[].rootVolume.iops", "backups.objectLockDays", "endpoint.publicName",
		"image.extensions", "network.privateSubnetIds", "workerPools[].taints[].effect", "controlPlane.count"} {
		if !strings.Contains(page, "| `"+path+"` |") {
			t.Errorf("the reference lacks %s", path)
		}
	}
}

// Every WaitReason constant of the guard is in docs/etcd-guard.md's table, with its
// doc: the table is parsed from the source, so count the constants another
// way too.
func TestGuardReasonsParsed(t *testing.T) {
	rs, err := docgen.GuardReasons(root)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(root + "/" + docgen.GuardReasonsFile)
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
