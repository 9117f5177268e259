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
	return ProjectHeader + "# The config section is generated from config.Schema: go run ./internal/gen\n" + string(b), nil
}

// Sections of README.md between markers, by name.
func Sections() (map[string]string, error) {
	table, err := config.MarkdownTable()
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"config":      table,
		"port-matrix": compute.PortMatrixMarkdown(),
		"addons":      addons.ChartsMarkdown(config.DefaultAddons()),
	}, nil
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
	sections, err := Sections()
	if err != nil {
		return err
	}
	out, err := ReplaceSections(string(readme), sections)
	if err != nil {
		return err
	}
	return os.WriteFile(readmePath, []byte(out), 0o644) //nolint:gosec // a repository file
}
