// Package release checks the release configuration (.goreleaser.yaml).
package release

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// goreleaser is the GoReleaser the configuration is written for.
const goreleaser = "github.com/goreleaser/goreleaser/v2@v2.15.1"

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

// TestGoreleaserCheck runs `goreleaser check` on the configuration. The
// first run compiles GoReleaser (about 3 minutes on 2 cores); later runs
// reuse the go run cache and take about a second.
func TestGoreleaserCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles GoReleaser on a cold cache")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", goreleaser, "check", "--config", configFile)
	cmd.Dir = repoRoot(t)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("goreleaser check: %v\n%s", err, out.String())
	}
	t.Logf("goreleaser check passed in %v", time.Since(start).Round(time.Millisecond))
}

// config is the part of .goreleaser.yaml the release depends on.
type config struct {
	Version int `yaml:"version"`
	Builds  []struct {
		Env     []string `yaml:"env"`
		Goos    []string `yaml:"goos"`
		Goarch  []string `yaml:"goarch"`
		Ldflags []string `yaml:"ldflags"`
	} `yaml:"builds"`
	Archives []struct {
		FormatOverrides []struct {
			Goos    string   `yaml:"goos"`
			Formats []string `yaml:"formats"`
		} `yaml:"format_overrides"`
	} `yaml:"archives"`
	HomebrewCasks []struct {
		Repository struct {
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
	for name, tmpl := range map[string]string{"version": "{{.Version}}", "commit": "{{.Commit}}", "date": "{{.Date}}"} {
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
		t.Errorf("homebrew_casks = %+v, want one cask in msx-dev/homebrew-tap", c.HomebrewCasks)
	}
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
