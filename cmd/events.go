package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/eventlog"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
	"github.com/msx-dev/msx/runner"
)

type eventsOptions struct {
	Subject string
	Follow  bool
	JSON    bool
}

func newEventsCmd(f *Factory, runF func(context.Context, *eventsOptions) error) *cobra.Command {
	run := orRun(f, runF, runEvents)
	opts := &eventsOptions{}
	c := &cobra.Command{
		Use:   "events [SUBJECT]",
		Short: "Print the project's events from its broker, optionally following new ones",
		Long: `Print the events the services published to the project's NATS broker, oldest
first: all of them, or those matching SUBJECT (orders.item.created; * matches
one part and > the rest, as in orders.>). With -f, wait for new events until
Ctrl-C. One line per event (time, subject, ID and data, tab-separated, under
a header line), or one JSON object per line with --json. The
broker's client port is not published to the host: msx reads the stream with a
small reader it compiles once and runs on the project network, removed when
msx events ends. Reading changes nothing for the services.`,
		Example: "  msx events\n  msx events orders.item.created -f\n  msx events 'orders.>' --json",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return msxerr.Usage("%s takes at most one subject (usage: %s)", c.CommandPath(), c.UseLine())
			}
			if len(args) == 1 {
				if err := eventlog.CheckSubject(args[0]); err != nil {
					return msxerr.Usage("%v", err)
				}
				opts.Subject = args[0]
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return run(c.Context(), opts)
		},
	}
	c.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new events until Ctrl-C")
	c.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object per event")
	return c
}

func runEvents(ctx context.Context, f *Factory, opts *eventsOptions) error {
	m, cli, err := f.Project(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if !usesBroker(m) {
		return msxerr.New("add a subscriber with msx new service NAME --subscribes SERVICE.item.created",
			"this workspace has no broker: no service subscribes to events")
	}
	notice := progress.NewNotice(f.IO.ErrOut, time.Second, "msx: compiling the event reader (the first time takes a while)")
	defer notice.Stop()
	b := f.Builder(cli, builder.Options{
		Project:    m.Project,
		Dir:        m.Dir,
		MsxVersion: msxVersion(),
		Progress:   notice.Report,
		Stderr:     f.IO.ErrOut,
	})
	p := &eventlog.Printer{W: f.IO.Out, JSON: opts.JSON}
	err = f.Runner(cli, b, nil).Events(ctx, m, opts.Subject, opts.Follow, msxVersion(), func(line []byte) error {
		var e eventlog.Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("the event reader printed %q: %w", line, err)
		}
		return p.Print(e)
	})
	if errors.Is(err, runner.ErrNotRunning) {
		return msxerr.New("start it with msx up", "the broker of %s is not running", m.Project)
	}
	return err
}

func usesBroker(m *devenv.Manifest) bool {
	for _, n := range m.ServiceNames() {
		if m.Services[n].Events {
			return true
		}
	}
	return false
}
