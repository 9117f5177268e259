package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The floor must import exactly the outside packages the program's own
// packages import, or the compile bench's ratio measures the wrong floor.
func TestFloorMatchesTheProgram(t *testing.T) {
	const mod = "github.com/talos-aws/talos-aws"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{.Standard}} {{join .Imports " "}}`, mod).Output()
	if err != nil {
		t.Fatal(err)
	}
	standard := map[string]bool{}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		standard[f[0]] = f[1] == "true"
		imports[f[0]] = f[2:]
	}
	var want []string
	for p, imps := range imports {
		if !strings.HasPrefix(p, mod) {
			continue
		}
		for _, imp := range imps {
			if !strings.HasPrefix(imp, mod) && !standard[imp] && !slices.Contains(want, imp) {
				want = append(want, imp)
			}
		}
	}
	slices.Sort(want)
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(string(src), "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), `_ "`); ok {
			got = append(got, strings.TrimSuffix(p, `"`))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("cmd/floor imports\n%v\nthe program's packages import\n%v", got, want)
	}
}
