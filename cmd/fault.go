package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/runner"
)

type faultOptions struct {
	Service string
	Action  runner.FaultAction
}

func newFaultCmd(f *Factory, runF func(context.Context, *faultOptions) error) *cobra.Command {
	run := orRun(f, runF, runFault)
	opts := &faultOptions{}
	c := &cobra.Command{
		Use:   "fault SERVICE kill|pause|resume|latency D|errors P|clear",
		Short: "Inject a fault into a running service, to watch the breakers work",
		Long: `Inject a fault into a running service of this workspace.

kill, pause and resume act on its container through the Docker engine.
kill stops the service at once (SIGKILL) and starts it again, as the engine
restarts a program that crashes (it never restarts one it was told to
kill): its callers fail until it is ready again. A paused service accepts
connections but never answers, so its callers time out and their circuit
breakers open; resume and they close again after the cool-down. latency D
(such as 300ms) delays every request, errors P (such as 30%) answers that
share of requests with 500, and clear removes both: these go through the
service's generated fault middleware, which msx up turns on, on its admin
listener, with the project's admin token (.msx/secrets/admin-token). msx
ps shows the breakers and the faults in effect.`,
		Example: `  msx fault orders kill
  msx fault orders pause
  msx fault orders latency 300ms
  msx fault orders errors 50%
  msx fault orders clear`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return msxerr.Usage("%s takes a service and a fault, such as: msx fault orders pause (usage: %s)", c.CommandPath(), c.UseLine())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			a, err := runner.ParseFault(args[1:])
			if err != nil {
				return err
			}
			opts.Service, opts.Action = args[0], a
			return run(c.Context(), opts)
		},
	}
	return c
}

func runFault(ctx context.Context, f *Factory, opts *faultOptions) error {
	// kill, pause and resume go through the engine; the others through the
	// service's admin port, published on 127.0.0.1 of the engine's machine.
	project := f.LocalProject
	if k := opts.Action.Kind; k == "kill" || k == "pause" || k == "resume" {
		project = f.Project
	}
	m, cli, err := project(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	r := f.Runner(cli, nil, nil)
	msg, err := r.Fault(ctx, cli, m, opts.Service, opts.Action)
	if err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "%s: %s\n", opts.Service, msg)
	return nil
}
