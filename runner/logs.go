package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/msx-dev/msx/activity"
)

// LogConsumer receives the log lines of every followed container: msx logs'
// printer (logs.Printer), and the run session, which turns them into events
// for its observers (the plain printer and the dashboard). Calls for one service come
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
	// From says where following starts when FollowOptions.Since is zero.
	From From
}

// From is where following a container starts, in the engine's clock (the
// host's may differ from it, and lines would be lost or shown twice).
type From int

const (
	// FromAll shows every line the engine kept.
	FromAll From = iota
	// FromRunStart shows the lines of the container's current run: those
	// since the engine's StartedAt. For containers an up just started.
	FromRunStart
	// FromNow shows only lines printed from now on, and from each later
	// run's start. For containers an up adopted, running.
	FromNow
)

// ChangeConsumer is implemented by a LogConsumer that wants the changes of
// a followed container typed rather than as Status words (the session
// turns them into events).
type ChangeConsumer interface {
	Change(service string, ch Change)
}

// Change is something that happened to a followed container.
type Change struct {
	Kind ChangeKind
	// ExitCode is set for Exited.
	ExitCode int
	// Detail says what changed for Recreated: "code changed" or
	// "configuration changed".
	Detail string
	// Err is set for FollowFailing.
	Err error
}

// ChangeKind says what a Change is.
type ChangeKind int

const (
	// Exited: the container's run ended with ExitCode.
	Exited ChangeKind = iota + 1
	// Restarted: the same container runs again (a restart, a hot swap).
	Restarted
	// Recreated: another container of the same name runs (an up elsewhere
	// replaced it).
	Recreated
	// FollowFailing: the engine keeps failing to give the logs; reported
	// once until following works again.
	FollowFailing
)

// words is the Status a plain LogConsumer gets for ch.
func (ch Change) words() string {
	switch ch.Kind {
	case Exited:
		return fmt.Sprintf("exited with code %d", ch.ExitCode)
	case Restarted:
		return "restarted"
	case Recreated:
		return "recreated (" + ch.Detail + ")"
	default:
		return "cannot follow its logs: " + cause(ch.Err, 0) + " (still trying)"
	}
}

func report(c LogConsumer, service string, ch Change) {
	if cc, ok := c.(ChangeConsumer); ok {
		cc.Change(service, ch)
		return
	}
	c.Status(service, ch.words())
}

// FailuresBeforeReport is how many attaches in a row must fail before a
// follow says it cannot follow; it keeps trying, more slowly.
const FailuresBeforeReport = 3

// FollowOptions say where following starts and when it ends.
type FollowOptions struct {
	// Since is the time of the first line to show; zero means all.
	Since time.Time
	// Until, once closed, ends following a container the next time its
	// stream ends (it stopped) instead of waiting for it to start again:
	// the lines a container prints while it stops are still shown.
	Until <-chan struct{}
}

// DefaultRestartPoll is how often a follower looks at a stopped container
// to see whether it started again.
const DefaultRestartPoll = 250 * time.Millisecond

// Follow streams the logs of every target to c, one goroutine per
// container, until ctx is done, or every container is gone (or stopped,
// once opts.Until is closed). Follow survives restarts: when a container's
// stream ends, it waits for the container to run again and resumes just
// after the last line it showed.
func (r *Runner) Follow(ctx context.Context, targets []LogTarget, opts FollowOptions, c LogConsumer) error {
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.followOne(ctx, t, opts, c)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

func (r *Runner) restartPoll() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return DefaultRestartPoll
}

