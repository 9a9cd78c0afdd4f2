// Package dashboard is the terminal dashboard of `msx up`: a bubbletea
// program that observes the run session's events and shows each service's
// state, builds, restarts, resources and logs. The state lives in
// dashboard/model, free of UI code; this package renders it and turns keys
// into calls on the session's Controller.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/dashboard/model"
)

// Controller is what the dashboard's keys ask of the session. The calls are
// made from a command goroutine, never from the program's update loop, so
// they may block briefly.
type Controller interface {
	Restart(service string)
	Rebuild(service string)
	Quit() // graceful stop, as Ctrl-C
}

// Options configures a dashboard.
type Options struct {
	Project    string
	GatewayURL string
	Services   []string // table order; services named only by events are added after
	In         io.Reader
	Out        io.Writer // the terminal; nil means os.Stdout
	NoColor    bool      // also implied by a set NO_COLOR
	Controller Controller
	// Tabs are pages after the built-in services page (traces, breakers).
	Tabs []Tab
}

// RingLines is how many log lines the dashboard keeps per service.
const RingLines = 2000

// batchWindow is how long the dashboard lets events gather after the first
// one arrives before it redraws: one redraw per batch, however fast the
// services log.
const batchWindow = 50 * time.Millisecond

// Dashboard is an activity.Observer that draws the session on a terminal.
type Dashboard struct {
	opts Options
	q    *queue
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	failed   error
	program  *tea.Program  // while Run runs
	finished chan struct{} // closed when Run has restored the terminal

	recovering atomic.Bool   // Recover stopped the program
	panicGrace time.Duration // how long Run waits then for the panic to end the process
}

var _ activity.Observer = (*Dashboard)(nil)

// New returns a dashboard; subscribe it to the session's bus, then Run it.
func New(opts Options) *Dashboard {
	return &Dashboard{opts: opts, q: newQueue(RingLines), done: make(chan struct{}), finished: make(chan struct{}),
		panicGrace: 5 * time.Second}
}

// Observe queues e for the program and returns at once: it never waits for
// a redraw. Log lines beyond what the per-service buffer keeps may be
// dropped before they are drawn; no other event is.
func (d *Dashboard) Observe(e activity.Event) {
	defer func() {
		if r := recover(); r != nil {
			d.fail(fmt.Errorf("the dashboard failed on a %v event: %v", e.Kind, r))
		}
	}()
	d.q.push(e)
}

func (d *Dashboard) fail(err error) {
	d.mu.Lock()
	if d.failed == nil {
		d.failed = err
	}
	d.mu.Unlock()
	select {
	case d.q.notify <- struct{}{}:
	default:
	}
}

func (d *Dashboard) failure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

// Run draws the dashboard until the user quits (q or ctrl+c, after calling
// Controller.Quit) or ctx ends, and returns nil in both cases. The terminal
// is restored on every way out, including a panic in the program or in one
// of its commands, which Run returns as an error. A dashboard runs once.
func (d *Dashboard) Run(ctx context.Context) error {
	defer close(d.finished)
	defer d.q.close()
	defer d.once.Do(func() { close(d.done) })

	out := d.opts.Out
	if out == nil {
		out = os.Stdout
	}
	u := newUI(d.opts, newCommon(renderer(out, d.opts.NoColor)), model.New(d.opts.Services, RingLines))
	u.wait = d.wait

	popts := []tea.ProgramOption{
		tea.WithContext(ctx),
		tea.WithOutput(out),
		tea.WithInput(d.opts.In),
		tea.WithAltScreen(),
		// The session owns signals; in raw mode ctrl+c arrives as a key.
		tea.WithoutSignalHandler(),
	}
	p := tea.NewProgram(u, popts...)
	d.mu.Lock()
	d.program = p
	d.mu.Unlock()
	_, err := p.Run()
	switch {
	case errors.Is(err, tea.ErrProgramPanic):
		return errors.New("the dashboard stopped on an internal error; run msx up --no-tui to carry on without it")
	case err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled):
		return nil
	case err != nil && d.recovering.Load():
		// Recover is about to panic on: give it the time to end the
		// process with its stack trace before the caller exits quietly.
		time.Sleep(d.panicGrace)
		return errors.New("the dashboard stopped on a panic in the session")
	case err != nil:
		return fmt.Errorf("the dashboard could not use the terminal (%v); run msx up --no-tui", err)
	}
	return d.failure()
}

// renderer makes the styles' renderer for out: the terminal's colour
// profile, or none at all under NoColor or a set NO_COLOR.
func renderer(out io.Writer, noColor bool) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(out)
	if colorOff(noColor) {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

// colorOff reports whether the user asked for no colour: the option, or
// NO_COLOR set to anything (https://no-color.org).
func colorOff(noColor bool) bool {
	_, set := os.LookupEnv("NO_COLOR")
	return set || noColor
}

// Recover gives the terminal back before a panic ends the process. A panic
// in the program or its commands is handled by Run; a goroutine of the
// session's own cannot be reached from here, so the session defers Recover
// at the top of each goroutine it starts while the dashboard runs:
//
//	go func() { defer d.Recover(); follow(ctx) }()
//
// On a panic Recover stops the program, waits (up to two seconds) for the
// terminal to be restored, then panics again with the same value.
func (d *Dashboard) Recover() {
	r := recover()
	if r == nil {
		return
	}
	d.mu.Lock()
	p := d.program
	d.mu.Unlock()
	if p != nil {
		d.recovering.Store(true)
		p.Kill()
		select {
		case <-d.finished:
		case <-time.After(2 * time.Second):
		}
	}
	panic(r)
}

// batchMsg carries the events gathered since the last batch.
type batchMsg []activity.Event

// failMsg stops the program after Observe recovered from a panic.
type failMsg struct{ err error }

// wait is the command that brings events into the program: it blocks until
// an event is queued, lets more gather for batchWindow, then delivers them
// all. The program issues it again after each batch, so an idle session
// costs no wake-ups at all.
func (d *Dashboard) wait() tea.Msg {
	select {
	case <-d.q.notify:
	case <-d.done:
		return nil
	}
	t := time.NewTimer(batchWindow)
	defer t.Stop()
	select {
	case <-t.C:
	case <-d.done:
		return nil
	}
	if err := d.failure(); err != nil {
		return failMsg{err}
	}
	return batchMsg(d.q.drain())
}
