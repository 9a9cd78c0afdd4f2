package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/termtext"
	"github.com/msx-dev/msx/trace"
)

type traceOptions struct {
	ID          string
	Service     string
	Last        int
	MinDuration time.Duration
	Errors      bool
	JSON        bool
}

func newTraceCmd(f *Factory, runF func(context.Context, *traceOptions) error) *cobra.Command {
	run := orRun(f, runF, runTrace)
	opts := &traceOptions{}
	c := &cobra.Command{
		Use:   "trace [TRACE_ID]",
		Short: "List recent traces, or draw one as a waterfall with its log lines",
		Long: `Without an ID, list the most recent traces the project's collector kept:
trace ID, root route, status, duration, span count and the services touched.

With an ID (the full 32 hexadecimal digits, or a prefix such as msx logs
shows), draw the trace as a waterfall, one row per span indented under its
parent, then the log lines of that trace from every service.

The collector runs whenever the project does (attached or with -d) and keeps
spans on a volume until msx down --volumes.`,
		Example: `  msx trace --last 5 --min-duration 100ms
  msx trace 4bf92f35`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return msxerr.Usage("%s takes at most one trace ID (usage: %s)", c.CommandPath(), c.UseLine())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				id, ok := trace.ParseID(args[0])
				if !ok {
					return msxerr.Usage("%q is not a trace ID (up to 32 hexadecimal digits)", args[0])
				}
				opts.ID = id
			}
			if opts.Last < 1 {
				return msxerr.Usage("--last must be at least 1")
			}
			if opts.MinDuration < 0 {
				return msxerr.Usage("--min-duration must not be negative")
			}
			return run(c.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opts.Service, "service", "", "only traces that touched service `S`")
	fl.IntVar(&opts.Last, "last", 20, "list the `N` most recent traces")
	fl.DurationVar(&opts.MinDuration, "min-duration", 0, "only traces lasting at least `D` (such as 100ms)")
	fl.BoolVar(&opts.Errors, "errors", false, "only traces with a span in error")
	fl.BoolVar(&opts.JSON, "json", false, "print JSON: the list of traces, or the trace's spans")
	return c
}

func runTrace(ctx context.Context, f *Factory, opts *traceOptions) error {
	m, cli, err := f.LocalProject(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if opts.Service != "" {
		if err := m.CheckContainerServices([]string{opts.Service}); err != nil {
			return err
		}
	}
	r := f.Runner(cli, nil, nil)
	base, err := r.PublishedURL(ctx, m.Project, m.Dir, devenv.CollectorName, devenv.CollectorPort)
	if errors.Is(err, runner.ErrNotRunning) {
		return msxerr.New("run msx up (or msx up -d), send a request, then try again",
			"the trace collector of project %s is not running", m.Project)
	}
	if err != nil {
		return err
	}
	c := &trace.Client{BaseURL: base}
	st := trace.Style{Width: termWidth(f), Color: f.IO.ColorEnabled()}
	if opts.ID == "" {
		list, err := c.List(ctx, trace.Query{Service: opts.Service, MinDuration: opts.MinDuration, Errors: opts.Errors, Limit: opts.Last})
		if err != nil {
			return collectorErr(ctx, err)
		}
		if opts.JSON {
			return writeJSON(f, list)
		}
		st.Now = f.Clock.Now()
		fmt.Fprint(f.IO.Out, trace.List(list, st))
		return nil
	}
	t, err := c.Get(ctx, opts.ID)
	switch {
	case errors.Is(err, trace.ErrNotFound):
		return msxerr.New("run msx trace to list the traces the collector kept", "no trace %s", opts.ID)
	case errors.Is(err, trace.ErrAmbiguous):
		return msxerr.New("give more digits of the ID", "more than one trace starts with %s", opts.ID)
	case err != nil:
		return collectorErr(ctx, err)
	}
	if opts.JSON {
		return writeJSON(f, t)
	}
	fmt.Fprint(f.IO.Out, trace.Waterfall(t, st))
	return traceLogs(ctx, f, r, m, t)
}

// traceLogs prints the log lines of trace t from every container.
func traceLogs(ctx context.Context, f *Factory, src logs.Source, m *devenv.Manifest, t trace.Trace) error {
	lines, err := logs.TraceLines(ctx, src, logs.ShowOptions{Project: m.Project, Dir: m.Dir},
		m.ContainerServices(), t.TraceID, trace.Began(t, f.Clock.Now()), f.IO.ColorEnabled())
	if err != nil {
		return err
	}
	if lines == "" {
		fmt.Fprintln(f.IO.Out, "\nno log lines of this trace")
		return nil
	}
	fmt.Fprintf(f.IO.Out, "\nlog lines of this trace:\n%s", lines)
	return nil
}

// collectorFinder finds the project's trace collector through its
// published port, for readers that outlive a container (the dashboard's
// traces tab).
func collectorFinder(r Runner, m *devenv.Manifest) *trace.Finder {
	return &trace.Finder{Find: func(ctx context.Context) (string, error) {
		base, err := r.PublishedURL(ctx, m.Project, m.Dir, devenv.CollectorName, devenv.CollectorPort)
		if errors.Is(err, runner.ErrNotRunning) {
			return "", errors.New("the collector is not running yet")
		}
		return base, err
	}}
}

func collectorErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return msxerr.ErrCancelled
	}
	return msxerr.Wrap(err, "run msx ps to check the collector, or msx up to restart it", "reading the trace collector failed: %s", msxerr.Sentence(err))
}

// writeJSON prints v as indented JSON, with the characters a terminal
// would interpret (in text that came from programs or clients) written as
// JSON escapes: the same JSON value.
func writeJSON(f *Factory, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = termtext.AppendJSON(nil, b)
	_, err = f.IO.Out.Write(append(b, '\n'))
	return err
}

// termWidth is the terminal's width, or 0 when stdout is not one.
func termWidth(f *Factory) int {
	if f.IO.IsStdoutTTY() {
		if w, _, err := term.GetSize(1); err == nil && w > 0 {
			return w
		}
	}
	return 0
}