func closed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// followOne follows one container across its restarts. The engine is asked
// for timestamps, so that each attach resumes just after the last line
// seen; they are stripped before a line is shown. Every time compared is
// the engine's (StartedAt, line stamps), never the host's.
func (r *Runner) followOne(ctx context.Context, t LogTarget, opts FollowOptions, c LogConsumer) error {
	insp, err := r.inspect(ctx, t.ID)
	if err != nil {
		if isNotFound(err) || ctx.Err() != nil {
			return nil
		}
		return err
	}
	run := startedAt(insp) // the run being followed
	id, image := insp.ID, imageOf(insp)
	reported := ""      // the run whose exit was reported
	since := opts.Since // the first line wanted from the next attach
	tailNone := false   // the next attach shows only new lines
	if since.IsZero() {
		switch t.From {
		case FromRunStart:
			since = engineTime(run)
		case FromNow:
			tailNone = true
		}
	}
	failures := 0
	for {
		out := &stampWriter{lw: lineWriter{emit: func(l string) { c.Log(t.Service, activity.Stdout, l) }}, since: since}
		errw := &stampWriter{lw: lineWriter{emit: func(l string) { c.Log(t.Service, activity.Stderr, l) }}, since: since}
		lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true}
		if !since.IsZero() {
			lo.Since = sinceArg(since)
		} else if tailNone {
			lo.Tail = "0"
		}
		rc, err := r.API.ContainerLogs(ctx, t.ID, lo)
		if err == nil {
			_, err = stdcopy.StdCopy(out, errw, rc)
			rc.Close()
		}
		out.lw.Flush()
		errw.lw.Flush()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && isNotFound(err) {
			return nil
		}
		progressed := false
		for _, w := range []*stampWriter{out, errw} {
			if w.last.After(since) || (since.IsZero() && !w.last.IsZero()) {
				since = w.last.Add(time.Nanosecond)
				progressed = true
			}
		}
		wait := r.restartPoll()
		if err != nil {
			// Said once, after a few failures in a row; still retried,
			// more slowly, and said again only after it worked meanwhile.
			failures++
			if failures == FailuresBeforeReport {
				report(c, t.Service, Change{Kind: FollowFailing, Err: err})
			}
			if failures >= FailuresBeforeReport {
				wait = min(wait*time.Duration(failures), 5*time.Second)
			}
		} else {
			failures = 0
		}
		if err != nil || !progressed {
			// An engine hiccup, or a stream that ended with nothing new:
			// do not hammer the engine.
			if r.clock().Sleep(ctx, wait) != nil {
				return nil
			}
		}
		// The stream ends when the container stops. Wait until it runs
		// again (a restart, a hot swap) or is gone.
		for {
			insp, err := r.inspect(ctx, t.ID)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil && isNotFound(err):
				return nil
			case err == nil && insp.State != nil && insp.State.Running:
				if now := startedAt(insp); now != run {
					run = now
					// Lines of the new run are wanted from its start, also
					// when nothing was seen before (FromNow).
					if st := engineTime(run); st.After(since) {
						since = st
					}
					if insp.ID != id {
						detail := "configuration changed"
						if imageOf(insp) != image {
							detail = "code changed"
						}
						id, image = insp.ID, imageOf(insp)
						report(c, t.Service, Change{Kind: Recreated, Detail: detail})
					} else {
						report(c, t.Service, Change{Kind: Restarted})
					}
				}
			case err == nil && insp.State != nil:
				if reported != startedAt(insp) {
					reported = startedAt(insp)
					report(c, t.Service, Change{Kind: Exited, ExitCode: insp.State.ExitCode})
				}
				if closed(opts.Until) {
					return nil
				}
			}
			if err == nil && insp.State != nil && insp.State.Running {
				break
			}
			if r.clock().Sleep(ctx, r.restartPoll()) != nil {
				return nil
			}
		}
	}
}

// engineTime parses a time the engine gave (StartedAt); zero if it cannot.
func engineTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

func imageOf(insp container.InspectResponse) string {
	if insp.Config == nil {
		return ""
	}
	return insp.Config.Image
}

func (r *Runner) inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	ictx, cancel := context.WithTimeout(ctx, r.engineTimeout())
	defer cancel()
	return r.API.ContainerInspect(ictx, id)
}

func startedAt(insp container.InspectResponse) string {
	if insp.ContainerJSONBase == nil || insp.State == nil {
		return ""
	}
	return insp.State.StartedAt
}

// sinceArg formats a time as the engine's since parameter.
func sinceArg(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// stampWriter strips the timestamp the engine puts before each message
// (each frame stdcopy writes is one message, a long line may span several),
// remembers the last one, and drops messages older than since.
type stampWriter struct {
	lw    lineWriter
	since time.Time
	last  time.Time
}

func (w *stampWriter) Write(p []byte) (int, error) {
	n := len(p)
	if i := bytes.IndexByte(p, ' '); i > 0 && i <= len(time.RFC3339Nano)+6 {
		if ts, err := time.Parse(time.RFC3339Nano, string(p[:i])); err == nil {
			if !w.since.IsZero() && ts.Before(w.since) {
				return n, nil
			}
			if ts.After(w.last) {
				w.last = ts
			}
			p = p[i+1:]
		}
	}
	w.lw.Write(p)
	return n, nil
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

// tail returns the last LogTail log lines of a container's current run
// (since it last started: not those of earlier runs of the same
// container; see lastRunStart for a container being restarted), stdout
// and stderr interleaved as the engine keeps them.
func (r *Runner) tail(ctx context.Context, id string, state *container.State) []string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(LogTail)}
	if since, ok := lastRunStart(state); ok {
		opts.Since = sinceArg(since)
	}
	rc, err := r.API.ContainerLogs(ctx, id, opts)
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

// lastRunStart is when the run whose lines tail shows began: StartedAt,
// unless the engine is restarting the container after a crash (restart on
// failure). Then StartedAt may already be the new run's, which has printed
// nothing yet, and the lines that say why the last run ended come before
// it: tail takes the last lines whatever their run.
func lastRunStart(state *container.State) (time.Time, bool) {
	if state == nil || state.Restarting {
		return time.Time{}, false
	}
	started, err := time.Parse(time.RFC3339Nano, state.StartedAt)
	if err != nil || started.Year() <= 1 {
		return time.Time{}, false
	}
	return started, true
}
