package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/session"
)

type downOptions struct {
	Volumes bool
	Images  bool
}

func newDownCmd(f *Factory, runF func(context.Context, *downOptions) error) *cobra.Command {
	run := orRun(f, runF, runDown)
	opts := &downOptions{}
	c := &cobra.Command{
		Use:   "down",
		Short: "Remove the workspace's containers and networks",
		Long: `Remove the containers and networks of this workspace's project, found by
label: another folder with the same project name is not touched. Volumes
(the services' databases) go only with --volumes, the images msx built for
the workspace only with --rmi. Running it twice is fine.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			return run(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.Volumes, "volumes", false, "also remove the volumes, with the services' data")
	c.Flags().BoolVar(&opts.Images, "rmi", false, "also remove the images msx built for this workspace")
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
	r := f.Runner(cli, nil, nil)
	res := r.Down(ctx, m.Project, m.Dir, opts.Volumes)
	for _, what := range res.Removed {
		fmt.Fprintf(f.IO.ErrOut, "removed %s\n", what)
	}
	var imgErr error
	if opts.Images && res.Err() == nil {
		var refs []string
		refs, imgErr = builder.RemoveImages(ctx, cli, m.Project, m.Dir)
		for _, ref := range refs {
			fmt.Fprintf(f.IO.ErrOut, "removed image %s\n", ref)
			res.Removed = append(res.Removed, "image "+ref)
		}
	}
	if len(res.Removed) == 0 && len(res.Failed) == 0 && !res.Interrupted {
		fmt.Fprintf(f.IO.ErrOut, "nothing of project %s to remove\n", m.Project)
	}
	// One sentence naming what failed and, when it is Docker that did not
	// answer (or a Ctrl-C ended the wait), saying so.
	if err := res.Err(); err != nil {
		return err
	}
	return imgErr
}
