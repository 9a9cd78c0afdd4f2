package runner

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/devenv"
)

// LogTargets returns a target for every container of the workspace (any
// state), sorted by service name; with services, only theirs. A target's
// ID is the container's ID, so that a container recreated under the same
// name is a new target.
func (r *Runner) LogTargets(ctx context.Context, project, dir string, services []string) ([]LogTarget, error) {
	list, err := r.API.ContainerList(ctx, container.ListOptions{All: true, Filters: workspaceFilter(project, dir)})
	if err != nil {
		return nil, engineErr(ctx, err, "listing containers")
	}
	var out []LogTarget
	for _, c := range list {
		svc := c.Labels[devenv.LabelService]
		// msx logs orders follows every replica of orders; orders-2 one.
		if svc == "" || (len(services) > 0 && !slices.Contains(services, svc) && !slices.Contains(services, devenv.ReplicaOf(c.Labels))) {
			continue
		}
		out = append(out, LogTarget{Service: svc, ID: c.ID})
	}
	slices.SortFunc(out, func(a, b LogTarget) int {
		if a.Service != b.Service {
			if a.Service < b.Service {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out, nil
}

// LogLine is one line a container printed, with the engine's stamp.
type LogLine struct {
	Time   time.Time
	Stream string
	Line   string
}

// ReadOptions select the lines ReadLogs returns.
type ReadOptions struct {
	// Since is the time of the first line; zero means from the start.
	Since time.Time
	// Tail, when positive, keeps only the last Tail lines (after Since).
	Tail int
}

// ReadLogs returns the lines a container has printed so far, stdout and
// stderr in the engine's order, each with its timestamp.
func (r *Runner) ReadLogs(ctx context.Context, id string, opts ReadOptions) ([]LogLine, error) {
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true}
	if !opts.Since.IsZero() {
		lo.Since = sinceArg(opts.Since)
	}
	if opts.Tail > 0 {
		lo.Tail = fmt.Sprint(opts.Tail)
	}
	rc, err := r.API.ContainerLogs(ctx, id, lo)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, engineErr(ctx, err, "reading the logs of "+id)
	}
	defer rc.Close()
	var lines []LogLine
	out := &entryWriter{stream: activity.Stdout, lines: &lines}
	errw := &entryWriter{stream: activity.Stderr, lines: &lines}
	if _, err := stdcopy.StdCopy(out, errw, rc); err != nil {
		return nil, engineErr(ctx, err, "reading the logs of "+id)
	}
	out.flush()
	errw.flush()
	return lines, nil
}

// entryWriter turns the frames of one stream into stamped lines. Each
// frame is one message led by its timestamp; a line longer than the
// engine's message size spans several frames and keeps the first stamp.
type entryWriter struct {
	stream string
	lines  *[]LogLine
	buf    []byte
	stamp  time.Time
}

func (w *entryWriter) Write(p []byte) (int, error) {
	n := len(p)
	var ts time.Time
	if i := bytes.IndexByte(p, ' '); i > 0 && i <= len(time.RFC3339Nano)+6 {
		if t, err := time.Parse(time.RFC3339Nano, string(p[:i])); err == nil {
			ts, p = t, p[i+1:]
		}
	}
	if len(w.buf) == 0 {
		w.stamp = ts
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.emit()
		p = p[i+1:]
		w.stamp = ts
	}
	return n, nil
}

func (w *entryWriter) emit() {
	*w.lines = append(*w.lines, LogLine{Time: w.stamp, Stream: w.stream, Line: string(bytes.TrimRight(w.buf, "\r"))})
	w.buf = w.buf[:0]
}

func (w *entryWriter) flush() {
	if len(w.buf) > 0 {
		w.emit()
	}
}
