package docgen

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Pages are the documents whose links are checked: README.md and every
// Markdown file under docs/, by slash path from root.
func Pages(root string) ([]string, error) {
	pages := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			pages = append(pages, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(pages[1:])
	return pages, err
}

// Slug is the anchor GitHub gives a heading's text: lowercased, every
// character but letters, digits, spaces, '-' and '_' dropped, spaces made
// '-'. Markdown in the text counts as rendered: code spans keep their
// text, links their text, emphasis and HTML tags go.
func Slug(heading string) string {
	s := linkRe.ReplaceAllString(heading, "$1")
	s = htmlTagRe.ReplaceAllString(s, "")
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

var (
	fenceRe    = regexp.MustCompile("(?m)^ {0,3}(```|~~~)")
	headingRe  = regexp.MustCompile(`^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$`)
	linkRe     = regexp.MustCompile(`!?\[([^\]]*)\]\(([^)\s]*)(?:\s+"[^"]*")?\)`)
	codeSpanRe = regexp.MustCompile("`[^`\n]*`")
	htmlTagRe  = regexp.MustCompile(`</?[A-Za-z][^>]*>`)
)

// prose is a document without its fenced code blocks, line for line
// (a fence's lines become empty), so headings and links in code are not
// taken for real ones.
func prose(doc string) []string {
	lines := strings.Split(doc, "\n")
	in := ""
	for i, l := range lines {
		if m := fenceRe.FindStringSubmatch(l); m != nil {
			switch in {
			case "":
				in = m[1]
			case m[1]:
				in = ""
			}
			lines[i] = ""
			continue
		}
		if in != "" {
			lines[i] = ""
		}
	}
	return lines
}

// Anchors are the heading anchors of a document, as GitHub numbers
// repeats: the second "Notes" is notes-1.
func Anchors(doc string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	for _, l := range prose(doc) {
		m := headingRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		s := Slug(m[1])
		if n := count[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		count[s]++
	}
	return out
}

// Link is a relative link of a page: where it is and what it names.
type Link struct {
	Page, Target string
	Line         int
}

// Links are a document's relative links (no scheme, no mail), outside
// code.
func Links(page, doc string) []Link {
	var out []Link
	for i, l := range prose(doc) {
		l = codeSpanRe.ReplaceAllString(l, "``")
		for _, m := range linkRe.FindAllStringSubmatch(l, -1) {
			t := m[2]
			if t == "" {
				continue
			}
			if u, err := url.Parse(t); err == nil && u.Scheme != "" {
				continue
			}
			out = append(out, Link{Page: page, Target: t, Line: i + 1})
		}
	}
	return out
}

// BrokenLinks checks every relative link of Pages under root: its file or
// directory exists, and its #anchor is a heading of the page it names.
// It returns one line per broken link.
func BrokenLinks(root string) ([]string, error) {
	pages, err := Pages(root)
	if err != nil {
		return nil, err
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(p string) (map[string]bool, error) {
		if a, ok := anchors[p]; ok {
			return a, nil
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p))) //nolint:gosec // a repository file
		if err != nil {
			return nil, err
		}
		anchors[p] = Anchors(string(b))
		return anchors[p], nil
	}
	var broken []string
	for _, page := range pages {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page))) //nolint:gosec // a repository file
		if err != nil {
			return nil, err
		}
		for _, l := range Links(page, string(b)) {
			file, frag, _ := strings.Cut(l.Target, "#")
			target := page
			if file != "" {
				target = filepath.ToSlash(filepath.Join(filepath.Dir(page), file))
				fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(target)))
				if err != nil {
					broken = append(broken, fmt.Sprintf("%s:%d: %s: no such file", l.Page, l.Line, l.Target))
					continue
				}
				if fi.IsDir() || frag == "" {
					continue
				}
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(target, ".md") {
				broken = append(broken, fmt.Sprintf("%s:%d: %s: an anchor into a file that is not Markdown", l.Page, l.Line, l.Target))
				continue
			}
			a, err := anchorsOf(target)
			if err != nil {
				return nil, err
			}
			if !a[frag] {
				broken = append(broken, fmt.Sprintf("%s:%d: %s: %s has no heading #%s", l.Page, l.Line, l.Target, target, frag))
			}
		}
	}
	return broken, nil
}
