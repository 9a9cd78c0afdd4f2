package builder

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"golang.org/x/mod/modfile"
)

// The stamp proves that nothing changed since the last successful build,
// without starting the Go toolchain: it records a hash of everything that
// goes into the binaries (the workspace's Go sources and the files they
// embed, go.mod and go.sum, the targets, msx's version, the flags, the
// architecture, the go command and the environment that steers it) with
// that build's results. A build whose hash matches, whose binaries are on
// disk and whose images are in the engine returns those results as they
// are. Where the inputs cannot be proven from the workspace alone (a
// go.work, a replace by a local folder), there is no stamp and go build
// decides, as it always can.

// stampVersion changes when what the key covers changes.
const stampVersion = "msx-stamp/1"

// stamp is the file .msx/build/stamp-TARGETS.json.
type stamp struct {
	Key string
	// Toolchain identifies the go command of the build: a new toolchain
	// compiles differently. Without a go command msx cannot build, so
	// then the rest of the key decides.
	Toolchain string
	Results   []Result
}

// toolchain identifies the go command by its path, size and time, or
// returns "" when there is none.
func (b *Builder) toolchain() string {
	goPath, err := exec.LookPath(b.goCommand())
	if err != nil {
		return ""
	}
	info, err := os.Stat(goPath)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %d %d", goPath, info.Size(), info.ModTime().UnixNano())
}

// goEnv are the variables that change what go build produces.
var goEnv = []string{"GOFLAGS", "GOEXPERIMENT", "GOAMD64", "GOARM", "GOARM64", "GO386", "GOTOOLCHAIN", "GOROOT", "GOPATH", "GOMODCACHE", "GOWORK", "GOPRIVATE", "GONOSUMDB", "GOINSECURE"}

// stampPath is the stamp of one list of targets: a build of some targets
// (a rebuild after a change) does not overwrite the stamp of all of them.
func stampPath(dir string, targets []Target) string {
	h := sha256.New()
	for _, t := range targets {
		fmt.Fprintf(h, "%s=%s\n", t.Name, t.Pkg)
	}
	return filepath.Join(dir, ".msx", "build", "stamp-"+hex.EncodeToString(h.Sum(nil))[:12]+".json")
}

// sourceKey hashes the inputs of a build of targets but the architecture
// (the caller adds it), or returns "" when they cannot be proven from the
// workspace.
func (b *Builder) sourceKey(dir string, targets []Target) string {
	if os.Getenv("GOWORK") != "" && os.Getenv("GOWORK") != "off" || hasGoWork(dir) {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n%q\n", stampVersion, recipeVersion, b.opts.Project, b.opts.MsxVersion, buildFlags)
	for _, t := range targets {
		fmt.Fprintf(h, "target %s=%s\n", t.Name, t.Pkg)
		// A program msx owns changes with its embedded source.
		rels := make([]string, 0, len(t.Files))
		for rel := range t.Files {
			rels = append(rels, rel)
		}
		sort.Strings(rels)
		for _, rel := range rels {
			fmt.Fprintf(h, "own %s %s %x\n", t.Name, rel, sha256.Sum256(t.Files[rel]))
		}
	}
	for _, k := range goEnv {
		fmt.Fprintf(h, "env %s=%s\n", k, os.Getenv(k))
	}
	for _, certs := range b.caCerts {
		if info, err := os.Stat(certs); err == nil {
			fmt.Fprintf(h, "certs %s %d %d\n", certs, info.Size(), info.ModTime().UnixNano())
			break
		}
	}

	files, ok := sourceFiles(dir)
	if !ok {
		return ""
	}
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return ""
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(h, "file %s %x\n", filepath.ToSlash(rel), sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hasGoWork reports a go.work in dir or a folder above it.
func hasGoWork(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return true
		}
		if filepath.Dir(d) == d {
			return false
		}
	}
}

// sourceFiles lists, sorted and relative to dir, go.mod, go.sum, every Go
// source file (test files excepted) in the folders the go command reads,
// and every file matched by a //go:embed pattern. ok is false when go.mod
// replaces a module by a local folder, whose files are not the
// workspace's.
func sourceFiles(dir string) (files []string, ok bool) {
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return nil, false
	}
	mf, err := modfile.Parse("go.mod", mod, nil)
	if err != nil {
		return nil, false
	}
	for _, r := range mf.Replace {
		if r.New.Version == "" {
			return nil, false
		}
	}
	set := map[string]bool{"go.mod": true}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		set["go.sum"] = true
	}
	type embed struct{ dir, pattern string }
	var embeds []embed
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !isSource(name) {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		set[rel] = true
		if filepath.Ext(name) == ".go" {
			pats, err := embedPatterns(p)
			if err != nil {
				return err
			}
			for _, pat := range pats {
				embeds = append(embeds, embed{filepath.Dir(p), pat})
			}
		}
		return nil
	})
	if err != nil {
		return nil, false
	}
	for _, e := range embeds {
		matches, err := filepath.Glob(filepath.Join(e.dir, filepath.FromSlash(strings.TrimPrefix(e.pattern, "all:"))))
		if err != nil {
			return nil, false
		}
		for _, m := range matches {
			_ = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					rel, _ := filepath.Rel(dir, p)
					set[rel] = true
				}
				return nil
			})
		}
	}
	for f := range set {
		files = append(files, f)
	}
	slices.Sort(files)
	return files, true
}

// embedPatterns returns the patterns of the //go:embed lines of a Go file
// (quoted patterns are unquoted).
func embedPatterns(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("//go:embed")) {
		return nil, nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "//go:embed")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			out = append(out, strings.Trim(f, "\"`"))
		}
	}
	return out, nil
}

// upToDate returns the results of the stamped build when key matches and
// every binary and image is still there.
func (b *Builder) upToDate(ctx context.Context, dir string, targets []Target, key string) ([]Result, bool) {
	if key == "" {
		return nil, false
	}
	data, err := os.ReadFile(stampPath(dir, targets))
	if err != nil {
		return nil, false
	}
	var st stamp
	if json.Unmarshal(data, &st) != nil || st.Key != key || len(st.Results) != len(targets) {
		return nil, false
	}
	if tc := b.toolchain(); tc != "" && tc != st.Toolchain {
		return nil, false
	}
	for i, r := range st.Results {
		if r.Name != targets[i].Name {
			return nil, false
		}
		if _, err := os.Stat(r.Binary); err != nil {
			return nil, false
		}
		st.Results[i].Rebuilt = false
	}
	// One list of the workspace's images rather than an inspect each.
	imgs, err := b.api.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelProject+"="+b.opts.Project),
		filters.Arg("label", LabelWorkspace+"="+dir),
	)})
	if err != nil {
		return nil, false
	}
	have := map[string]bool{}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			have[tag] = true
		}
	}
	for _, r := range st.Results {
		if !have[r.Image] {
			return nil, false
		}
	}
	return st.Results, true
}

// writeStamp records a successful build. Best effort: without a stamp the
// next build runs go build, which is correct, only slower.
func (b *Builder) writeStamp(dir string, targets []Target, key string, results []Result) {
	if key == "" {
		return
	}
	data, err := json.Marshal(stamp{Key: key, Toolchain: b.toolchain(), Results: results})
	if err != nil {
		return
	}
	p := stampPath(dir, targets)
	tmp := p + ".tmp"
	if os.WriteFile(tmp, data, 0o644) != nil {
		return
	}
	if os.Rename(tmp, p) != nil {
		os.Remove(tmp)
	}
}
