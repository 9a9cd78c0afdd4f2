// Package cmd holds msx's cobra commands. Commands parse flags, call a
// package that does the work, and print; Main maps errors to exit codes.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/iostreams"
	"github.com/msx-dev/msx/msxerr"
)

// Exit codes.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitCancelled = 130
)

// Main runs msx with the process's arguments and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, iostreams.System(), os.Args[1:])
}

// Run runs msx with args against the given streams; tests call it directly.
func Run(ctx context.Context, io *iostreams.IOStreams, args []string) int {
	f := NewFactory(io)
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return report(io, err)
}

// report prints err as one line on stderr and returns the exit code.
func report(io *iostreams.IOStreams, err error) int {
	if err == nil {
		return exitOK
	}
	var run *runError
	usage := !errors.As(err, &run)
	if run != nil {
		err = run.err
	}
	var uerr *msxerr.UsageError
	switch {
	case errors.Is(err, msxerr.ErrSilent):
		return exitError
	case errors.Is(err, msxerr.ErrCancelled) || errors.Is(err, context.Canceled):
		fmt.Fprintln(io.ErrOut, "msx: interrupted")
		return exitCancelled
	case errors.As(err, &uerr) || usage:
		var hinted *msxerr.Error
		if msg := msxerr.Sentence(err); strings.HasSuffix(msg, "?") || (errors.As(err, &hinted) && hinted.Hint != "") {
			fmt.Fprintf(io.ErrOut, "msx: %s\n", msg) // a suggestion or a hint says enough
		} else {
			fmt.Fprintf(io.ErrOut, "msx: %s; run 'msx --help' for usage\n", msg)
		}
		return exitUsage
	default:
		fmt.Fprintf(io.ErrOut, "msx: %s\n", msxerr.Sentence(err))
		return exitError
	}
}

// runError marks an error returned by a command's run function, as opposed
// to one cobra returned while parsing the command line (a usage error).
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "msx",
		Short: "Scaffold Go microservices and run them locally in Docker",
		Long: `msx scaffolds Go microservices wired into an API gateway, with circuit
breakers and a database per service, and runs the whole system locally in
Docker with file watching, hot swap, logs and traces.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       versionString(),
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			if f.NoColor {
				f.IO.SetColorEnabled(false)
			}
			return nil
		},
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetVersionTemplate("msx {{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return msxerr.Usage("%s", err.Error())
	})

	pf := root.PersistentFlags()
	pf.StringVarP(&f.Dir, "chdir", "C", "", "run as if msx was started in `DIR`")
	pf.StringVar(&f.ConfigFile, "config", "", "read the project manifest from `FILE` instead of msx.yaml")
	pf.BoolVarP(&f.Verbose, "verbose", "v", false, "print each Docker Engine API call and how long it took, on stderr")
	pf.BoolVar(&f.NoColor, "no-color", false, "disable colour output (NO_COLOR is also honoured)")
	pf.Int("gateway-port", 0, "gateway port on 127.0.0.1, over gateway.port in msx.yaml and MSX_GATEWAY_PORT")
	f.Flags = pf

	root.AddCommand(
		newInitCmd(f, nil),
		newNewCmd(f),
		newAddCmd(f),
		newRemoveCmd(f),
		newUpCmd(f, nil),
		newDownCmd(f, nil),
		newExportCmd(f),
		newPsCmd(f, nil),
		newEventsCmd(f, nil),
		newLogsCmd(f, nil),
		newTraceCmd(f, nil),
		newFaultCmd(f, nil),
		newDbCmd(f, nil),
		newDoctorCmd(f, nil),
		newVersionCmd(f),
		newCompletionCmd(f),
	)
	markRunErrors(root)
	return root
}

// markRunErrors wraps every command's RunE so that Main can tell an error
// from the work (exit 1) from a command-line mistake (exit 2).
func markRunErrors(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := run(cmd, args); err != nil {
				return &runError{err: err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
}

// orRun is a command's run function: runF when a test gave one (to see the
// options the command line made), else run, the command's own, over f.
// Each newXCmd(f, runF) takes one, as the GitHub CLI's commands do.
func orRun[O any](f *Factory, runF func(context.Context, *O) error, run func(context.Context, *Factory, *O) error) func(context.Context, *O) error {
	if runF != nil {
		return runF
	}
	return func(ctx context.Context, o *O) error { return run(ctx, f, o) }
}

// exactArgs is cobra.ExactArgs with a message that says what to type.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return msxerr.Usage("%s takes %s (usage: %s)", c.CommandPath(), what, c.UseLine())
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs with a message that says what to type.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < n {
			return msxerr.Usage("%s takes %s (usage: %s)", c.CommandPath(), what, c.UseLine())
		}
		return nil
	}
}
