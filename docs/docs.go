// Package docs renders the generated parts of Pulumi.yaml and README.md.
package docs

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

// Sections of README.md between markers, by name, for the repository in
// the working directory.
func Sections() (map[string]string, error) { return SectionsAt(".") }

// SectionsAt renders the sections for the repository at root (the cost
// table prices its example stacks).
func SectionsAt(root string) (map[string]string, error) {
	table, err := config.MarkdownTable()
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
		"config":        table,
		"port-matrix":   compute.PortMatrixMarkdown(),
		"versions":      versionsMarkdown(),
		"addons":        addons.ChartsMarkdown(config.DefaultAddons()),
		"cost":          preflight.CostMarkdown(shapes, preflight.Prices),
		"guard-reasons": reasons,
	}, nil
}

// CostShapes are the example stacks the README prices: dev and HA.
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

// ReplaceSections rewrites each generated section of a README.
func ReplaceSections(readme string, sections map[string]string) (string, error) {
	for name, body := range sections {
		begin, end := markers(name)
		i := strings.Index(readme, begin)
		j := strings.Index(readme, end)
		if i < 0 || j < i {
			return "", fmt.Errorf("README.md: missing markers for %s", name)
		}
		readme = readme[:i+len(begin)] + body + readme[j:]
	}
	return readme, nil
}

// Write regenerates Pulumi.yaml and README.md's sections under root.
func Write(root string) error {
	py, err := PulumiYAML()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "Pulumi.yaml"), []byte(py), 0o644); err != nil { //nolint:gosec // a repository file

		return err
	}
	readmePath := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(readmePath) //nolint:gosec // the repository's README
	if err != nil {
		return err
	}
	sections, err := SectionsAt(root)
	if err != nil {
		return err
	}
	out, err := ReplaceSections(string(readme), sections)
	if err != nil {
		return err
	}
	return os.WriteFile(readmePath, []byte(out), 0o644) //nolint:gosec // a repository file
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
