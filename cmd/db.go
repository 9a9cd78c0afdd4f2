package cmd

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/state"
)

type dbOptions struct {
	Service      string
	Shell        bool
	ShowPassword bool
}

func newDbCmd(f *Factory) *cobra.Command {
	opts := &dbOptions{}
	c := &cobra.Command{
		Use:   "db SERVICE",
		Short: "Print the connection URL of a service's database, or open psql in it",
		Long: `Print how to reach a service's database from this machine. For Postgres, a
connection URL through the port msx up publishes on 127.0.0.1, without the
password unless --show-password is given (the password lives in .msx/, mode
0600); with --shell, psql runs inside the database container. For SQLite,
the volume and the file in it.`,
		Example: `  msx db orders
  psql "$(msx db orders --show-password)"
  msx db orders --shell`,
		Args: exactArgs(1, "one service name"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Service = args[0]
			if opts.Shell && opts.ShowPassword {
				return msxerr.Usage("--shell and --show-password do not go together: the shell needs no password")
			}
			return runDb(c.Context(), f, opts)
		},
	}
	c.Flags().BoolVar(&opts.Shell, "shell", false, "open psql in the database container")
	c.Flags().BoolVar(&opts.ShowPassword, "show-password", false, "put the password in the printed URL")
	return c
}

func runDb(ctx context.Context, f *Factory, opts *dbOptions) error {
	m, cli, err := f.Project(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	r := runner.New(cli, nil)
	d, err := r.Database(ctx, m, opts.Service)
	if err != nil {
		return err
	}
	if d.DB == devenv.DBSQLite {
		if opts.Shell {
			return msxerr.New("open the file with sqlite3 from a container that mounts the volume", "%s uses SQLite; --shell is for Postgres", d.Service)
		}
		fmt.Fprintf(f.IO.Out, "%s:%s\n", d.Volume, d.Path)
		return nil
	}
	if opts.Shell {
		return dbShell(ctx, f, cli, d)
	}
	pw := ""
	if opts.ShowPassword {
		v, ok, err := state.New(m.Dir).Lookup(d.Secret)
		if err != nil {
			return err
		}
		if !ok {
			return msxerr.New("run msx up, which generates it", "the database password of %s is not in %s", d.Service, state.DirName)
		}
		pw = v
	}
	fmt.Fprintln(f.IO.Out, d.URL(pw))
	return nil
}

// dbShell runs psql in the database container, on this terminal when
// there is one: psql connects over the container's own socket, where the
// image trusts local connections, so no password is ever passed.
func dbShell(ctx context.Context, f *Factory, api runner.ExecAPI, d runner.Database) error {
	in, _ := f.IO.In.(*os.File)
	tty := in != nil && term.IsTerminal(int(in.Fd())) && f.IO.IsStdoutTTY()
	if tty {
		old, err := term.MakeRaw(int(in.Fd()))
		if err != nil {
			return err
		}
		defer term.Restore(int(in.Fd()), old)
	}
	code, err := runner.Exec(context.WithoutCancel(ctx), api, d.Container,
		[]string{"psql", "-U", d.User, "-d", d.Name}, tty, f.IO.In, f.IO.Out, f.IO.ErrOut)
	if err != nil {
		return err
	}
	if code != 0 {
		return msxerr.ErrSilent // psql said why
	}
	return nil
}
