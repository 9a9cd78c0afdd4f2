package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/termtext"
)

type psOptions struct {
	JSON     bool
	NoHeader bool
}

func newPsCmd(f *Factory, runF func(context.Context, *psOptions) error) *cobra.Command {
	run := orRun(f, runF, runPs)
	opts := &psOptions{}
	c := &cobra.Command{
		Use:   "ps",
		Short: "List the workspace's services: state, readiness, ports, restarts, uptime",
		Long: `List each service of the workspace, the gateway and databases: the
container's state, whether /readyz answers, the ports published on 127.0.0.1,
restarts and uptime, and for a service that subscribes to events, what the
broker says of its consumer: events pending (not yet delivered to it) and
redelivered. A table on a terminal, tab-separated lines otherwise (both with
a header line unless --no-header), JSON with --json.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			return run(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print JSON (a list of objects with stable field names)")
	c.Flags().BoolVar(&opts.NoHeader, "no-header", false, "leave out the header line, for scripts that read the rows")
	return c
}

func runPs(ctx context.Context, f *Factory, opts *psOptions) error {
	m, cli, err := f.Project(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	r := f.Runner(cli, nil, nil)
	list, err := r.Status(ctx, m)
	if err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	return printPs(f.IO.Out, list, f.IO.IsStdoutTTY(), !opts.NoHeader)
}

// printPs writes the table: aligned on a terminal, tab-separated
// otherwise, the header line in both unless header is false, so that a
// piped msx ps still says what each column is.
func printPs(out io.Writer, list []runner.ServiceStatus, tty, header bool) error {
	var w io.Writer = out
	var tw *tabwriter.Writer
	if tty {
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		w = tw
	}
	if header {
		fmt.Fprintln(w, "SERVICE\tSTATE\tREADY\tPORTS\tRESTARTS\tUPTIME\tBREAKERS\tFAULTS\tEVENTS")
	}
	for _, s := range list {
		state := s.State
		if s.State == "exited" {
			state = "exited (" + strconv.Itoa(s.ExitCode) + ")"
		}
		ready := "no"
		if s.Ready {
			ready = "yes"
		}
		ports := make([]string, 0, len(s.Ports))
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d->%d", p.HostIP, p.HostPort, p.ContainerPort))
		}
		portStr := strings.Join(ports, ",")
		uptime := ""
		if s.State == "running" {
			uptime = (time.Duration(s.UptimeSeconds) * time.Second).String()
		}
		if tty {
			portStr = orDash(portStr)
			uptime = orDash(uptime)
		}
		// Breaker names and faults are what the programs' admin
		// listeners said: shown, not interpreted.
		breakers, faults := termtext.Line(breakerSummary(s.Breakers)), ""
		if s.Faults != nil {
			faults = termtext.Line(s.Faults.String())
		}
		events := ""
		if c := s.Consumer; c != nil {
			events = fmt.Sprintf("pending %d, redelivered %d", c.Pending, c.Redelivered)
		}
		if tty {
			breakers, faults, events = orDash(breakers), orDash(faults), orDash(events)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Service, state, ready, portStr, s.Restarts, uptime, breakers, faults, events)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// breakerSummary names the breakers that are not closed, "orders:open",
// sorted; "" when all are closed.
func breakerSummary(states map[string]string) string {
	var out []string
	for name, st := range states {
		if st != "closed" {
			out = append(out, name+":"+st)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
