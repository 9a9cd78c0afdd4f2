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
	for _, a := range additions {
		c.AddCommand(newAddThingCmd(f, a))
	}
	return c
}

// addition is one kind of thing msx add adds to an existing service.
type addition struct {
	use, short, long, example string
	args                      string // what Args asks for
	// validate checks one of the things added (a service name, a subject).
	validate func(string) error
	// apply updates msx.yaml and regenerates the service.
	apply func(manifestPath, service string, things []string, dryRun bool) (*scaffold.Result, error)
	// kept says what to do by hand in the files msx kept as edited.
	kept func(things []string) string
}

var additions = []addition{{
	use:   "dependency SERVICE DEP...",
	short: "Make SERVICE call DEP through DEP's typed client",
	long: `Add each DEP to the dependencies of SERVICE in msx.yaml and wire DEP's typed
client into SERVICE's main.go and handlers.go. Files edited since msx
generated them are left as they are and listed as kept, so that you can
wire the client there yourself.`,
	example:  "  msx add dependency payments orders",
	args:     "a service and at least one dependency",
	validate: func(n string) error { return names.Validate("service", n) },
	apply: func(path, service string, deps []string, dryRun bool) (*scaffold.Result, error) {
		return scaffold.AddDependency(nil, path, service, deps, dryRun)
	},
	kept: func(deps []string) string { return "wire the client of " + strings.Join(deps, ", ") + " there by hand" },
}, {
	use:   "subscription SERVICE EVENT...",
	short: "Make SERVICE handle EVENT (SERVICE.item.created or SERVICE.item.deleted)",
	long: `Add each EVENT to the subscriptions of SERVICE in msx.yaml, as msx new
service --subscribes does for a new service, and regenerate SERVICE's
handlers: its durable consumer and a typed handler stub for each event,
taking the publisher's event type from its API package. Files edited since
msx generated them are left as they are and listed as kept, so that you can
add the handler there yourself.`,
	example:  "  msx add subscription payments orders.item.created",
	args:     "a service and at least one event",
	validate: func(string) error { return nil }, // the manifest checks subjects against the publishers
	apply: func(path, service string, subjects []string, dryRun bool) (*scaffold.Result, error) {
		return scaffold.AddSubscription(nil, path, service, subjects, dryRun)
	},
	kept: func(subjects []string) string {
		return "pass the handlers of events.go (" + strings.Join(subjects, ", ") + ") to messaging.Start there by hand"
	},
}}

func newAddThingCmd(f *Factory, a addition) *cobra.Command {
	var dryRun bool
	c := &cobra.Command{
		Use:               a.use,
		Short:             a.short,
		Long:              a.long,
		Example:           a.example,
		Args:              minArgs(2, a.args),
		ValidArgsFunction: completeServices(f),
		RunE: func(c *cobra.Command, args []string) error {
			if err := names.Validate("service", args[0]); err != nil {
				return &msxerr.UsageError{Err: err}
			}
			for _, n := range args[1:] {
				if err := a.validate(n); err != nil {
					return &msxerr.UsageError{Err: err}
				}
			}
			path, err := f.ManifestPath()
			if err != nil {
				return err
			}
			res, err := a.apply(path, args[0], args[1:], dryRun)
			if err != nil {
				return err
			}
			printChanges(f, res, dryRun)
			var kept []string
			for _, c := range res.Changes {
				if c.Action == scaffold.Kept {
					kept = append(kept, c.Path)
				}
			}
			if len(kept) > 0 {
				fmt.Fprintf(f.IO.ErrOut, "\nKept %s as you edited it: %s.\n", strings.Join(kept, ", "), a.kept(args[1:]))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be written, write nothing")
	return c
}
