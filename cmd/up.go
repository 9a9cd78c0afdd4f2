package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/dashboard"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/session"
	"github.com/msx-dev/msx/watch"
)

type upOptions struct {
	Services []string
	Detach   bool
	NoTUI    bool
	NoWatch  bool
}

func newUpCmd(f *Factory, runF func(context.Context, *upOptions) error) *cobra.Command {
	run := orRun(f, runF, runUp)
	opts := &upOptions{}
	c := &cobra.Command{
		Use:   "up [SERVICE...]",
		Short: "Build the workspace and run it in Docker",
		Long: `Build every service and the gateway into images (no registry needed), start
them in Docker in dependency order, and wait until each is ready.

Attached (the default), msx follows the logs of every container and watches
the workspace: a saved change rebuilds the services it affects and swaps the
new binary into their running containers, with no image rebuild; a failed
build keeps the previous version serving and shows the compiler's errors.
On a terminal it shows a dashboard (services, states, logs; keys to restart,
rebuild, filter and quit; a traces tab, as msx trace, with each trace's
waterfall); --no-tui, a pipe or CI print plain lines instead.
Ctrl-C (or q) stops everything gracefully, a second Ctrl-C forces. With -d it returns
once everything is ready and prints the gateway URL. With SERVICE names, only
those services, what they depend on and the gateway start. Two ups in one
workspace take turns: the second waits for the first to apply its plan.
A saved change to msx.yaml is applied while attached: new services start,
removed ones stop, changed ones are recreated; a manifest that is not valid
is reported and changes nothing.`,
		ValidArgsFunction: completeServices(f),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Services = args
			return run(c.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&opts.Detach, "detach", "d", false, "return once everything is ready and leave it running")
	fl.BoolVar(&opts.NoTUI, "no-tui", false, "print plain log lines instead of the dashboard (plain is also what a pipe or CI gets)")
	fl.BoolVar(&opts.NoWatch, "no-watch", false, "do not watch the source: changes are not rebuilt and swapped in")
	return c
}

func runUp(ctx context.Context, f *Factory, opts *upOptions) error {
	m, cli, err := f.LocalProject(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := m.CheckServiceFolders(); err != nil {
		return err
	}
	w := &upWiring{}
	so, r, err := upSessionOptions(f, m, cli, opts, w)
	if err != nil {
		return err
	}
	if !opts.Detach {
		sigs, stop := interrupts()
		defer stop()
		so.Interrupts = sigs
	}
	var d *dashboard.Dashboard
	if !opts.Detach && !opts.NoTUI && interactive(f) {
		d = upDashboard(f, m, r, w)
		so.Recover = d.Recover
		// The session reads the status the breakers and events tabs
		// show, and publishes what changes in it (breakers, dead letters).
		so.StatusEvery = dashboardEvery
		so.Stats = true // its services table shows CPU and memory
	}
	w.s = session.New(so)
	plain := session.NewPlain(f.IO.ErrOut, nil)
	w.s.Bus().Subscribe(plain)
	if d != nil {
		// Subscribed before Start: it queues the start's events and shows
		// them once it runs.
		w.s.Bus().Subscribe(d)
	}

	start := f.Clock.Now()
	plan, err := w.s.Start(ctx)
	if err != nil {
		return upFailed(opts, err)
	}
	if opts.Detach {
		fmt.Fprintf(f.IO.ErrOut, "ready in %s\n", f.Clock.Now().Sub(start).Round(100*time.Millisecond))
		fmt.Fprintln(f.IO.Out, gatewayURL(plan.GatewayPort))
		return nil
	}
	plain.SetLines(logs.NewPrinter(f.IO.ErrOut, containerServices(plan), logs.PrinterOptions{Color: f.IO.ColorEnabled()}))
	if d != nil {
		return attachDashboard(ctx, f, d, plain, w.s, start)
	}
	return w.s.Attach(ctx, start)
}

// interrupts relays the user's Ctrl-C and SIGTERM to an attached session,
// their one reader: the first stops gracefully, the second forces (the
// first also cancels the command's context, cmd.Main). stop ends the relay.
func interrupts() (sigs <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 4)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	return c, func() { signal.Stop(c) }
}

// upWiring is the session as the builder, the runner and the dashboard,
// made before it, reach it: their progress, the compiler's output and the
// dashboard's keys go to it once it is made.
type upWiring struct{ s *session.Session }

func (w *upWiring) progress(p progress.Step)    { w.s.Progress(p) }
func (w *upWiring) Write(p []byte) (int, error) { return w.s.CompilerOutput().Write(p) }
func (w *upWiring) Restart(service string)      { w.s.Restart(service) }
func (w *upWiring) Rebuild(service string)      { w.s.Rebuild(service) }
func (w *upWiring) Quit()                       { w.s.Quit() }
func (w *upWiring) status(ctx context.Context) ([]runner.ServiceStatus, error) {
	return w.s.Status(ctx)
}

// upSessionOptions makes the builder and the runner, reporting through w,
// and the session's options over them: attached and watching, the
// watcher, and how a saved msx.yaml is read again.
func upSessionOptions(f *Factory, m *devenv.Manifest, cli EngineClient, opts *upOptions, w *upWiring) (session.Options, Runner, error) {
	b := f.Builder(cli, builder.Options{
		Project:    m.Project,
		Dir:        m.Dir,
		MsxVersion: msxVersion(),
		Progress:   w.progress,
		Stderr:     w,
	})
	r := f.Runner(cli, b, w.progress)
	so := session.Options{
		Manifest: m,
		Up: runner.UpOptions{
			Services:   opts.Services,
			MsxVersion: msxVersion(),
			Secrets:    f.Store(m.Dir),
		},
		Runner:  r,
		Builder: b,
		Detach:  opts.Detach,
	}
	if opts.Detach || opts.NoWatch {
		return so, r, nil
	}
	watcher, err := watch.New(m.Dir, watch.Options{})
	if err != nil {
		return so, nil, msxerr.Wrap(err, "run msx up --no-watch to run without watching", "cannot watch the workspace: %s", err)
	}
	so.Watch = watchBatches(watcher)
	so.LoadGraph = func(ctx context.Context, targets []builder.Target) (session.Graph, error) {
		return builder.LoadGraph(ctx, m.Dir, targets)
	}
	// A saved msx.yaml is read as at the start and applied.
	if so.ManifestPath, err = f.ManifestPath(); err != nil {
		return so, nil, err
	}
	if real, err := filepath.EvalSymlinks(so.ManifestPath); err == nil {
		so.ManifestPath = real // as the watcher names it: under the real folder
	}
	so.Reload = func() (*devenv.Manifest, error) {
		m, err := f.Manifest()
		if err == nil {
			err = m.CheckServiceFolders()
		}
		return m, err
	}
	return so, r, nil
}

// upDashboard makes the dashboard of an attached up on a terminal: the
// services, then the traces, breakers and events tabs.
func upDashboard(f *Factory, m *devenv.Manifest, r Runner, w *upWiring) *dashboard.Dashboard {
	return dashboard.New(dashboard.Options{
		Project:    m.Project,
		GatewayURL: gatewayURL(m.Gateway.Port),
		Services:   append(m.ServiceNames(), devenv.GatewayName),
		In:         f.IO.In,
		Out:        f.IO.Out,
		NoColor:    !f.IO.ColorEnabled(),
		Controller: w,
		Tabs:       dashboard.Tabs(m, w.status, collectorFinder(r, m), dashboardEvery),
	})
}

// gatewayURL is where the gateway answers on this machine.
func gatewayURL(port int) string {
	return "http://" + devenv.LoopbackIP + ":" + strconv.Itoa(port)
}

// attachDashboard runs the dashboard while the session is attached. The
// plain printer is quiet while the dashboard owns the terminal, and prints
// again once it is gone: the stop's progress after q, or everything after
// the dashboard failed.
func attachDashboard(ctx context.Context, f *Factory, d *dashboard.Dashboard, plain *session.Plain, s *session.Session, start time.Time) error {
	plain.Mute(true)
	dctx, stopDashboard := context.WithCancel(ctx)
	defer stopDashboard()
	shown := make(chan error, 1)
	go func() {
		err := d.Run(dctx)
		plain.Mute(false)
		if err != nil {
			// The dashboard could not go on: the session does, in plain.
			fmt.Fprintf(f.IO.ErrOut, "msx: %s\n", err)
		}
		shown <- err
	}()
	err := s.Attach(ctx, start)
	stopDashboard()
	<-shown
	return err
}

// dashboardEvery is how often the dashboard's breakers and events tabs,
// and the session's watch of the same status, read it.
const dashboardEvery = 2 * time.Second

// interactive reports whether msx talks to a person at a terminal: the
// dashboard then draws on stdout and reads keys from stdin.
func interactive(f *Factory) bool {
	in, ok := f.IO.In.(*os.File)
	return ok && term.IsTerminal(int(in.Fd())) && f.IO.IsStdoutTTY() && f.IO.IsStderrTTY()
}

// watchBatches adapts a watcher to the session's Watch.
func watchBatches(w *watch.Watcher) session.Watch {
	return func(ctx context.Context, out chan<- []string, warn func(string)) error {
		batches := make(chan watch.Batch)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case b := <-batches:
					select {
					case out <- b.Paths:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		err := w.Run(ctx, batches, warn)
		<-done
		return err
	}
}

// containerServices names the plan's containers in plan order: the log
// prefixes' widths and colours follow it.
func containerServices(p *devenv.Plan) []string {
	out := make([]string, len(p.Containers))
	for i, c := range p.Containers {
		out[i] = c.Service
	}
	return out
}

// upFailed words a failed up. Start already stopped what an attached up
// started; detached, the hint points at msx down.
func upFailed(opts *upOptions, err error) error {
	var ue *runner.UpError
	var started []string
	if errors.As(err, &ue) {
		started = ue.Started
	}
	msg, hint, cerr := upError(err)
	if cerr != nil {
		return cerr
	}
	if len(started) > 0 && opts.Detach {
		if hint != "" {
			hint += "; "
		}
		hint += "msx down stops what did start"
	}
	return msxerr.Wrap(err, hint, "%s", msg)
}

// upError returns the sentence and hint to report for a failed up, or an
// error to return as it is.
func upError(err error) (msg, hint string, asIs error) {
	if errors.Is(err, msxerr.ErrCancelled) {
		return "", "", msxerr.ErrCancelled
	}
	var se *runner.ServiceError
	if !errors.As(err, &se) {
		var me *msxerr.Error
		if errors.As(err, &me) {
			return me.Msg, me.Hint, nil
		}
		var ue *msxerr.UsageError
		if errors.As(err, &ue) {
			return "", "", err
		}
		return err.Error(), "", nil
	}
	hint = "fix it and run msx up again"
	if len(se.Logs) > 0 {
		// The session published them (Crashed), before this sentence.
		hint = "its last log lines are above; fix it and run msx up again"
	}
	if se.Err != nil {
		var me *msxerr.Error
		if errors.As(se.Err, &me) {
			return se.Service + ": " + me.Msg, me.Hint, nil
		}
	}
	return se.Error(), hint, nil
}

func msxVersion() string {
	v, _, _ := buildVersion()
	return v
}
