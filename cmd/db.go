package cmd

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxdir"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/runner"
)

type dbOptions struct {
	Service      string
	Shell        bool
	ShowPassword bool
	PGPass       bool
}

func newDbCmd(f *Factory, runF func(context.Context, *dbOptions) error) *cobra.Command {
	run := orRun(f, runF, runDb)
	opts := &dbOptions{}
	c := &cobra.Command{
		Use:   "db SERVICE",
		Short: "Print the connection URL of a service's database, or open psql in it",
		Long: `Print how to reach a service's database from this machine. For Postgres, a
connection URL through the port msx up publishes on 127.0.0.1, without the
password unless --show-password is given (the password lives in .msx/, mode
0600); with --shell, psql runs inside the database container. With --pgpass,
msx writes the password to a Postgres password file in .msx/ (mode 0600) and
prints a psql command that reads it through PGPASSFILE: the password never
appears in a command line, where other users of the machine could read it
in the process list. For SQLite, the volume and the file in it.`,
		Example: `  msx db orders
  msx db orders --shell
  eval "$(msx db orders --pgpass)"`,
		Args: exactArgs(1, "one service name"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Service = args[0]
			if opts.Shell && (opts.ShowPassword || opts.PGPass) {
				return msxerr.Usage("--shell takes neither --show-password nor --pgpass: the shell needs no password")
			}
			if opts.ShowPassword && opts.PGPass {
				return msxerr.Usage("--show-password and --pgpass do not go together: --pgpass keeps the password in a file")
			}
			return run(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.Shell, "shell", false, "open psql in the database container")
	c.Flags().BoolVar(&opts.ShowPassword, "show-password", false, "put the password in the printed URL (for a program's configuration, not a command line)")
	c.Flags().BoolVar(&opts.PGPass, "pgpass", false, "write a password file in .msx/ and print a psql command that reads it (PGPASSFILE)")
	return c
}

func runDb(ctx context.Context, f *Factory, opts *dbOptions) error {
	m, cli, err := f.Project(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	r := f.Runner(cli, nil, nil)
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
	// The URL names the port published on 127.0.0.1 of the engine's machine.
	if err := f.localPorts(); err != nil {
		return err
	}
	pw := ""
	if opts.ShowPassword || opts.PGPass {
		v, ok, err := f.Store(m.Dir).Lookup(d.Secret)
		if err != nil {
			return err
		}
		if !ok {
			return msxerr.New("run msx up, which generates it", "the database password of %s is not in %s", d.Service, msxdir.DirName)
		}
		pw = v
	}
	if opts.PGPass {
		path, err := f.Store(m.Dir).WriteFile(d.Service+".pgpass", []byte(d.PGPassLine(pw)))
		if err != nil {
			return err
		}
		fmt.Fprintf(f.IO.Out, "PGPASSFILE=%s psql %s\n", shellQuote(path), shellQuote(d.URL("")))
		return nil
	}
	fmt.Fprintln(f.IO.Out, d.URL(pw))
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
