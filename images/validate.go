package images

import (
	"fmt"
	"slices"
	"strings"

	"github.com/siderolabs/talos/pkg/machinery/constants"

	"github.com/talos-aws/talos-aws/internal/textdist"
)

// Kind classifies a Problem. The values are config.ErrorType's, so the
// program turns a Problem into a config.FieldError field for field (this
// package does not import config, which is to import it).
type Kind string

// The kinds of problem the validation reports.
const (
	Required     Kind = "Required value"
	Invalid      Kind = "Invalid value"
	NotSupported Kind = "Unsupported value"
	Duplicate    Kind = "Duplicate value"
	Forbidden    Kind = "Forbidden"
)

// Problem is one error in one key, by the path the user writes with
// `pulumi config set --path` (workerPools[1].image.extensions[2]).
type Problem struct {
	Kind   Kind
	Path   string
	Value  any
	Detail string
}

func (p Problem) Error() string {
	s := p.Path + ": " + string(p.Kind)
	if p.Value != nil {
		s += fmt.Sprintf(": %q", p.Value)
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// ValidateSpec checks one image key (path: "image" or
// "workerPools[1].image") for a Talos version, every problem at once:
// extension names the factory offers for that version (Extensions), no
// duplicates, no renamed names, and kernel arguments Talos takes and the
// stack can live with (kernelArgProblems).
func ValidateSpec(path string, s Spec, talosVersion string) []Problem {
	var out []Problem
	list, err := Extensions(talosVersion)
	if err != nil {
		return []Problem{{Kind: Invalid, Path: "talosVersion", Value: talosVersion, Detail: err.Error()}}
	}
	first := map[string]string{}
	for i, name := range s.Extensions {
		p := fmt.Sprintf("%s.extensions[%d]", path, i)
		if prev, dup := first[name]; dup {
			out = append(out, Problem{Kind: Duplicate, Path: p, Value: name, Detail: "same as " + prev})
			continue
		}
		first[name] = p
		if now, ok := renamed[name]; ok {
			out = append(out, Problem{Kind: Invalid, Path: p, Value: name, Detail: fmt.Sprintf("renamed: write %q (the Image Factory still accepts the old name, but it would make a second schematic and AMI of the same image)", now)})
			continue
		}
		if slices.Contains(list.Names, name) {
			continue
		}
		out = append(out, Problem{Kind: NotSupported, Path: p, Value: name, Detail: unknownExtension(name, talosVersion, list)})
	}
	out = append(out, kernelArgProblems(path+".extraKernelArgs", s.ExtraKernelArgs)...)
	return out
}

// unknownExtension says why a name is not offered and what is.
func unknownExtension(name, talosVersion string, l ExtensionList) string {
	var b strings.Builder
	fmt.Fprintf(&b, "not an official extension of Talos %s", talosVersion)
	if !l.Exact {
		fmt.Fprintf(&b, " as of siderolabs/extensions %s, the newest release this stack knows (a newer name needs images/extensions.txt regenerated)", l.Tag)
	}
	if !strings.HasPrefix(name, "siderolabs/") && slices.Contains(l.Names, "siderolabs/"+name) {
		fmt.Fprintf(&b, "; write %q (extensions are named with their siderolabs/ prefix)", "siderolabs/"+name)
	} else if near := nearest(name, l.Names, 3); len(near) > 0 {
		fmt.Fprintf(&b, "; did you mean %s?", strings.Join(quote(near), ", "))
	}
	fmt.Fprintf(&b, ". All %d names: %s/version/%s/extensions/official", len(l.Names), FactoryURL, talosVersion)
	return b.String()
}

func quote(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// nearest returns up to n names closest to name: those containing it (or
// contained in it) first, then by edit distance, within a third of its
// length.
func nearest(name string, names []string, n int) []string {
	q := strings.TrimPrefix(name, "siderolabs/")
	type cand struct {
		name string
		rank int
	}
	var cs []cand
	for _, c := range names {
		short := strings.TrimPrefix(c, "siderolabs/")
		switch d := textdist.Levenshtein(q, short); {
		case q != "" && (strings.Contains(short, q) || strings.Contains(q, short)):
			cs = append(cs, cand{c, -1000 + d})
		case d <= max(2, len(q)/3):
			cs = append(cs, cand{c, d})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// ownedArg is a kernel argument the stack refuses, and why.
type ownedArg struct {
	key    string
	prefix bool // key and every key under key.
	why    string
}

// ownedArgs are what the stack refuses. Talos itself refuses no extra
// kernel argument: the imager appends them to its own, letting
// talos.platform and console be replaced and "-arg" remove one
// (buildCmdline, pkg/imager/imager.go:386-410@v1.13.9; go-procfs
// Cmdline.AppendAll, procfs/cmdline.go:263-308@v0.1.2). The keys are
// machinery's (constants/constants.go:18-105@v1.13.9).
var ownedArgs = []ownedArg{
	{constants.KernelParamPlatform, false, "nodes run Talos' aws platform, which the image sets (talos.platform=aws) and which reads the machine configuration from EC2 user data"},
	{constants.KernelParamConfig, true, "the machine configuration is the EC2 user data the stack renders; a talos.config argument would replace or precede it, and it would sit in an AMI whose schematic anyone can read back from the Image Factory"},
	{constants.KernelParamHostname, false, "every node booted from the AMI would take this one hostname, while the stack names nodes after their EC2 hostname (drain/nodename.go)"},
	{constants.KernelParamWipe, false, "it wipes the node's disks at every boot, its etcd data included"},
}

// kernelArgProblems checks extraKernelArgs (path is the list's): one
// argument per element (Talos splits the command line on whitespace and
// knows no quoting: go-procfs parse, procfs/cmdline.go@v0.1.2), no key
// the stack owns, directly or negated, and no duplicates.
func kernelArgProblems(path string, args []string) []Problem {
	var out []Problem
	first := map[string]string{}
	for i, a := range args {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case a == "" || strings.TrimSpace(a) == "":
			out = append(out, Problem{Kind: Invalid, Path: p, Value: a, Detail: "empty: remove it"})
			continue
		case strings.ContainsAny(a, " \t\n\r\v\f"):
			out = append(out, Problem{Kind: Invalid, Path: p, Value: a, Detail: fmt.Sprintf("one argument per element: write %s as separate elements", strings.Join(quote(strings.Fields(a)), ", "))})
			continue
		case strings.ContainsRune(a, '"'):
			out = append(out, Problem{Kind: Invalid, Path: p, Value: a, Detail: "quotes are not supported: Talos splits the kernel command line on whitespace and does not unquote"})
			continue
		case strings.HasPrefix(a, "="):
			out = append(out, Problem{Kind: Invalid, Path: p, Value: a, Detail: "expected key or key=value"})
			continue
		}
		if prev, dup := first[a]; dup {
			out = append(out, Problem{Kind: Duplicate, Path: p, Value: a, Detail: "same as " + prev})
			continue
		}
		first[a] = p
		key, _, _ := strings.Cut(a, "=")
		base := key
		if len(key) > 1 && key[0] == '-' {
			base = key[1:]
		}
		for _, o := range ownedArgs {
			if base == o.key || (o.prefix && strings.HasPrefix(base, o.key+".")) {
				out = append(out, Problem{Kind: Forbidden, Path: p, Value: a, Detail: fmt.Sprintf("%s is refused: %s", base, o.why)})
				break
			}
		}
	}
	return out
}
