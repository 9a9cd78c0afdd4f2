package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"golang.org/x/mod/modfile"

	"github.com/msx-dev/msx/msxerr"
)

// buildFlags are the flags of every build: no file system paths in the
// binary, no symbol table or DWARF (smaller binaries, faster links).
var buildFlags = []string{"-trimpath", "-ldflags=-s -w"}

// binDir is where binaries go, relative to the workspace: one folder for
// all, so that one `go build -o binDir/ pkgs...` writes them all and does
// not relink a binary that is up to date.
const binDir = ".msx/build/bin"

// binaryPaths returns where each target's binary goes: binDir/BASE, BASE
// being the package's last element, as `go build -o DIR/` names it. A
// target whose base name another target already has, or that go would
// name otherwise ("." or a major version suffix), gets a folder of its
// own and a build of its own.
func binaryPaths(dir string, targets []Target) (paths []string, shared []bool) {
	taken := map[string]bool{}
	for _, t := range targets {
		base := path.Base(filepath.ToSlash(t.Pkg))
		if oddName(base) || taken[base] {
			paths = append(paths, filepath.Join(dir, ".msx", "build", t.Name, "app"))
			shared = append(shared, false)
			continue
		}
		taken[base] = true
		paths = append(paths, filepath.Join(dir, filepath.FromSlash(binDir), base))
		shared = append(shared, true)
	}
	return paths, shared
}

func oddName(base string) bool {
	if base == "." || base == ".." || base == "/" {
		return true
	}
	if len(base) > 1 && base[0] == 'v' {
		if _, err := strconv.Atoi(base[1:]); err == nil {
			return true
		}
	}
	return false
}

// goBuild compiles targets for linux/goarch into outs (from binaryPaths),
// with the host's build cache: one `go build` for every target that
// shares binDir, so that the packages they share compile once and the
// links run in parallel inside one go command; a target with a folder of
// its own is one more go build. `go build` does not relink when nothing
// changed, so a build with no change is fast.
func (b *Builder) goBuild(ctx context.Context, targets []Target, outs []string, goarch string) error {
	var shared []Target
	for i, t := range targets {
		if filepath.Dir(outs[i]) == filepath.Join(b.opts.Dir, filepath.FromSlash(binDir)) {
			shared = append(shared, t)
			continue
		}
		if err := b.runGoBuild(ctx, []Target{t}, outs[i], goarch); err != nil {
			return err
		}
	}
	if len(shared) == 0 {
		return nil
	}
	return b.runGoBuild(ctx, shared, filepath.Join(b.opts.Dir, filepath.FromSlash(binDir))+string(filepath.Separator), goarch)
}

func (b *Builder) runGoBuild(ctx context.Context, targets []Target, out, goarch string) error {
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out)
	for _, t := range targets {
		args = append(args, t.Pkg)
	}
	cmd := exec.CommandContext(ctx, b.goCommand(), args...)
	cmd.Dir = b.opts.Dir
	cmd.Env = buildEnv(os.Environ(), goarch)
	if len(targets) == 1 && targets[0].Dir != "" {
		// A module of msx's own (its package is ".", so it builds on its
		// own): no go.work of the user's applies.
		cmd.Dir = targets[0].Dir
		cmd.Env = append(cmd.Env, "GOWORK=off")
	}
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if _, ok := err.(*exec.ExitError); !ok {
		return msxerr.Wrap(err, "install Go from https://go.dev/dl, then run msx doctor", "cannot run go build: %v", err)
	}
	names := failedTargets(b.opts.Dir, targets, output.Bytes())
	if b.opts.Stderr != nil {
		writeCompilerOutput(b.opts.Stderr, strings.Join(names, ", "), output.Bytes())
	}
	return &CompileError{Targets: names, Output: output.String(), err: err}
}

