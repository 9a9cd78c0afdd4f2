package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/msx-dev/msx/activity"
)

// generateRun selects the go:generate lines a GraphQL change runs: gqlgen's
// (the server's execution code) and genqlient's (the callers' typed client).
// Other generate lines of the service are the user's to run.
const generateRun = `go tool (gqlgen|genqlient)\b`

var generateLine = regexp.MustCompile(`(?m)^//go:generate .*` + generateRun)

// echoFor is how long the files a generate wrote are recognised when the
// watcher reports them: long enough for its debounce, short enough that a
// later revert to the same content is not mistaken for the echo.
const echoFor = 30 * time.Second

// generator runs a GraphQL service's go:generate step when its schema,
// its operations or their configuration change while msx up watches, so
// that a schema edit is swapped in as a resolver edit is. It is used by
// the build loop's goroutine only.
type generator struct {
	s *Session
	// wrote maps each Go file of a service that generate ran for to its
	// content's hash afterwards: the watcher's report of the same file
	// with the same content is the generate's own write, already built.
	wrote map[string]wrote
}

type wrote struct {
	sum [sha256.Size]byte
	at  time.Time
}

func (s *Session) generator() *generator {
	return &generator{s: s, wrote: map[string]wrote{}}
}

// root is the workspace's folder, absolute.
func (g *generator) root() (string, error) {
	m, _ := g.s.current()
	return filepath.Abs(m.Dir)
}

// generates reports whether a batch of changed files has a GraphQL
// service generate from them.
func (g *generator) generates(paths []string) bool {
	root, err := g.root()
	return err == nil && len(generateTargets(root, g.s.programs(), paths)) > 0
}

// generate takes a batch of changed files and returns the batch to map to
// programs: without the Go files the last generate wrote (unchanged since),
// with the Go files a generate run now changed. A failed generate is the
// service's BuildFailed, and nothing of it is rebuilt.
func (g *generator) generate(ctx context.Context, paths []string) []string {
	root, err := g.root()
	if err != nil {
		return paths
	}
	now := g.s.clock.Now()
	paths = slices.DeleteFunc(slices.Clone(paths), func(p string) bool {
		w, ok := g.wrote[filepath.Clean(p)]
		if !ok {
			return false
		}
		if now.Sub(w.at) < echoFor && w.sum == hashFile(p) {
			return true
		}
		delete(g.wrote, filepath.Clean(p))
		return false
	})
	for _, svc := range generateTargets(root, g.s.programs(), paths) {
		dir := filepath.Join(root, "services", svc)
		before := readGo(dir)
		pkgs := generatePkgs(root, before)
		if len(pkgs) == 0 {
			continue // no gqlgen or genqlient line: not a GraphQL service
		}
		g.s.publish(activity.Event{Kind: activity.Building, Service: svc, Detail: "generating from the GraphQL schema"})
		start := g.s.clock.Now()
		out, err := g.s.runGenerate(ctx, root, pkgs)
		if ctx.Err() != nil {
			return paths
		}
		if err != nil {
			// gqlgen removes its output before it reads the schema: put
			// back what the generate removed or changed, so that the
			// workspace still builds the version that serves.
			for p, f := range before {
				if cur, ok := statGo(p); !ok || cur != f.goFile {
					_ = os.WriteFile(p, f.content, 0o644)
				}
			}
		}
		after := readGo(dir)
		at := g.s.clock.Now()
		n := len(paths)
		for p, f := range after {
			if before[p].goFile == f.goFile {
				continue // not written: an edit of it is the user's
			}
			g.wrote[p] = wrote{sum: f.sum, at: at}
			if before[p].sum != f.sum {
				paths = append(paths, p)
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				paths = append(paths, p) // removed by the generate
			}
		}
		switch {
		case err != nil:
			g.s.publish(activity.Event{Kind: activity.BuildFailed, Service: svc, Duration: at.Sub(start),
				Detail: "go generate failed: " + generateMessage(out, err) +
					"; the previous version keeps serving until the schema generates"})
		case len(paths) == n:
			// No code changed: no build follows to end the Building above.
			g.s.publish(activity.Event{Kind: activity.Built, Service: svc, Duration: at.Sub(start),
				Detail: "generated code unchanged"})
		}
	}
	return paths
}

// generatePkgs are the packages (./services/..., sorted: the server's
// before its API package) whose files hold a go:generate line running
// gqlgen or genqlient.
func generatePkgs(root string, files map[string]goSource) []string {
	var out []string
	for p, f := range files {
		if !generateLine.Match(f.content) {
			continue
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			continue
		}
		if pkg := "./" + filepath.ToSlash(rel); !slices.Contains(out, pkg) {
			out = append(out, pkg)
		}
	}
	slices.Sort(out)
	return out
}

// generateTargets returns the programs (sorted) whose GraphQL files are
// among paths: a schema (.graphqls) or operations (.graphql) file, or
// gqlgen's or genqlient's configuration, anywhere under services/NAME of
// the workspace at root.
func generateTargets(root string, programs, paths []string) []string {
	var out []string
	for _, p := range paths {
		rel, err := filepath.Rel(root, filepath.Clean(p))
		if err != nil {
			continue
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) < 3 || parts[0] != "services" || !slices.Contains(programs, parts[1]) {
			continue
		}
		if !graphQLFile(parts[len(parts)-1]) || slices.Contains(out, parts[1]) {
			continue
		}
		out = append(out, parts[1])
	}
	slices.Sort(out)
	return out
}

// graphQLFile reports the files a GraphQL service generates from.
func graphQLFile(name string) bool {
	switch name {
	case "gqlgen.yml", "gqlgen.yaml", "genqlient.yml", "genqlient.yaml":
		return true
	}
	switch filepath.Ext(name) {
	case ".graphqls", ".graphql", ".gql":
		return true
	}
	return false
}

// goGenerate runs the GraphQL go:generate lines of pkgs, in dir, as the
// user would (go generate), so that the command is the one the line names.
func goGenerate(ctx context.Context, dir string, pkgs []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"generate", "-run", generateRun}, pkgs...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// generateMessage is what gqlgen or genqlient said, on one line, without
// go generate's own "running" line.
func generateMessage(out []byte, err error) string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(l, `: running "go": exit status`) {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return err.Error()
	}
	return strings.Join(lines, "; ")
}

// goFile is a Go file's content hash and modification time: a file
// written again with the same content is told apart by the time.
type goFile struct {
	sum [sha256.Size]byte
	mod time.Time
}

// goSource is a Go file as it was, to put it back.
type goSource struct {
	goFile
	content []byte
}

// readGo reads the Go files under dir (tests excepted), by path.
func readGo(dir string) map[string]goSource {
	out := map[string]goSource{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		out[p] = goSource{goFile{sum: sha256.Sum256(b), mod: info.ModTime()}, b}
		return nil
	})
	return out
}

// statGo is one file's goFile; false when it is gone.
func statGo(p string) (goFile, bool) {
	info, err := os.Stat(p)
	if err != nil {
		return goFile{}, false
	}
	return goFile{sum: hashFile(p), mod: info.ModTime()}, true
}

func hashFile(p string) [sha256.Size]byte {
	b, err := os.ReadFile(p)
	if err != nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(b)
}
