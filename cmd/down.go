package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/session"
)

type downOptions struct {
	Volumes bool
}

func newDownCmd(f *Factory) *cobra.Command {
	opts := &downOptions{}
	c := &cobra.Command{
		Use:   "down",
		Short: "Remove the workspace's containers and networks",
		Long: `Remove the containers and networks of this workspace's project, found by
label: another folder with the same project name is not touched. Volumes
(the services' databases) go only with --volumes. Running it twice is fine.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			return runDown(c.Context(), f, opts)
		},
	}
	c.Flags().BoolVar(&opts.Volumes, "volumes", false, "also remove the volumes, with the services' data")
	return c
}

func runDown(ctx context.Context, f *Factory, opts *downOptions) error {
	m, cli, err := f.Project(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	// Not while an up applies the plan: it would create what down removes.
	unlock, err := session.Lock(ctx, m.Dir, func() {
		fmt.Fprintln(f.IO.ErrOut, "another msx is applying this workspace; waiting for it to finish")
	})
	if err != nil {
		return err
	}
	defer unlock()
	r := runner.New(cli, nil)
	res := r.Down(ctx, m.Project, m.Dir, opts.Volumes)
	for _, what := range res.Removed {
		fmt.Fprintf(f.IO.ErrOut, "removed %s\n", what)
	}
	if len(res.Removed) == 0 && len(res.Failed) == 0 && !res.Interrupted {
		fmt.Fprintf(f.IO.ErrOut, "nothing of project %s to remove\n", m.Project)
	}
	// One sentence naming what failed and, when it is Docker that did not
	// answer (or a Ctrl-C ended the wait), saying so.
	return res.Err()
}
