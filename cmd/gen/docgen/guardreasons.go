package docgen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
)

// GuardReasonsFile holds the etcd guard's WaitReason constants. It is read
// as source, not imported: the Lambda's packages are linked into nothing
// but the Lambda (etcdguard/build_test.go TestOnlyTheContractIsShared).
const GuardReasonsFile = "etcdguard/lambda/guard/reasons.go"

// GuardReason is one WaitReason constant: the group it is declared in (the
// const block's doc), its value and its doc comment.
type GuardReason struct {
	Group, Value, Doc string
}

// GuardReasons parses the WaitReason constants of the guard under root,
// in declaration order.
func GuardReasons(root string) ([]GuardReason, error) {
	path := filepath.Join(root, GuardReasonsFile)
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var out []GuardReason
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		group := strings.TrimSuffix(strings.TrimSpace(gd.Doc.Text()), ".")
		for _, spec := range gd.Specs {
			vs, ok := spec.(*ast.ValueSpec)
			if !ok || len(vs.Values) != 1 {
				continue
			}
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "WaitReason" {
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return nil, fmt.Errorf("%s: %s is not a string literal", path, vs.Names[0].Name)
			}
			value, err := strconv.Unquote(lit.Value)
			if err != nil {
				return nil, err
			}
			doc := strings.Join(strings.Fields(vs.Doc.Text()), " ")
			doc = strings.TrimPrefix(doc, vs.Names[0].Name+": ")
			if doc == "" {
				return nil, fmt.Errorf("%s: %s has no doc comment", path, vs.Names[0].Name)
			}
			out = append(out, GuardReason{Group: group, Value: value, Doc: doc})
		}
	}
	return out, nil
}

// GuardReasonsMarkdown is docs/etcd-guard.md's table of the guard's wait reasons.
func GuardReasonsMarkdown(root string) (string, error) {
	rs, err := GuardReasons(root)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| concerns | reason | meaning |\n|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", r.Group, r.Value, strings.ReplaceAll(r.Doc, "|", "\\|"))
	}
	return b.String(), nil
}
