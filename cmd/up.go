package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/state"
)

type upOptions struct {
	Services []string
	Detach   bool
	NoTUI    bool
	NoWatch  bool
}

func newUpCmd(f *Factory) *cobra.Command {
	opts := &upOptions{}
	c := &cobra.Command{
		Use:   "up [SERVICE...]",
		Short: "Build the workspace and run it in Docker",
		Long: `Build every service and the gateway into images (no registry needed), start
them in Docker in dependency order, and wait until each is ready.

Attached (the default), msx follows the logs of every container; Ctrl-C stops
them gracefully, a second Ctrl-C forces. With -d it returns once everything is
ready and prints the gateway URL. With SERVICE names, only those services, what
they depend on and the gateway start.`,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Services = args
			return runUp(c.Context(), f, opts)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&opts.Detach, "detach", "d", false, "return once everything is ready and leave it running")
	fl.BoolVar(&opts.NoTUI, "no-tui", false, "print plain log lines instead of the dashboard (the dashboard is not built yet: always plain for now)")
	fl.BoolVar(&opts.NoWatch, "no-watch", false, "do not watch the source for changes (watching is not built yet: a no-op for now)")
	return c
}

func runUp(ctx context.Context, f *Factory, opts *upOptions) error {
	m, cli, err := f.Project(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	// Signals are counted here so that a second Ctrl-C can force the stop;
	// the first also cancels ctx (cmd.Main).
	sigs := make(chan os.Signal, 4)
	if !opts.Detach {
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
	}
	r := newRunner(f, cli, m)
	start := time.Now()
	plan, err := r.Up(ctx, m, runner.UpOptions{
		Services:   opts.Services,
		MsxVersion: msxVersion(),
		Secrets:    state.New(m.Dir),
	})
	if err != nil {
		if !opts.Detach && ctx.Err() != nil {
			stopAttached(f, r, m, sigs, true, runner.StopOptions{Deps: runner.StopDeps(m)})
			return msxerr.ErrCancelled
		}
		return upFailed(f, r, m, opts, sigs, err)
	}
	url := "http://" + devenv.LoopbackIP + ":" + strconv.Itoa(plan.GatewayPort)
	if opts.Detach {
		fmt.Fprintf(f.IO.ErrOut, "ready in %s\n", time.Since(start).Round(100*time.Millisecond))
		fmt.Fprintln(f.IO.Out, url)
		return nil
	}
	fmt.Fprintf(f.IO.ErrOut, "ready in %s at %s; Ctrl-C to stop\n", time.Since(start).Round(100*time.Millisecond), url)
	return followAttached(ctx, f, r, m, plan, start, sigs)
}

// upFailed reports a failed up. Attached, it first stops the containers
// this up started (gracefully, within a bounded time) and says so;
// detached, it leaves them running and the hint points at msx down.
func upFailed(f *Factory, r *runner.Runner, m *devenv.Manifest, opts *upOptions, sigs chan os.Signal, err error) error {
	var ue *runner.UpError
	var started []string
	if errors.As(err, &ue) {
		started = ue.Started
	}
	msg, hint, cerr := upError(f, err)
	if len(started) > 0 && !errors.Is(cerr, msxerr.ErrCancelled) {
		if opts.Detach {
			if hint != "" {
				hint += "; "
			}
			hint += "msx down stops what did start"
		} else {
			names := make([]string, len(started))
			for i, n := range started {
				names[i] = strings.TrimPrefix(n, m.Project+"-")
			}
			fmt.Fprintf(f.IO.ErrOut, "stopping what this up started: %s\n", strings.Join(names, ", "))
			stopAttached(f, r, m, sigs, false, runner.StopOptions{Only: started, Deps: runner.StopDeps(m)})
		}
	}
	if cerr != nil {
		return cerr
	}
	return msxerr.Wrap(err, hint, "%s", msg)
}

// followAttached prints the logs of every container until Ctrl-C, then
// stops them.
func followAttached(ctx context.Context, f *Factory, r *runner.Runner, m *devenv.Manifest, plan *devenv.Plan, since time.Time, sigs chan os.Signal) error {
	services := make([]string, 0, len(plan.Containers))
	targets := make([]runner.LogTarget, 0, len(plan.Containers))
	for _, c := range plan.Containers {
		services = append(services, c.Service)
		targets = append(targets, runner.LogTarget{Service: c.Service, ID: c.Name})
	}
	printer := logs.NewPrinter(f.IO.ErrOut, services, logs.PrinterOptions{Color: f.IO.ColorEnabled()})
	logCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	until := make(chan struct{})
	followed := make(chan error, 1)
	go func() {
		followed <- r.Follow(logCtx, targets, runner.FollowOptions{Since: since.Add(-time.Second), Until: until}, printer)
	}()
	select {
	case err := <-followed:
		// Every container is gone (an msx down elsewhere), or the engine
		// failed.
		if err != nil {
			return msxerr.Wrap(err, "run msx doctor if Docker misbehaves", "following the logs failed: %s", sentence(err))
		}
		fmt.Fprintln(f.IO.ErrOut, "msx: the project's containers are gone")
		return nil
	case <-ctx.Done():
	}
	// The followers show what the containers print while they stop, then
	// end; the last of it comes before "interrupted".
	close(until)
	stopAttached(f, r, m, sigs, true, runner.StopOptions{Deps: runner.StopDeps(m)})
	select {
	case <-followed:
	case <-time.After(2 * time.Second):
		cancel()
		<-followed
	}
	return msxerr.ErrCancelled
}

// stopAttached stops the workspace's containers gracefully, in reverse
// dependency order; a Ctrl-C (a second one when interrupted says the first
// started this) kills them at once. It returns within a bounded time even
// if the engine hangs.
func stopAttached(f *Factory, r *runner.Runner, m *devenv.Manifest, sigs chan os.Signal, interrupted bool, opts runner.StopOptions) {
	if interrupted {
		fmt.Fprintln(f.IO.ErrOut, "stopping (Ctrl-C again to force)")
		// The first signal cancelled ctx; drain it so the next one is a second.
		select {
		case <-sigs:
		case <-time.After(100 * time.Millisecond):
		}
	} else {
		fmt.Fprintln(f.IO.ErrOut, "stopping (Ctrl-C to force)")
	}
	bg := context.Background()
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(bg, m.Project, m.Dir, opts) }()
	hung := "msx: Docker did not answer in time; run msx down, or msx doctor"
	select {
	case err := <-stopped:
		if err != nil {
			fmt.Fprintf(f.IO.ErrOut, "msx: %s\n", sentence(err))
		}
	case <-sigs:
		fmt.Fprintln(f.IO.ErrOut, "forcing")
		killed := make(chan error, 1)
		opts.Force = true
		go func() { killed <- r.Stop(bg, m.Project, m.Dir, opts) }()
		select {
		case err := <-killed:
			if err != nil {
				fmt.Fprintf(f.IO.ErrOut, "msx: %s\n", sentence(err))
			}
		case <-time.After(r.StopBound() + time.Second):
			fmt.Fprintln(f.IO.ErrOut, hung)
		}
	case <-time.After(r.StopBound() + time.Second):
		// Stop is bounded itself; this is the last resort.
		fmt.Fprintln(f.IO.ErrOut, hung)
	}
}

// upError prints the last log lines of a service that failed, and returns
// the sentence and hint to report, or an error to return as it is.
func upError(f *Factory, err error) (msg, hint string, asIs error) {
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
		fmt.Fprintf(f.IO.ErrOut, "last log lines of %s:\n", se.Service)
		for _, l := range se.Logs {
			fmt.Fprintf(f.IO.ErrOut, "  %s\n", l)
		}
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

// newRunner wires a runner to the engine, the builder and stderr.
func newRunner(f *Factory, cli *client.Client, m *devenv.Manifest) *runner.Runner {
	progress := func(name, status string) {
		fmt.Fprintf(f.IO.ErrOut, "%-12s %s\n", name, status)
	}
	b := builder.New(cli, builder.Options{
		Project:    m.Project,
		Dir:        m.Dir,
		MsxVersion: msxVersion(),
		Progress:   func(name, status string) { progress(name, status) },
		Stderr:     f.IO.ErrOut,
	})
	r := runner.New(cli, b)
	r.Progress = progress
	return r
}

func msxVersion() string {
	v, _, _ := buildVersion()
	return v
}
