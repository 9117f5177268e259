// Package docgen renders the generated sections of README.md and the
// pages under docs/, and Pulumi.yaml's config section, from the code that
// decides what they say (config.Schema and the configuration's field
// docs, compute.PortMatrix, the add-on charts, the price table, the guard's
// wait reasons), so the documents cannot drift from it; cmd/gen writes
// them. Unlike the rest of internal/, it imports the stages it documents:
// it is a tool, linked into nothing the program runs.
package docgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/talos-aws/talos-aws/addons"
	"github.com/talos-aws/talos-aws/compute"
	"github.com/talos-aws/talos-aws/config"
	"github.com/talos-aws/talos-aws/preflight"
	"github.com/talos-aws/talos-aws/talos"
	"github.com/talos-aws/talos-aws/testkit"
)

// ProjectHeader is the hand-written top of Pulumi.yaml.
const ProjectHeader = `name: talos-aws
runtime: go
description: A production-grade, highly available Kubernetes cluster on Talos Linux in AWS.
`

// PulumiYAML renders the whole Pulumi.yaml.
func PulumiYAML() (string, error) {
	decls, err := config.ProjectDeclarations()
	if err != nil {
		return "", err
	}
	b, err := yaml.Marshal(map[string]any{"config": decls})
	if err != nil {
		return "", err
	}
	return ProjectHeader + "# The config section is generated from config.Schema: go run ./cmd/gen\n" + string(b), nil
}

// A File holds generated sections: its path under the repository root and
// the sections it holds, each once.
type File struct {
	Path     string
	Sections []string
}

// Files are the documents with generated sections, and which: each
// section lives in the page that holds its subject.
var Files = []File{
	{"README.md", []string{"versions"}},
	{"docs/reference/configuration.md", []string{"config"}},
	{"docs/security.md", []string{"port-matrix"}},
	{"docs/addons.md", []string{"addons"}},
	{"docs/cost.md", []string{"cost"}},
	{"docs/etcd-guard.md", []string{"guard-reasons"}},
}

// Sections renders every generated section, by name, for the repository
// at root (the cost table prices its example stacks, the guard's reasons
// are read from its source).
func Sections(root string) (map[string]string, error) {
	reference, err := config.ReferenceMarkdown()
	if err != nil {
		return nil, err
	}
	shapes, err := CostShapes(root)
	if err != nil {
		return nil, err
	}
	reasons, err := GuardReasonsMarkdown(root)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"config":        reference,
		"port-matrix":   compute.PortMatrixMarkdown(),
		"versions":      versionsMarkdown(),
		"addons":        addons.ChartsMarkdown(config.DefaultAddons()),
		"cost":          preflight.CostMarkdown(shapes, preflight.Prices),
		"guard-reasons": reasons,
	}, nil
}

// CostShapes are the example stacks docs/cost.md prices: dev and HA.
func CostShapes(root string) ([]preflight.Shape, error) {
	var shapes []preflight.Shape
	for _, s := range []struct{ title, file string }{
		{"dev (`Pulumi.dev.yaml`)", "Pulumi.dev.yaml"},
		{"HA (`Pulumi.ha.yaml`)", "Pulumi.ha.yaml"},
	} {
		cfg, err := LoadStack(filepath.Join(root, s.file))
		if err != nil {
			return nil, err
		}
		shapes = append(shapes, preflight.Shape{Title: s.title, Config: cfg, AZCount: preflight.ShapeAZs(cfg)})
	}
	return shapes, nil
}

// LoadStack parses an example stack file as the program would, with a
// placeholder adminCidrs when the file leaves it to the user.
func LoadStack(path string) (*config.Config, error) {
	raw, err := testkit.LoadStackFile(path)
	if err != nil {
		return nil, err
	}
	if _, ok := raw["adminCidrs"]; !ok {
		raw["adminCidrs"] = `["192.0.2.0/24"]`
	}
	cfg, _, err := config.Parse(config.MapSource(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func markers(name string) (string, string) {
	return "<!-- BEGIN GENERATED " + name + " -->\n", "<!-- END GENERATED " + name + " -->"
}

// ReplaceSections rewrites the named generated sections of a document.
func ReplaceSections(path, doc string, names []string, sections map[string]string) (string, error) {
	for _, name := range names {
		body, ok := sections[name]
		if !ok {
			return "", fmt.Errorf("%s: no generated section %q", path, name)
		}
		begin, end := markers(name)
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		if i < 0 || j < i {
			return "", fmt.Errorf("%s: missing markers for %s", path, name)
		}
		doc = doc[:i+len(begin)] + body + doc[j:]
	}
	return doc, nil
}

// Render returns every file of Files under root as it should be: its
// generated sections rewritten.
func Render(root string) (map[string]string, error) {
	sections, err := Sections(root)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range Files {
		b, err := os.ReadFile(filepath.Join(root, f.Path)) //nolint:gosec // a repository file
		if err != nil {
			return nil, err
		}
		if out[f.Path], err = ReplaceSections(f.Path, string(b), f.Sections, sections); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Write regenerates Pulumi.yaml and every generated section under root.
func Write(root string) error {
	py, err := PulumiYAML()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "Pulumi.yaml"), []byte(py), 0o644); err != nil { //nolint:gosec // a repository file
		return err
	}
	files, err := Render(root)
	if err != nil {
		return err
	}
	for _, f := range Files {
		if err := os.WriteFile(filepath.Join(root, f.Path), []byte(files[f.Path]), 0o644); err != nil { //nolint:gosec // a repository file
			return err
		}
	}
	return nil
}

// versionsMarkdown is the README's supported-versions tables: the Talos
// lines with their Kubernetes ranges, defaults and installer images, then
// what follows each Kubernetes minor.
func versionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Talos | Kubernetes | default for a new stack | nodes' installer image |\n|---|---|---|---|\n")
	for _, l := range config.TalosLines() {
		def := "–"
		if strings.HasPrefix(config.DefaultTalosVersion, "v"+l.Minor+".") {
			def = fmt.Sprintf("Talos %s, Kubernetes %s", config.DefaultTalosVersion, config.DefaultKubernetesVersion)
		}
		img := "`" + talos.InstallerImage("v"+l.Minor+".0") + "`"
		if img != "`"+talos.ProviderInstaller+"`" {
			img = "`" + strings.TrimSuffix(talos.InstallerImage("v"+l.Minor+".0"), "v"+l.Minor+".0") + "<talosVersion>`"
		} else {
			img += " whatever the patch (what the Talos provider wrote)"
		}
		fmt.Fprintf(&b, "| %s.x | %s | %s | %s |\n", l.Minor, l.Kubernetes, def, img)
	}
	b.WriteString("\nThe Kubernetes ranges are Talos machinery's own compatibility tables (`pkg/machinery/compatibility`, v1.13.9), the ones Talos checks an upgrade with. What follows each Kubernetes minor:\n\n")
	b.WriteString(config.SupportedVersionsMarkdown())
	return b.String()
}
