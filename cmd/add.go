package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/names"
	"github.com/msx-dev/msx/scaffold"
)

func newAddCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "add",
		Short: "Add something to an existing service",
		Args:  exactArgs(0, "a kind of thing to add, such as: msx add dependency SERVICE DEP"),
		RunE: func(c *cobra.Command, _ []string) error {
			return msxerr.Usage("say what to add, such as: msx add dependency SERVICE DEP")
		},
	}
	c.AddCommand(newAddDependencyCmd(f))
	return c
}

type addDependencyOptions struct {
	Service string
	Deps    []string
	DryRun  bool
}

func newAddDependencyCmd(f *Factory) *cobra.Command {
	var o addDependencyOptions
	c := &cobra.Command{
		Use:   "dependency SERVICE DEP...",
		Short: "Make SERVICE call DEP through DEP's typed client",
		Long: `Add each DEP to the dependencies of SERVICE in msx.yaml and wire DEP's typed
client into SERVICE's main.go and handlers.go. Files edited since msx
generated them are left as they are and listed as kept, so that you can
wire the client there yourself.`,
		Example:           "  msx add dependency payments orders",
		Args:              minArgs(2, "a service and at least one dependency"),
		ValidArgsFunction: completeServices(f),
		RunE: func(c *cobra.Command, args []string) error {
			o.Service, o.Deps = args[0], args[1:]
			for _, n := range args {
				if err := names.Validate("service", n); err != nil {
					return &msxerr.UsageError{Err: err}
				}
			}
			return runAddDependency(f, &o)
		},
	}
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be written, write nothing")
	return c
}

func runAddDependency(f *Factory, o *addDependencyOptions) error {
	path, err := f.ManifestPath()
	if err != nil {
		return err
	}
	res, err := scaffold.AddDependency(nil, path, o.Service, o.Deps, o.DryRun)
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
	if len(kept) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "\nKept %s as you edited it: wire the client of %s there by hand.\n",
			strings.Join(kept, ", "), strings.Join(o.Deps, ", "))
	}
	return nil
}
