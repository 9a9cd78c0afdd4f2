// Package release checks the release: the configuration (.goreleaser.yaml)
// here, in the suite; the snapshot GoReleaser builds from it when
// scripts/release-check.sh runs (it builds the pinned GoReleaser once and
// caches it, so the suite never compiles GoReleaser); and a go install from
// a clean clone.
package release

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/msx-dev/msx/cmd"
	"github.com/msx-dev/msx/iostreams"
)

const configFile = ".goreleaser.yaml"

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, configFile)); err != nil {
		t.Fatalf("no %s at the repository root: %v", configFile, err)
	}
	return root
}

// config is the part of .goreleaser.yaml the release depends on.
type config struct {
	Version int `yaml:"version"`
	Before  struct {
		Hooks []string `yaml:"hooks"`
	} `yaml:"before"`
	Builds []struct {
		Env          []string `yaml:"env"`
		Goos         []string `yaml:"goos"`
		Goarch       []string `yaml:"goarch"`
		Flags        []string `yaml:"flags"`
		Ldflags      []string `yaml:"ldflags"`
		ModTimestamp string   `yaml:"mod_timestamp"`
	} `yaml:"builds"`
	Archives []struct {
		FormatOverrides []struct {
			Goos    string   `yaml:"goos"`
			Formats []string `yaml:"formats"`
		} `yaml:"format_overrides"`
		Files []struct {
			Src string `yaml:"src"`
			Dst string `yaml:"dst"`
		} `yaml:"files"`
	} `yaml:"archives"`
	HomebrewCasks []struct {
		Binaries    []string          `yaml:"binaries"`
		Completions map[string]string `yaml:"completions"`
		Manpages    []string          `yaml:"manpages"`
		Repository  struct {
			Owner string `yaml:"owner"`
			Name  string `yaml:"name"`
		} `yaml:"repository"`
	} `yaml:"homebrew_casks"`
}

// TestConfigShape checks what goreleaser check cannot: the platforms, the
// static build, and that every -X in ldflags names a string variable that
// exists in package cmd (a renamed variable would make -X a silent no-op).
func TestConfigShape(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, configFile))
	if err != nil {
		t.Fatal(err)
	}
	var c config
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", configFile, err)
	}
	if c.Version != 2 {
		t.Errorf("version = %d, want 2", c.Version)
	}
	if len(c.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(c.Builds))
	}
	b := c.Builds[0]
	if !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("env = %v, want CGO_ENABLED=0", b.Env)
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		if !slices.Contains(b.Goos, goos) {
			t.Errorf("goos %v lacks %s", b.Goos, goos)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if !slices.Contains(b.Goarch, arch) {
			t.Errorf("goarch %v lacks %s", b.Goarch, arch)
		}
	}
	ldflags := strings.Join(b.Ldflags, " ")
	if !slices.Contains(b.Flags, "-trimpath") {
		t.Errorf("flags %v lack -trimpath", b.Flags)
	}
	if b.ModTimestamp != "{{ .CommitTimestamp }}" {
		t.Errorf("mod_timestamp = %q, want the commit time", b.ModTimestamp)
	}
	if !strings.Contains(ldflags, "-s -w") {
		t.Errorf("ldflags %q lack -s -w", ldflags)
	}
	vars := stringVars(t, filepath.Join(root, "cmd"))
	xs := regexp.MustCompile(`-X (\S+)\.(\w+)=(\S+)`).FindAllStringSubmatch(ldflags, -1)
	set := map[string]string{}
	for _, x := range xs {
		if x[1] != "github.com/msx-dev/msx/cmd" {
			t.Errorf("-X %s.%s: not package cmd", x[1], x[2])
			continue
		}
		if !vars[x[2]] {
			t.Errorf("-X sets cmd.%s, which is not a string variable of package cmd", x[2])
		}
		set[x[2]] = x[3]
	}
	// The build date is the commit's: the same commit builds the same bytes.
	for name, tmpl := range map[string]string{"version": "{{.Version}}", "commit": "{{.FullCommit}}", "date": "{{.CommitDate}}"} {
		if set[name] != tmpl {
			t.Errorf("cmd.%s is set to %q, want %q", name, set[name], tmpl)
		}
	}
	zip := false
	for _, a := range c.Archives {
		for _, o := range a.FormatOverrides {
			if o.Goos == "windows" && slices.Contains(o.Formats, "zip") {
				zip = true
			}
		}
	}
	if !zip {
		t.Error("windows archives are not zip")
	}
	if len(c.HomebrewCasks) != 1 || c.HomebrewCasks[0].Repository.Owner != "msx-dev" || c.HomebrewCasks[0].Repository.Name != "homebrew-tap" {
		t.Fatalf("homebrew_casks = %+v, want one cask in msx-dev/homebrew-tap", c.HomebrewCasks)
	}

	// The archives carry what the cask installs, generated before the build.
	hooks := strings.Join(c.Before.Hooks, "\n")
	if !strings.Contains(hooks, "go run ./internal/gendocs -release build/release") {
		t.Errorf("before.hooks do not generate the man pages and completions: %q", hooks)
	}
	files := map[string]string{}
	for _, f := range c.Archives[0].Files {
		files[f.Src] = f.Dst
	}
	for src, dst := range map[string]string{"LICENSE": "", "README.md": "", "build/release/completions/*": "completions", "build/release/man/*": "man"} {
		if got, ok := files[src]; !ok || got != dst {
			t.Errorf("archives lack %s (in %q): files = %v", src, dst, files)
		}
	}
	cask := c.HomebrewCasks[0]
	if !slices.Equal(cask.Binaries, []string{"msx"}) {
		t.Errorf("cask binaries = %v, want [msx]", cask.Binaries)
	}
	for shell, file := range map[string]string{"bash": "completions/msx.bash", "zsh": "completions/_msx", "fish": "completions/msx.fish"} {
		if cask.Completions[shell] != file {
			t.Errorf("cask completion for %s = %q, want %q", shell, cask.Completions[shell], file)
		}
	}
	// A cask cannot glob: its man pages are listed, and must be those of
	// the command tree (cobra/doc names them msx-new-service.1 and so on).
	want := manPages(cmd.NewRootCmd(cmd.NewFactory(&iostreams.IOStreams{})))
	slices.Sort(want)
	got := slices.Clone(cask.Manpages)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("homebrew_casks.manpages = %v\nwant one per command: %v\n(edit the list in %s)", got, want, configFile)
	}
}

// manPages lists the man pages cobra/doc writes for c and its visible
// subcommands.
func manPages(c *cobra.Command) []string {
	if !c.IsAvailableCommand() && c.HasParent() || c.IsAdditionalHelpTopicCommand() {
		return nil
	}
	out := []string{"man/" + strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"}
	for _, sub := range c.Commands() {
		out = append(out, manPages(sub)...)
	}
	return out
}

// stringVars returns the package-level variables of the package in dir
// that -X can set: declared as strings or initialised with a string literal.
func stringVars(t *testing.T, dir string) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
						vars[name.Name] = true
					}
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							vars[name.Name] = true
						}
					}
				}
			}
		}
	}
	return vars
}
