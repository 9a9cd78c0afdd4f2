package cmd

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/runner"
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
redelivered; under the table, the gateway's URL of each GraphQL service. A table on a terminal, tab-separated lines otherwise (both with
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
	return runner.WriteStatusTable(f.IO.Out, list, f.IO.IsStdoutTTY(), !opts.NoHeader)
}
