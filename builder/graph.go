package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/msx-dev/msx/msxerr"
)

// Graph maps the workspace's files to the targets whose binaries they go
// into, through the Go package graph.
type Graph struct {
	root    string
	targets []string
	// pkgs are the workspace's packages that some target depends on, by
	// folder (absolute).
	pkgs map[string]*graphPkg
}

type graphPkg struct {
	dir           string
	embedPatterns []string
	targets       []string // names of the targets whose binary holds this package
}

// listedPackage is the part of `go list -json` output the graph reads.
type listedPackage struct {
	ImportPath    string
	Dir           string
	Standard      bool
	Deps          []string
	EmbedPatterns []string
	Module        *struct{ Main bool }
}

// listFields are the fields asked of go list: fewer fields, less work.
const listFields = "ImportPath,Dir,Standard,Deps,EmbedPatterns,Module"

// LoadGraph lists the packages targets depend on, with one `go list -deps
// -json` in dir, for linux as the builds are. A package that does not
// compile still lists (-e), so a broken file does not stop the mapping.
func LoadGraph(ctx context.Context, dir string, targets []Target) (*Graph, error) {
	return loadGraph(ctx, "go", dir, targets)
}

func loadGraph(ctx context.Context, goCmd, dir string, targets []Target) (*Graph, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	args := []string{"list", "-e", "-deps", "-json=" + listFields}
	for _, t := range targets {
		args = append(args, t.Pkg)
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, msxerr.ErrCancelled
		}
		return nil, msxerr.Wrap(err, "run go list -deps ./... in the workspace to see why", "cannot list the workspace's packages: %s", oneLine(stderr.String()))
	}
	byPath := map[string]*listedPackage{}
	dec := json.NewDecoder(&stdout)
	for {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		if p.Standard || p.Dir == "" || !within(root, p.Dir) {
			continue
		}
		byPath[p.ImportPath] = &p
	}
	g := &Graph{root: root, pkgs: map[string]*graphPkg{}}
	for _, t := range targets {
		g.targets = append(g.targets, t.Name)
		tdir := filepath.Join(root, filepath.FromSlash(t.Pkg))
		var main *listedPackage
		for _, p := range byPath {
			if filepath.Clean(p.Dir) == tdir {
				main = p
			}
		}
		if main == nil {
			continue // not in the workspace: nothing of it changes
		}
		for _, ip := range append([]string{main.ImportPath}, main.Deps...) {
			p, ok := byPath[ip]
			if !ok {
				continue
			}
			gp := g.pkgs[p.Dir]
			if gp == nil {
				gp = &graphPkg{dir: p.Dir, embedPatterns: p.EmbedPatterns}
				g.pkgs[p.Dir] = gp
			}
			if !slices.Contains(gp.targets, t.Name) {
				gp.targets = append(gp.targets, t.Name)
			}
		}
	}
	return g, nil
}

// within reports whether p is root or under it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Affected returns the names of the targets (sorted) whose binary depends
// on one of the changed paths (absolute): a Go source file of a package
// the target imports, directly or not, or a file one of those packages
// embeds. Test files and other files change no binary. replan is true
// when msx.yaml, go.mod or go.sum changed: the environment's plan and this
// graph must be made again (and with go.mod or go.sum, every target is
// affected).
func (g *Graph) Affected(paths []string) (names []string, replan bool) {
	set := map[string]bool{}
	for _, p := range paths {
		p = filepath.Clean(p)
		if filepath.Dir(p) == g.root {
			switch filepath.Base(p) {
			case "msx.yaml":
				replan = true
				continue
			case "go.mod", "go.sum", "go.work", "go.work.sum":
				replan = true
				for _, n := range g.targets {
					set[n] = true
				}
				continue
			}
		}
		for _, n := range g.affectedBy(p) {
			set[n] = true
		}
	}
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, replan
}

// affectedBy returns the targets one changed file goes into.
func (g *Graph) affectedBy(p string) []string {
	name := filepath.Base(p)
	if isSource(name) {
		if pkg := g.pkgs[filepath.Dir(p)]; pkg != nil {
			return pkg.targets
		}
		return nil
	}
	// An embedded file is matched against the embedding package's
	// patterns, not the files go list saw, so that a new file (a new
	// migration, say) counts too.
	var out []string
	for dir := filepath.Dir(p); within(g.root, dir); dir = filepath.Dir(dir) {
		if pkg := g.pkgs[dir]; pkg != nil && pkg.embeds(p) {
			out = append(out, pkg.targets...)
		}
		if dir == g.root {
			break
		}
	}
	return out
}

// isSource reports the files the compiler reads for a package, test files
// excepted.
func isSource(name string) bool {
	if strings.HasSuffix(name, "_test.go") {
		return false
	}
	switch filepath.Ext(name) {
	case ".go", ".s", ".S", ".syso":
		return true
	}
	return false
}

// embeds reports whether file matches one of the package's //go:embed
// patterns: the pattern names the file or a folder holding it. As in the
// go command, files starting with . or _ inside an embedded folder count
// only with the all: prefix.
func (p *graphPkg) embeds(file string) bool {
	rel, err := filepath.Rel(p.dir, file)
	if err != nil {
		return false
	}
	rel = filepath.ToSlash(rel)
	parts := strings.Split(rel, "/")
	for _, pat := range p.embedPatterns {
		all := strings.HasPrefix(pat, "all:")
		pat = strings.TrimPrefix(pat, "all:")
		for i := range parts {
			prefix := strings.Join(parts[:i+1], "/")
			if ok, _ := path.Match(pat, prefix); !ok {
				continue
			}
			if i == len(parts)-1 || all {
				return true
			}
			hidden := false
			for _, part := range parts[i+1:] {
				if strings.HasPrefix(part, ".") || strings.HasPrefix(part, "_") {
					hidden = true
				}
			}
			if !hidden {
				return true
			}
		}
	}
	return false
}