// CompileError is a go build that failed: the targets it names and the
// compiler's output (file:line: message lines).
type CompileError struct {
	Targets []string // the targets whose package failed; all of the build's when the failing package is one they share
	Output  string
	err     error
}

func (e *CompileError) Error() string { return e.msxErr().Error() }

// Unwrap gives the sentence and hint for the terminal.
func (e *CompileError) Unwrap() error { return e.msxErr() }

func (e *CompileError) msxErr() *msxerr.Error {
	const hint = "fix the error above and run msx up again"
	if len(e.Targets) == 1 {
		return msxerr.Wrap(e.err, hint, "service %s does not compile", e.Targets[0])
	}
	return msxerr.Wrap(e.err, hint, "services %s do not compile", strings.Join(e.Targets, ", "))
}

// failedTargets names the targets whose own package appears in the
// compiler's "# import/path" headers; when the failing packages are
// shared ones, every target of the build failed.
func failedTargets(dir string, targets []Target, out []byte) []string {
	module := modulePath(dir)
	var names []string
	for _, t := range targets {
		ip := path.Join(module, path.Clean(filepath.ToSlash(t.Pkg)))
		if bytes.Contains(out, []byte("# "+ip+"\n")) {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		for _, t := range targets {
			names = append(names, t.Name)
		}
	}
	return names
}

// modulePath reads the module path of dir/go.mod, or "" when it cannot.
func modulePath(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return ""
	}
	return modfile.ModulePath(data)
}

func (b *Builder) goCommand() string {
	if b.goCmd != "" {
		return b.goCmd
	}
	return "go"
}

// writeCompilerOutput writes the compiler's output in one write, so that
// it does not interleave with other output line by line.
func writeCompilerOutput(w io.Writer, names string, out []byte) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s: go build failed\n", names)
	buf.Write(out)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		buf.WriteByte('\n')
	}
	_, _ = w.Write(buf.Bytes())
}

// buildEnv is environ with the cross-compilation settings overridden.
// GOCACHE is left alone so that builds reuse the host's cache.
func buildEnv(environ []string, goarch string) []string {
	env := make([]string, 0, len(environ)+4)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CGO_ENABLED", "GOOS", "GOARCH":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
}

// engineArch asks the engine for its architecture, as a GOARCH.
func (b *Builder) engineArch(ctx context.Context) (string, error) {
	v, err := b.api.ServerVersion(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", msxerr.ErrCancelled
		}
		return "", msxerr.Wrap(err, "start Docker, then run msx doctor to check the set-up", "cannot ask Docker for its architecture: %v", err)
	}
	arch, ok := GoArch(v.Arch)
	if !ok {
		return "", msxerr.New("run msx on an amd64 or arm64 Docker engine", "Docker runs on %q, an architecture msx cannot build for", v.Arch)
	}
	return arch, nil
}

// GoArch maps an engine's architecture, as Info (uname: x86_64, aarch64)
// or Version (GOARCH: amd64, arm64) reports it, to a GOARCH.
func GoArch(engineArch string) (string, bool) {
	switch strings.ToLower(engineArch) {
	case "x86_64", "amd64", "x86-64":
		return "amd64", true
	case "aarch64", "arm64", "armv8", "armv8l":
		return "arm64", true
	case "armv7l", "armv7", "armv6l", "arm", "armhf":
		return "arm", true
	case "i386", "i686", "386":
		return "386", true
	case "ppc64le":
		return "ppc64le", true
	case "s390x":
		return "s390x", true
	case "riscv64":
		return "riscv64", true
	}
	return "", false
}

// serviceFilter selects the images of one service of one project in the
// workspace dir.
func serviceFilter(project, name, dir string) filters.Args {
	return filters.NewArgs(
		filters.Arg("label", LabelProject+"="+project),
		filters.Arg("label", LabelService+"="+name),
		filters.Arg("label", LabelWorkspace+"="+dir),
	)
}

// projectFilter selects the images of one project.
func projectFilter(project string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelProject+"="+project))
}
