package session

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/termtext"
)

// LinePrinter prints one container's log line with its prefix;
// logs.Printer (the renderer of msx logs) is one.
type LinePrinter interface {
	Log(service, stream, line string)
}

// Plain is the observer for a pipe, CI or --no-tui: what happens while the
// project comes up as "name         status" lines, then, once it is
// followed, each container's lines and changes behind its prefix
// ("orders   | ..."), as docker compose up prints.
type Plain struct {
	mu        sync.Mutex
	w         io.Writer
	lines     LinePrinter
	following bool
	// lastOutput is the last compiler output printed: one failure of a
	// package that several services share is printed once.
	lastOutput string
	// muted drops events while the dashboard owns the terminal.
	muted bool
}

// Mute stops (true) or resumes (false) printing: the dashboard owns the
// terminal meanwhile.
func (p *Plain) Mute(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.muted = on
}

// SetLines sets the renderer of log lines, once the containers are known.
func (p *Plain) SetLines(lines LinePrinter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = lines
}

// NewPlain returns a plain observer writing to w (stderr: progress and
// logs are not results), rendering log lines with lines.
func NewPlain(w io.Writer, lines LinePrinter) *Plain {
	return &Plain{w: w, lines: lines}
}

// Observe prints one event.
func (p *Plain) Observe(e activity.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Kind == activity.Following {
		p.following = true
	}
	if p.muted {
		return
	}
	// A detail may quote a program (a health check's output), an output
	// is a program's last lines or the compiler's: shown, not interpreted.
	e.Detail, e.Output = termtext.Line(e.Detail), termtext.Text(e.Output)
	switch e.Kind {
	case activity.Log:
		p.log(e.Service, e.Stream, e.Line)
		return
	case activity.Following:
		fmt.Fprintf(p.w, "ready in %s at %s; Ctrl-C to stop\n", round(e.Duration), e.Detail)
		return
	case activity.BuildFailed:
		if e.Output != "" {
			if e.Output != p.lastOutput {
				fmt.Fprintf(p.w, "# %s: go build failed\n%s\n", e.Service, e.Output)
			}
			p.lastOutput = e.Output
			return
		}
	case activity.Building:
		p.lastOutput = ""
	case activity.Crashed:
		if !p.following && e.Output != "" {
			fmt.Fprintf(p.w, "last log lines of %s:\n%s\n", e.Service, indent(e.Output))
			return
		}
	case activity.Stopping, activity.Waiting:
		fmt.Fprintln(p.w, e.Detail)
		return
	case activity.Stats:
		// Every container every few seconds: the dashboard's columns,
		// too many lines for a log.
		return
	}
	words := termtext.Line(e.Words())
	switch {
	case e.Kind == activity.Swapped:
		words = fmt.Sprintf("swapped in %s (%s)", round(e.Duration), e.Detail)
	case e.Kind == activity.Built && p.following:
		words = fmt.Sprintf("built in %s", round(e.Duration))
	case e.Kind == activity.Unhealthy:
		words = "unhealthy: " + e.Detail
	case e.Kind == activity.Ready && p.following && e.Detail != "":
		words = "ready: " + e.Detail
	case e.Kind == activity.Restarted && e.Duration > 0:
		words = fmt.Sprintf("%s in %s", e.Detail, round(e.Duration))
	case e.Kind == activity.Crashed && e.Output != "":
		words = e.Detail + "; its last lines:\n" + indent(e.Output)
	case e.Kind == activity.BreakerChanged:
		words = breakerWords(e)
	case e.Kind == activity.DeadLettered:
		words = deadLetterWords(e)
	case words == "":
		words = e.Kind.String()
	}
	name := termtext.Line(e.Subject())
	if name == "" {
		fmt.Fprintln(p.w, "msx: "+words)
		return
	}
	if p.following {
		p.log(name, activity.Stderr, "msx: "+words)
		return
	}
	fmt.Fprintf(p.w, "%-12s %s\n", name, words)
}

var _ activity.Observer = (*Plain)(nil)

func (p *Plain) log(service, stream, line string) {
	if p.lines == nil {
		fmt.Fprintf(p.w, "%s | %s\n", service, termtext.Line(line))
		return
	}
	p.lines.Log(service, stream, line)
}

// breakerWords says a breaker's change; its name and state are what a
// program's admin listener said: shown, not interpreted.
func breakerWords(e activity.Event) string {
	return "breaker " + termtext.Line(e.Upstream) + ": " + termtext.Line(e.State)
}

// deadLetterWords says the broker set events aside.
func deadLetterWords(e activity.Event) string {
	n := "events"
	if e.Count == 1 {
		n = "event"
	}
	return fmt.Sprintf("%d %s dead-lettered (%d in all): a handler kept failing", e.Count, n, e.Total)
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
