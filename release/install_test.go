package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// TestGoInstallFromCleanClone does what a user does once the module is
// published, on the committed tree only: clone, go install . with an empty
// GOBIN and cgo off, run the result. A replace directive, a generated file
// missing from git or a cgo dependency would break it.
func TestGoInstallFromCleanClone(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles msx from a fresh clone")
	}
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(mf.Replace) > 0 {
		t.Errorf("go.mod has %d replace directives: go install MODULE@VERSION refuses a module with any", len(mf.Replace))
	}

	head := strings.TrimSpace(run(t, root, nil, "git", "rev-parse", "HEAD"))
	clone := filepath.Join(t.TempDir(), "msx")
	run(t, root, nil, "git", "clone", "--quiet", "--no-checkout", root, clone)
	run(t, clone, nil, "git", "checkout", "--quiet", head)

	gobin := t.TempDir()
	// -buildvcs=auto is go's default, which stamps the commit (this
	// machine's GOFLAGS may carry -buildvcs=false).
	run(t, clone, []string{"GOBIN=" + gobin, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=auto", "GOWORK=off"}, "go", "install", ".")
	bin := filepath.Join(gobin, "msx")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out := run(t, clone, nil, bin, "version")
	if !strings.HasPrefix(out, "msx ") || !strings.Contains(out, "commit "+head) {
		t.Errorf("msx version printed %q, want the commit %s from the build info", out, head)
	}
	if help := run(t, clone, nil, bin, "--help"); !strings.Contains(help, "msx up") && !strings.Contains(help, "up ") {
		t.Errorf("msx --help does not list the commands:\n%s", help)
	}
}

// run runs a command in dir with extra environment and returns its stdout,
// failing the test on a non-zero exit.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
