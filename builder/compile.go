package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/docker/docker/api/types/filters"

	"github.com/msx-dev/msx/msxerr"
)

// goBuild compiles t for linux/goarch into out, with the host's build cache.
// `go build` does not relink when nothing changed, so a no-op is fast.
func (b *Builder) goBuild(ctx context.Context, t Target, out, goarch string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, t.Pkg)
	cmd.Dir = b.opts.Dir
	cmd.Env = buildEnv(os.Environ(), goarch)
	if t.Dir != "" {
		// A module of msx's own: no go.work of the user's applies.
		cmd.Dir = t.Dir
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
		return msxerr.Wrap(err, "install Go from https://go.dev/dl, then run msx doctor", "cannot run go build for %s: %v", t.Name, err)
	}
	if b.opts.Stderr != nil {
		writeCompilerOutput(b.opts.Stderr, t.Name, output.Bytes())
	}
	return msxerr.Wrap(err, "fix the error above and run msx up again", "service %s does not compile", t.Name)
}

// writeCompilerOutput writes the compiler's output in one write, so that the
// outputs of parallel builds do not interleave line by line.
func writeCompilerOutput(w io.Writer, name string, out []byte) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s: go build failed\n", name)
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
