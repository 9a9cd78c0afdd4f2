package cmd

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/scaffold"
)

type initOptions struct {
	scaffold.InitOptions
}

func newInitCmd(f *Factory, runF func(context.Context, *initOptions) error) *cobra.Command {
	run := orRun(f, runF, runInit)
	var o initOptions
	c := &cobra.Command{
		Use:   "init DIR",
		Short: "Create a workspace with an API gateway and shared platform code",
		Long: `Create a workspace in DIR: msx.yaml, one go.mod with pinned versions, the
API gateway and the platform packages every service shares. DIR must be new
or empty unless --force is given.`,
		Example: "  msx init shop --module example.com/shop",
		Args:    exactArgs(1, "one folder, the workspace to create"),
		RunE: func(c *cobra.Command, args []string) error {
			dir := args[0]
			if f.Dir != "" && !filepath.IsAbs(dir) {
				dir = filepath.Join(f.Dir, dir)
			}
			o.Dir = dir
			// A bad name is a mistake in the command line: the folder
			// given, or --name.
			if _, err := scaffold.ProjectName(dir, o.Project); err != nil {
				return &msxerr.UsageError{Err: err}
			}
			return run(c.Context(), &o)
		},
	}
	c.Flags().StringVar(&o.Module, "module", "", "Go module `PATH` of the workspace (default: the project name)")
	c.Flags().StringVar(&o.Project, "name", "", "project `NAME` (default: the folder's name)")
	c.Flags().BoolVar(&o.Force, "force", false, "generate into a non-empty folder, overwriting files that differ")
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be written, write nothing")
	return c
}

func runInit(_ context.Context, f *Factory, o *initOptions) error {
	res, err := scaffold.Init(nil, o.InitOptions)
	if err != nil {
		return err
	}
	printChanges(f, res, o.DryRun)
	if o.DryRun {
		return nil
	}
	rel := o.Dir
	fmt.Fprintf(f.IO.ErrOut, "\nCreated workspace %s. Next steps:\n", filepath.Base(res.Root))
	fmt.Fprintf(f.IO.ErrOut, "  cd %s\n", rel)
	fmt.Fprintf(f.IO.ErrOut, "  msx new service orders --db sqlite\n")
	fmt.Fprintf(f.IO.ErrOut, "  msx up\n")
	return nil
}

// printChanges lists each file and what was (or would be) done to it:
// tab-separated on stdout, so scripts can read it.
func printChanges(f *Factory, res *scaffold.Result, dryRun bool) {
	for _, c := range res.Changes {
		action := string(c.Action)
		if dryRun && c.Action != scaffold.Unchanged {
			action = "would " + action
		}
		fmt.Fprintf(f.IO.Out, "%s\t%s\n", action, c.Path)
	}
}
