package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/names"
	"github.com/msx-dev/msx/scaffold"
)

func newRemoveCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "remove",
		Short: "Remove something from the workspace",
		Args:  exactArgs(0, "a kind of thing to remove, such as: msx remove service NAME"),
		RunE: func(c *cobra.Command, _ []string) error {
			return msxerr.Usage("say what to remove, such as: msx remove service NAME")
		},
	}
	c.AddCommand(newRemoveServiceCmd(f, nil))
	return c
}

type removeServiceOptions struct {
	scaffold.RemoveOptions
	Volumes bool
}

func newRemoveServiceCmd(f *Factory, runF func(context.Context, *removeServiceOptions) error) *cobra.Command {
	run := orRun(f, runF, runRemoveService)
	var o removeServiceOptions
	c := &cobra.Command{
		Use:   "service NAME",
		Short: "Remove a service: its containers, its entry in msx.yaml and its unedited files",
		Long: `The reverse of msx new service: stop and remove the service's container and
its database's, take it out of msx.yaml (the gateway stops routing it at the
next msx up), and delete the files of services/NAME that are as msx generated
them. Files you edited or added are kept and listed. Its data (database
volume) goes only with --volumes. A service others depend on is refused.`,
		Example:           "  msx remove service orders\n  msx remove service orders --volumes",
		Args:              exactArgs(1, "one service name"),
		ValidArgsFunction: completeServices(f),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := names.Validate("service", o.Name); err != nil {
				return &msxerr.UsageError{Err: err}
			}
			return run(c.Context(), &o)
		},
	}
	c.Flags().BoolVar(&o.Volumes, "volumes", false, "also remove the service's data (its database volume)")
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be removed, remove nothing")
	return c
}

func runRemoveService(ctx context.Context, f *Factory, o *removeServiceOptions) error {
	path, err := f.ManifestPath()
	if err != nil {
		return err
	}
	o.ManifestPath = path
	// Check everything before touching a container: a refusal changes nothing.
	plan := o.RemoveOptions
	plan.DryRun = true
	if _, err := scaffold.RemoveService(nil, plan); err != nil {
		return err
	}
	if !o.DryRun {
		if err := removeContainers(ctx, f, o); err != nil {
			return err
		}
	}
	res, err := scaffold.RemoveService(nil, o.RemoveOptions)
	if err != nil {
		return err
	}
	printChanges(f, res, o.DryRun)
	var kept []string
	for _, c := range res.Changes {
		if c.Action == scaffold.Kept {
			kept = append(kept, c.Path)
		}
	}
	switch {
	case o.DryRun:
	case len(kept) > 0:
		fmt.Fprintf(f.IO.ErrOut, "\nRemoved service %s; kept %s, edited since msx generated them: delete them yourself when you no longer need them.\n",
			o.Name, strings.Join(kept, ", "))
	default:
		fmt.Fprintf(f.IO.ErrOut, "\nRemoved service %s.\n", o.Name)
	}
	return nil
}

// removeContainers removes the service's containers (and, with --volumes,
// its volumes) when the engine answers. When it does not, nothing of the
// project can be running; msx up and msx down remove leftovers by label.
func removeContainers(ctx context.Context, f *Factory, o *removeServiceOptions) error {
	m, cli, err := f.Project(ctx)
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "Docker is not answering (%s): no container removed.\n", msxerr.Sentence(err))
		return nil
	}
	defer cli.Close()
	res := f.Runner(cli, nil, nil).DownServices(ctx, m.Project, m.Dir, []string{o.Name, devenv.DatabaseName(o.Name)}, o.Volumes)
	for _, what := range res.Removed {
		fmt.Fprintf(f.IO.ErrOut, "removed %s\n", what)
	}
	return res.Err()
}
