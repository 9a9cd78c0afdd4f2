package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxdir"
	"github.com/msx-dev/msx/templates"
)

// EventTapSourceDir is where, in a workspace, msx writes the source of
// msx events' reader to compile it.
func EventTapSourceDir(workspace string) string {
	return filepath.Join(workspace, ".msx", "eventtap")
}

// Events reads the project's event stream for msx events: it runs the
// reader (devenv's EventTap, compiled from the source msx embeds) on the
// project network, so that the broker's client port stays unpublished,
// and calls line with each line it prints, one JSON event. It returns once
// the reader ends (without follow, at the end of the stream) or ctx ends;
// either way the reader's container is removed. ErrNotRunning means the
// project's broker is not running.
func (r *Runner) Events(ctx context.Context, m *devenv.Manifest, subject string, follow bool, msxVersion string, line func([]byte) error) error {
	broker := devenv.ContainerName(m.Project, devenv.KindNATS)
	insp, err := r.API.ContainerInspect(ctx, broker)
	if err != nil {
		if isNotFound(err) {
			return ErrNotRunning
		}
		return engineErr(ctx, err, "inspecting "+broker)
	}
	if insp.Config == nil || insp.Config.Labels[devenv.LabelWorkspace] != m.Dir || insp.State == nil || !insp.State.Running {
		return ErrNotRunning
	}
	files, err := templates.EventTapFiles()
	if err != nil {
		return err
	}
	built, err := r.Builder.Build(ctx, []builder.Target{{Name: devenv.EventTapName, Pkg: ".", Dir: EventTapSourceDir(m.Dir), Files: files}})
	if err != nil {
		return err
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	c := m.EventTap(devenv.ContainerName(m.Project, devenv.EventTapName+"-"+hex.EncodeToString(suffix)), subject, follow, msxVersion)
	c.ResolvedImage = built[0].Image
	src := r.Secrets
	if src == nil {
		src = msxdir.New(m.Dir)
	}
	// Its seed, made with the broker's configuration by up: a seed made
	// now is one the running broker does not know.
	seeds, err := SecretValues(&devenv.Plan{Containers: []devenv.Container{*c}}, src)
	if err != nil {
		return err
	}
	cfg, host, netcfg := containerConfig(c)
	created, err := r.API.ContainerCreate(ctx, cfg, host, netcfg, nil, c.Name)
	if err != nil {
		return engineErr(ctx, err, "creating "+c.Name)
	}
	defer func() {
		// Not ctx: it may be the Ctrl-C that ends a follow.
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.API.ContainerRemove(rctx, created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}()
	err = r.writeSecretFiles(ctx, c, created.ID, func(name string) (string, bool) {
		v, ok := seeds[name]
		return v, ok
	})
	if err != nil {
		return err
	}
	if err := r.API.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return engineErr(ctx, err, "starting "+c.Name)
	}
	logs, err := r.API.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return engineErr(ctx, err, "reading "+c.Name)
	}
	defer logs.Close()
	stdout, w := io.Pipe()
	var stderr bytes.Buffer
	go func() {
		_, err := stdcopy.StdCopy(w, &limited{&stderr, 4096}, logs)
		w.CloseWithError(err)
	}()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if err := line(sc.Bytes()); err != nil {
			stdout.CloseWithError(err)
			return err
		}
	}
	if ctx.Err() != nil {
		return nil // Ctrl-C: the end of a follow
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the events: %w", err)
	}
	end, err := r.API.ContainerInspect(ctx, created.ID)
	if err != nil {
		return engineErr(ctx, err, "inspecting "+c.Name)
	}
	if end.State != nil && end.State.ExitCode != 0 {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = fmt.Sprintf("exit code %d", end.State.ExitCode)
		}
		return errors.New("reading the events: " + msg)
	}
	return nil
}

// limited keeps the first n bytes written to it.
type limited struct {
	buf *bytes.Buffer
	n   int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
