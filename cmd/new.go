package cmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/names"
	"github.com/msx-dev/msx/scaffold"
)

func newNewCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "new",
		Short: "Add something to the workspace",
		Args:  exactArgs(0, "a kind of thing to create, such as: msx new service NAME"),
		RunE: func(c *cobra.Command, _ []string) error {
			return msxerr.Usage("say what to create, such as: msx new service NAME")
		},
	}
	c.AddCommand(newServiceCmd(f))
	return c
}

type serviceOptions struct {
	scaffold.ServiceOptions
}

func newServiceCmd(f *Factory) *cobra.Command {
	var o serviceOptions
	c := &cobra.Command{
		Use:   "service NAME",
		Short: "Add a service wired into the gateway, with breakers and its own database",
		Long: `Add services/NAME: a Go service with the sample resource /items over its own
database, health endpoints, tests and a production Dockerfile, registered in
msx.yaml and routed by the gateway at /api/NAME/. Its API package,
services/NAME/NAMEapi, declares its routes, types and typed client; each
service named in --depends-on is called through its API package's client
(timeout, retries of idempotent calls, circuit breaker, tracing).

With --api graphql the service serves GraphQL at /graphql instead (routed
at /api/NAME/graphql): schema first with gqlgen, the schema in
NAMEapi/schema.graphqls, resolvers in resolvers.go, and gqlgen's and
genqlient's generated code committed, so it builds as generated; after
editing the schema or operations.graphql, run go generate ./services/NAME/....
Its callers get a typed client generated from NAMEapi/operations.graphql.

With --force over an existing service, settings not given keep their values;
files you edited that new settings would change are kept and listed, as
msx add dependency does.`,
		Example: "  msx new service orders --db sqlite\n  msx new service payments --db postgres --depends-on orders\n  msx new service catalog --api graphql",
		Args:    exactArgs(1, "one service name"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			if !c.Flags().Changed("db") {
				o.DB = "" // sqlite for a new service; what msx.yaml says under --force
			} else if !slices.Contains(devenv.DBKinds, o.DB) {
				return msxerr.Usage("--db %q is not a database kind; use %s", o.DB, strings.Join(devenv.DBKinds, ", "))
			}
			if !c.Flags().Changed("api") {
				o.API = "" // rest for a new service; what msx.yaml says under --force
			} else if !slices.Contains(devenv.APIKinds, o.API) {
				return msxerr.Usage("--api %q is not an API kind; use %s", o.API, strings.Join(devenv.APIKinds, " or "))
			}
			o.DependsOnSet = c.Flags().Changed("depends-on")
			o.SubscribesSet = c.Flags().Changed("subscribes")
			return runNewService(f, &o)
		},
	}
	c.Flags().StringVar(&o.DB, "db", devenv.DBSQLite, "database the service owns: "+strings.Join(devenv.DBKinds, ", "))
	c.Flags().StringVar(&o.API, "api", devenv.APIREST, "how the service is called: "+strings.Join(devenv.APIKinds, " or ")+" (a schema-first GraphQL endpoint at /graphql, gqlgen)")
	c.Flags().StringSliceVar(&o.DependsOn, "depends-on", nil, "services this one calls, comma-separated")
	c.Flags().StringArrayVar(&o.Subscribes, "subscribes", nil, "an event the service handles, SERVICE.item.created or SERVICE.item.deleted (repeatable)")
	c.Flags().IntVar(&o.Port, "port", 0, "port the service listens on (default: the next free one)")
	c.Flags().BoolVar(&o.Force, "force", false, "generate an existing service again, overwriting files that differ, except edited files that changed settings would rewrite: those are kept")
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be written, write nothing")
	c.RegisterFlagCompletionFunc("db", fixedCompletion(devenv.DBKinds...))
	c.RegisterFlagCompletionFunc("api", fixedCompletion(devenv.APIKinds...))
	c.RegisterFlagCompletionFunc("depends-on", completeServiceList(f))
	c.ValidArgsFunction = cobra.NoFileCompletions
	return c
}

func runNewService(f *Factory, o *serviceOptions) error {
	// A bad name is the user's first mistake to hear about, before any
	// question of where the workspace is.
	if err := names.Validate("service", o.Name); err != nil {
		return &msxerr.UsageError{Err: err}
	}
	path, err := f.ManifestPath()
	if err != nil {
		return err
	}
	o.ManifestPath = path
	res, err := scaffold.NewService(nil, o.ServiceOptions)
	if err != nil {
		return err
	}
	printChanges(f, res, o.DryRun)
	if !o.DryRun {
		serves := "routed at " + devenv.Route(o.Name)
		if o.API == devenv.APIGraphQL {
			serves = "serving GraphQL at " + devenv.Route(o.Name) + "graphql"
		}
		fmt.Fprintf(f.IO.ErrOut, "\nAdded service %s, %s through the gateway. Run msx up to start it.\n", o.Name, serves)
	}
	return nil
}
