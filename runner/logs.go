package runner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// Streams of a log line.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// LogConsumer receives the log lines of every followed container. The plain
// printer implements it; the dashboard will too. Calls for one service come
// from one goroutine, in order; calls for different services may be
// concurrent.
type LogConsumer interface {
	Log(service, stream, line string)
	// Status reports a change of a followed container: "exited with code 1".
	Status(service, status string)
}

// LogTarget is one container to follow.
type LogTarget struct {
	Service string
	ID      string
}

// Follow streams the logs of every target since the given time to c, one
// goroutine per container, until ctx is done or every container has stopped.
func Follow(ctx context.Context, api DockerAPI, targets []LogTarget, since time.Time, c LogConsumer) error {
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = followOne(ctx, api, t, since, c)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func followOne(ctx context.Context, api DockerAPI, t LogTarget, since time.Time, c LogConsumer) error {
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true}
	if !since.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	rc, err := api.ContainerLogs(ctx, t.ID, opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	out := &lineWriter{emit: func(l string) { c.Log(t.Service, Stdout, l) }}
	errw := &lineWriter{emit: func(l string) { c.Log(t.Service, Stderr, l) }}
	_, err = stdcopy.StdCopy(out, errw, rc)
	out.Flush()
	errw.Flush()
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return err
	}
	// The stream ends when the container stops.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if insp, err := api.ContainerInspect(ictx, t.ID); err == nil && insp.State != nil && !insp.State.Running {
		c.Status(t.Service, fmt.Sprintf("exited with code %d", insp.State.ExitCode))
	}
	return nil
}

// lineWriter splits written bytes into lines.
type lineWriter struct {
	buf  bytes.Buffer
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf.Next(i + 1))
		w.emit(strings.TrimRight(line, "\r\n"))
	}
	return len(p), nil
}

// Flush emits a last line without a newline.
func (w *lineWriter) Flush() {
	if w.buf.Len() > 0 {
		w.emit(w.buf.String())
		w.buf.Reset()
	}
}

// tail returns the last LogTail log lines of a container, stdout and stderr
// interleaved as the engine keeps them.
func (r *Runner) tail(ctx context.Context, id string) []string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rc, err := r.API.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(LogTail)})
	if err != nil {
		return nil
	}
	defer rc.Close()
	var lines []string
	var mu sync.Mutex
	add := func(l string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, l)
	}
	w := &lineWriter{emit: add}
	_, _ = stdcopy.StdCopy(w, w, rc)
	w.Flush()
	if len(lines) > LogTail {
		lines = lines[len(lines)-LogTail:]
	}
	return lines
}

// Printer is the plain LogConsumer: "orders   | line", the prefix padded to
// the longest service name and coloured per service when colour is on.
type Printer struct {
	w      io.Writer
	width  int
	color  bool
	colors map[string]string
	mu     sync.Mutex
}

var palette = []string{"36", "33", "32", "35", "34", "91", "96", "93", "92", "95"}

// NewPrinter returns a printer for the given services (in a stable order:
// colours follow it).
func NewPrinter(w io.Writer, services []string, color bool) *Printer {
	p := &Printer{w: w, color: color, colors: map[string]string{}}
	for i, s := range services {
		p.width = max(p.width, len(s))
		p.colors[s] = palette[i%len(palette)]
	}
	return p
}

func (p *Printer) prefix(service string) string {
	pad := service + strings.Repeat(" ", max(0, p.width-len(service)))
	if p.color {
		return "\x1b[" + p.colors[service] + "m" + pad + " |\x1b[0m "
	}
	return pad + " | "
}

// Log prints one line.
func (p *Printer) Log(service, _ string, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	bw := bufio.NewWriter(p.w)
	bw.WriteString(p.prefix(service))
	bw.WriteString(line)
	bw.WriteByte('\n')
	bw.Flush()
}

// Status prints a change of state.
func (p *Printer) Status(service, status string) {
	p.Log(service, Stderr, "msx: "+status)
}

var _ LogConsumer = (*Printer)(nil)
