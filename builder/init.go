package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/templates"
)

// initBinary returns msx-init for linux/goarch: compiled once per Builder,
// and kept under .msx/build/init by the hash of its source, so that the
// next msx up reads it instead of compiling it again.
func (b *Builder) initBinary(ctx context.Context, dir, goarch string) ([]byte, error) {
	b.initMu.Lock()
	defer b.initMu.Unlock()
	if bin, ok := b.inits[goarch]; ok {
		return bin, nil
	}
	bin, err := b.buildInit(ctx, dir, goarch)
	if err != nil {
		return nil, err
	}
	if b.inits == nil {
		b.inits = map[string][]byte{}
	}
	b.inits[goarch] = bin
	return bin, nil
}

// initGoMod makes msx-init's source a module of its own: it needs nothing
// from the workspace's module, nor from msx's.
const initGoMod = "module msxinit\n\ngo 1.21\n"

// goBuildInit compiles templates.InitMain, or reads the binary a previous
// run compiled from the same source for the same architecture.
func (b *Builder) goBuildInit(ctx context.Context, dir, goarch string) ([]byte, error) {
	sum := sha256.Sum256(append([]byte(goarch+"\n"+initGoMod), templates.InitMain...))
	key := hex.EncodeToString(sum[:])[:12]
	root := filepath.Join(dir, ".msx", "build", "init")
	out := filepath.Join(root, "msx-init-"+goarch+"-"+key)
	if bin, err := os.ReadFile(out); err == nil && len(bin) > 0 {
		return bin, nil
	}
	src := filepath.Join(root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, msxerr.Wrap(err, "check the permissions of the workspace's .msx folder", "cannot create the build folder %s", src)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(initGoMod), "main.go": templates.InitMain} {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			return nil, msxerr.Wrap(err, "check the permissions of the workspace's .msx folder", "cannot write msx-init's source")
		}
	}
	tmp := out + ".tmp"
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", tmp, ".")
	cmd := exec.CommandContext(ctx, b.goCommand(), args...)
	cmd.Dir = src
	// Its own module: no workspace file, no vendor folder, no proxy needed.
	cmd.Env = append(buildEnv(os.Environ(), goarch), "GOWORK=off", "GOFLAGS=-mod=mod")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, msxerr.Wrap(err, "run msx doctor to check the Go toolchain", "cannot compile msx-init, the init of msx's images: %s", oneLine(output.String()))
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}
