// Package images is everything about Talos images beyond Sidero Labs'
// official AMIs: the image key of the stack configuration (system
// extensions and extra kernel arguments), the Image Factory schematic it
// makes and that schematic's ID, computed here as the factory computes it,
// the content-addressed AMI name and the factory installer of a schematic,
// the validation of the key, the companion machine configuration and
// cluster add-ons some extensions need, and what the AMI's snapshot costs.
// It is pure: nothing here calls anything. The build of an AMI (factory
// download, EBS direct APIs, RegisterImage) is images/ami.
package images

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/talos-aws/talos-aws/internal/fielddoc"
)

// Spec is the image key: `image: {extensions: [...], extraKernelArgs:
// [...]}` at cluster level (control plane and every pool without its own)
// and per worker pool (replacing the cluster's, not merged with it).
type Spec struct {
	// Extensions are official system extensions by their factory name,
	// "siderolabs/<name>" (Extensions lists them per Talos version).
	Extensions []string `json:"extensions,omitempty"`
	// ExtraKernelArgs are appended to Talos' own kernel command line
	// (ValidateSpec says which are refused).
	ExtraKernelArgs []string `json:"extraKernelArgs,omitempty"`
}

// FieldDocs documents the fields for the configuration reference; the
// rules are ValidateSpec's, the refused kernel arguments ownedArgs.
func (Spec) FieldDocs() map[string]fielddoc.Field {
	var refused []string
	for _, o := range ownedArgs {
		r := "`" + o.key + "`"
		if o.prefix {
			r += " (and everything under it)"
		}
		refused = append(refused, r)
	}
	return map[string]fielddoc.Field{
		"extensions": {Doc: "Official system extensions, by their Image Factory name (siderolabs/iscsi-tools, siderolabs/nvidia-open-gpu-kernel-modules-lts, ...).",
			Allowed: "official extensions of talosVersion as siderolabs/<name> (images/extensions.txt, read from siderolabs/extensions at each release tag), no duplicates, no renamed names"},
		"extraKernelArgs": {Doc: "Kernel arguments appended to Talos' own, in order.",
			Allowed: "one argument per element, key or key=value, no whitespace or quotes, no duplicates; not, directly or negated: " + strings.Join(refused, ", ")},
	}
}

// IsZero reports whether the spec asks for nothing: such nodes boot the
// official AMI and install the official installer, exactly as before.
func (s Spec) IsZero() bool { return len(s.Extensions) == 0 && len(s.ExtraKernelArgs) == 0 }

// Schematic is the Image Factory schematic of a spec, canonical: the
// extensions sorted (the factory's own UI sorts them before it creates a
// schematic, image-factory internal/frontend/http/ui.go:513@v0.9.0, so a
// schematic made there for the same set has the same ID), the kernel
// arguments in the order given (later ones win, so order is meaning).
type Schematic struct {
	Extensions      []string
	ExtraKernelArgs []string
}

// Schematic returns s's canonical schematic.
func (s Spec) Schematic() Schematic {
	ext := slices.Clone(s.Extensions)
	slices.Sort(ext)
	return Schematic{Extensions: ext, ExtraKernelArgs: slices.Clone(s.ExtraKernelArgs)}
}

// The document the factory marshals, field for field and in the same order
// (image-factory pkg/schematic/schematic.go:19-54@v0.9.0): customization
// is always written, the lists and the systemExtensions block only when
// set. Overlay, META, bootloader and secure-boot options are omitted
// (zero in the factory's struct, so omitted there too): AWS images have no
// overlay and this stack sets none of them.
type schematicDoc struct {
	Customization customizationDoc `yaml:"customization"`
}

type customizationDoc struct {
	ExtraKernelArgs  []string            `yaml:"extraKernelArgs,omitempty"`
	SystemExtensions systemExtensionsDoc `yaml:"systemExtensions,omitempty"`
}

type systemExtensionsDoc struct {
	OfficialExtensions []string `yaml:"officialExtensions,omitempty"`
}

// YAML is the schematic as the factory stores it and as `up` posts it.
// The factory marshals with go.yaml.in/yaml/v4 (Marshal,
// schematic.go:89-91@v0.9.0); so does this, and the tests hold the result
// to the factory's own test vectors and to IDs the factory returned in
// Talos' documentation.
func (s Schematic) YAML() []byte {
	doc := schematicDoc{Customization: customizationDoc{
		ExtraKernelArgs:  s.ExtraKernelArgs,
		SystemExtensions: systemExtensionsDoc{OfficialExtensions: s.Extensions},
	}}
	out, err := yaml.Marshal(doc)
	if err != nil {
		// Only strings and lists of strings: Marshal cannot fail.
		panic("images: marshal schematic: " + err.Error())
	}
	return out
}

// ID is the schematic's ID: the hex SHA-256 of YAML, as the factory
// computes it (ID, schematic.go:97-106@v0.9.0) and returns it from POST
// /schematics (Factory.Put, internal/schematic/schematic.go:61-88).
func (s Schematic) ID() string {
	sum := sha256.Sum256(s.YAML())
	return hex.EncodeToString(sum[:])
}
