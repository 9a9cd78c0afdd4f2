package cmd

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/trace"
)

type logsOptions struct {
	Services []string
	Follow   bool
	Since    string
	Tail     int
	Grep     string
	Level    string
	Trace    string
	JSON     bool
	NoPrefix bool
}

func newLogsCmd(f *Factory, runF func(context.Context, *logsOptions) error) *cobra.Command {
	run := orRun(f, runF, runLogs)
	opts := &logsOptions{}
	c := &cobra.Command{
		Use:   "logs [SERVICE...]",
		Short: "Show the logs of the workspace's services, gateway and databases",
		Long: `Show the log lines of the workspace's containers, prefixed by service.
The JSON lines the generated programs log through slog are shown readably:
time, level, message, key fields and the first digits of the trace ID (which
msx trace and --trace accept). Lines of several services are merged by the
time each line carries (while following, a line waits a tenth of a second
for lines of other services stamped before it). --grep searches each line
as it is shown, without the service prefix (status=504, not the JSON's
"status":504); with --json, the JSON.
A program's control characters and escape sequences are shown escaped
(\x1b[2J), never played on the terminal; with --json, a line that holds
some is printed as the same JSON value with them escaped.

With -f, msx keeps following: containers that start or restart later are
followed too, each resuming just after the last line shown, until Ctrl-C.`,
		Example: `  msx logs orders --since 10m
  msx logs -f --level warn
  msx logs --trace 4bf92f35
  msx logs gateway --grep 'status=5'`,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Services = args
			return run(c.Context(), opts)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines, across restarts, until Ctrl-C")
	fl.StringVar(&opts.Since, "since", "", "show lines since a `DURATION` ago (10m) or a time (2026-01-02T15:04:05Z)")
	fl.IntVarP(&opts.Tail, "tail", "n", -1, "show the last `N` lines of each container (all when negative)")
	fl.StringVar(&opts.Grep, "grep", "", "show only lines whose text as shown (with --json: the JSON) matches the regular expression `RE`")
	fl.StringVar(&opts.Level, "level", "", "show only lines at `LEVEL` or above: debug, info, warn, error")
	fl.StringVar(&opts.Trace, "trace", "", "show only lines of the trace `ID` (the full ID or its first digits)")
	fl.BoolVar(&opts.JSON, "json", false, "print the lines as the programs wrote them (JSON from slog)")
	fl.BoolVar(&opts.NoPrefix, "no-prefix", false, "leave out the service name before each line")
	return c
}

// logsPrinterOptions checks the filter flags and turns them into printer
// options: a bad flag is a usage error before anything is read.
func logsPrinterOptions(opts *logsOptions, color bool) (logs.PrinterOptions, error) {
	po := logs.PrinterOptions{Color: color && !opts.JSON, NoPrefix: opts.NoPrefix || opts.JSON, Raw: opts.JSON}
	if opts.Grep != "" {
		re, err := regexp.Compile(opts.Grep)
		if err != nil {
			return po, msxerr.Usage("--grep %q is not a regular expression: %s", opts.Grep, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		po.Filter.Grep = re
	}
	if opts.Level != "" {
		l, ok := logs.ParseLevel(opts.Level)
		if !ok {
			return po, msxerr.Usage("--level %q is not one of debug, info, warn, error", opts.Level)
		}
		po.Filter.Level = l
	}
	if opts.Trace != "" {
		id, ok := trace.ParseID(opts.Trace)
		if !ok {
			return po, msxerr.Usage("--trace %q is not a trace ID (up to 32 hexadecimal digits)", opts.Trace)
		}
		po.Filter.TraceID = id
	}
	return po, nil
}

// parseSince reads --since: a duration before now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, msxerr.Usage("--since %q is neither a duration such as 10m nor a time such as 2026-01-02T15:04:05Z", s)
}

func runLogs(ctx context.Context, f *Factory, opts *logsOptions) error {
	po, err := logsPrinterOptions(opts, f.IO.ColorEnabled())
	if err != nil {
		return err
	}
	since, err := parseSince(opts.Since, f.Clock.Now())
	if err != nil {
		return err
	}
	m, err := f.Manifest()
	if err != nil {
		return err
	}
	if err := m.CheckContainerServices(opts.Services); err != nil {
		return err
	}
	cli, err := f.Docker(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	r := f.Runner(cli, nil, nil)
	services := opts.Services
	if len(services) == 0 {
		services = m.ContainerServices()
	}
	p := logs.NewPrinter(f.IO.Out, services, po)
	err = logs.Show(ctx, r, p, logs.ShowOptions{
		Project:  m.Project,
		Dir:      m.Dir,
		Services: opts.Services,
		Since:    since,
		Tail:     opts.Tail,
		Follow:   opts.Follow,
	})
	switch {
	case errors.Is(err, logs.ErrNoContainers):
		what := "project " + m.Project
		if len(opts.Services) > 0 {
			what = strings.Join(opts.Services, ", ")
		}
		return msxerr.New("run msx up first", "%s has no containers", what)
	case err != nil && ctx.Err() != nil:
		return msxerr.ErrCancelled
	}
	return err
}
