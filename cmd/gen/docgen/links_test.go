package docgen_test

import (
	"strings"
	"testing"

	"github.com/talos-aws/talos-aws/cmd/gen/docgen"
)

// Every relative link and #anchor in README.md and docs/**/*.md resolves:
// its file exists, and its anchor is a heading of that file as GitHub
// renders it.
func TestLinksResolve(t *testing.T) {
	broken, err := docgen.BrokenLinks(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range broken {
		t.Error(b)
	}
	pages, err := docgen.Pages(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 15 {
		t.Errorf("pages %v: README.md and docs/ expected", pages)
	}
}

// GitHub's heading anchors: lowercase, spaces to '-', punctuation but '-'
// and '_' dropped, Markdown rendered first.
func TestSlug(t *testing.T) {
	for _, c := range []struct{ heading, want string }{
		{"Runbook: restore a lost control plane", "runbook-restore-a-lost-control-plane"},
		{"What `pulumi preview` checks first", "what-pulumi-preview-checks-first"},
		{"Worker drains (spot, rebalance, refresh, scale-in)", "worker-drains-spot-rebalance-refresh-scale-in"},
		{"AWS credentials and the `aws:` keys", "aws-credentials-and-the-aws-keys"},
		{"`controlPlane`", "controlplane"},
		{"Workload identity (IRSA)", "workload-identity-irsa"},
		{"snake_case and 1.13.9", "snake_case-and-1139"},
		{"[Cost](cost.md) page", "cost-page"},
		{"Ünïcode letters", "ünïcode-letters"},
	} {
		if got := docgen.Slug(c.heading); got != c.want {
			t.Errorf("Slug(%q) = %q, want %q", c.heading, got, c.want)
		}
	}
}

// Repeated headings are numbered, headings and links in code blocks are
// not counted, and a link to a missing anchor or file is reported.
func TestAnchorsAndLinks(t *testing.T) {
	doc := strings.Join([]string{
		"# Title",
		"## Notes",
		"## Notes",
		"```sh",
		"# not a heading",
		"[not a link](missing.md)",
		"```",
		"See [the notes](#notes-1), [code `x`](other.md#a-b) and [site](https://example.com/x#y).",
		"Inline `[code](nothing.md)` is no link.",
	}, "\n")
	a := docgen.Anchors(doc)
	for _, want := range []string{"title", "notes", "notes-1"} {
		if !a[want] {
			t.Errorf("anchors %v lack %s", a, want)
		}
	}
	if a["not-a-heading"] {
		t.Error("a comment in a code block was taken for a heading")
	}
	var targets []string
	for _, l := range docgen.Links("p.md", doc) {
		targets = append(targets, l.Target)
	}
	if strings.Join(targets, " ") != "#notes-1 other.md#a-b" {
		t.Errorf("links %v, want #notes-1 and other.md#a-b only", targets)
	}
}
