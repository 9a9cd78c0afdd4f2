package watch

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// IgnoreFile is the workspace's file of extra ignore patterns, in the
// syntax of .gitignore.
const IgnoreFile = ".msxignore"

// ignoredDirs are folders never watched: version control, msx's own state
// and build output (so files msx writes never trigger a build), and
// dependencies of front-end tooling.
var ignoredDirs = map[string]bool{
	".git": true, ".hg": true, ".svn": true, ".msx": true, ".idea": true, ".vscode": true, "node_modules": true,
}

// ignoredFile reports the names editors and the Go toolchain write and
// remove while saving or building, which are never sources:
//
//	*.swp *.swx *.swpx 4913   vim (4913 is its probe of a folder's writability)
//	*~ .#* #*#                emacs and many others
//	___jb_*                   JetBrains "safe write"
//	.goutputstream-*          GNOME's atomic save
//	NAME.go123456             gofmt -w's backup (the name plus random digits)
//	*.test __debug_bin*       go test -c and delve's build output
//	*.tmp                     atomic writes by many tools
func ignoredFile(name string) bool {
	switch {
	case name == "4913",
		strings.HasSuffix(name, ".swp"), strings.HasSuffix(name, ".swx"), strings.HasSuffix(name, ".swpx"),
		strings.HasSuffix(name, "~"),
		strings.HasPrefix(name, ".#"),
		len(name) > 1 && strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"),
		strings.HasPrefix(name, "___jb_"),
		strings.HasPrefix(name, ".goutputstream-"),
		strings.HasSuffix(name, ".test"), strings.HasPrefix(name, "__debug_bin"),
		strings.HasSuffix(name, ".tmp"),
		goBackup(name):
		return true
	}
	return false
}

// goBackup reports gofmt's backup files: "main.go" followed by digits.
func goBackup(name string) bool {
	i := strings.LastIndex(name, ".go")
	if i < 0 || i+3 == len(name) {
		return false
	}
	for _, c := range name[i+3:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Ignore decides which paths of a workspace are not watched: the built-in
// rules above, then the patterns of .msxignore, the last matching pattern
// winning as in .gitignore.
type Ignore struct {
	rules []rule
}

type rule struct {
	re      *regexp.Regexp
	negate  bool
	dirOnly bool
}

// LoadIgnore reads root/.msxignore; a missing file means no extra patterns.
func LoadIgnore(root string) (*Ignore, error) {
	f, err := os.Open(filepath.Join(root, IgnoreFile))
	if os.IsNotExist(err) {
		return &Ignore{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	ig, err := ParseIgnore(lines)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", IgnoreFile, err)
	}
	return ig, nil
}

// ParseIgnore compiles .gitignore-style lines: blank lines and lines
// starting with # are skipped, ! negates, a trailing / matches folders
// only, a pattern with a / other than at its end is anchored at the root,
// * and ? never match /, ** matches any number of folders.
func ParseIgnore(lines []string) (*Ignore, error) {
	ig := &Ignore{}
	for n, line := range lines {
		line = strings.TrimRight(line, " \t\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var r rule
		if strings.HasPrefix(line, "!") {
			r.negate = true
			line = line[1:]
		} else if strings.HasPrefix(line, `\`) {
			line = line[1:] // \# and \! stand for themselves
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = strings.TrimRight(line, "/")
		}
		anchored := strings.Contains(line, "/")
		line = strings.TrimPrefix(line, "/")
		if line == "" {
			continue
		}
		expr := globToRegexp(line)
		if anchored {
			expr = "^" + expr + "$"
		} else {
			expr = "(^|/)" + expr + "$"
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("line %d: bad pattern %q", n+1, lines[n])
		}
		r.re = re
		ig.rules = append(ig.rules, r)
	}
	return ig, nil
}

// globToRegexp translates one .gitignore glob.
func globToRegexp(g string) string {
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case strings.HasPrefix(g[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(g[i:], "/**") && i+3 == len(g):
			b.WriteString("(/.*)?")
			i += 2
		case strings.HasPrefix(g[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(g[i:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := g[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j
		case c == '\\' && i+1 < len(g):
			i++
			b.WriteString(regexp.QuoteMeta(string(g[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// Ignored reports whether rel, a slash-separated path relative to the
// workspace root, is ignored; isDir says whether it is a folder. A path
// inside an ignored folder is ignored.
func (ig *Ignore) Ignored(rel string, isDir bool) bool {
	rel = path.Clean(filepath.ToSlash(rel))
	if rel == "." || rel == "" {
		return false
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		dir := i < len(parts)-1 || isDir
		if ig.ignoredOne(strings.Join(parts[:i+1], "/"), parts[i], dir) {
			return true
		}
	}
	return false
}

// ignoredOne applies the rules to one path, not to its parents.
func (ig *Ignore) ignoredOne(rel, name string, isDir bool) bool {
	if isDir && ignoredDirs[name] {
		return true
	}
	if !isDir && ignoredFile(name) {
		return true
	}
	ignored := false
	for _, r := range ig.rules {
		if r.dirOnly && !isDir {
			continue
		}
		if r.re.MatchString(rel) {
			ignored = !r.negate
		}
	}
	return ignored
}
