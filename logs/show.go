package logs

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/msx-dev/msx/runner"
)

// Source is what Show reads logs from; *runner.Runner is one.
type Source interface {
	LogTargets(ctx context.Context, project, dir string, services []string) ([]runner.LogTarget, error)
	ReadLogs(ctx context.Context, id string, opts runner.ReadOptions) ([]runner.LogLine, error)
	Follow(ctx context.Context, targets []runner.LogTarget, opts runner.FollowOptions, c runner.LogConsumer) error
}

var _ Source = (*runner.Runner)(nil)

// ShowOptions say which lines Show prints.
type ShowOptions struct {
	Project, Dir string
	// Services limits the lines to these services; empty means all.
	Services []string
	// Since is the time of the first line; zero means from the start.
	Since time.Time
	// Tail is how many lines of each container's history to show: all
	// when negative, none when zero.
	Tail int
	// Follow keeps printing new lines, of containers that start or
	// restart later too, until ctx is done.
	Follow bool
	// Poll is how often a follow looks for new containers; a second when
	// zero.
	Poll time.Duration
	// Now is the clock of --tail 0 -f; time.Now when nil.
	Now func() time.Time
	// Hold is how long a followed line waits for the lines of other
	// containers stamped before it; 100 ms when zero.
	Hold time.Duration
}

// ErrNoContainers is a workspace with no container to read logs from.
var ErrNoContainers = errors.New("no containers")

// Show prints the logs of a workspace's containers to p. The lines of all
// services are merged by the time each line carries (a slog line's own
// "time", else the engine's stamp; each service's own order kept). With
// Follow, the history is printed first, then new lines as they come,
// held for a tenth of a second to be merged by time, resuming just after
// the last line shown: no line is shown twice, across restarts too.
func Show(ctx context.Context, src Source, p *Printer, opts ShowOptions) error {
	targets, err := src.LogTargets(ctx, opts.Project, opts.Dir, opts.Services)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return ErrNoContainers
	}
	history := make([][]runner.LogLine, len(targets))
	if opts.Tail != 0 {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i, t := range targets {
			g.Go(func() error {
				lines, err := src.ReadLogs(gctx, t.ID, runner.ReadOptions{Since: opts.Since, Tail: max(opts.Tail, 0)})
				history[i] = lines
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	streams := make([][]Entry, len(targets))
	var r Renderer
	for i, t := range targets {
		streams[i] = make([]Entry, len(history[i]))
		for j, l := range history[i] {
			// Merged by the time the line carries, as its reader sees it;
			// the engine's stamp (when it read the line) for a line with
			// none.
			at, ok := LineTime(&r, []byte(l.Line))
			if !ok {
				at = l.Time
			}
			streams[i][j] = Entry{Time: at, Service: t.Service, Stream: l.Stream, Line: l.Line}
		}
	}
	for _, e := range Merge(streams) {
		p.Log(e.Service, e.Stream, e.Line)
	}
	if !opts.Follow {
		return nil
	}

	now := opts.Now
	if now == nil {
		now = time.Now
	}
	// The followers' lines come over one stream per container: held a
	// moment and passed on by the time they carry, they print merged by
	// time as the history did.
	merged := NewReorder(p, opts.Hold, 0)
	defer merged.Close()
	var wg sync.WaitGroup
	seen := map[string]bool{}
	follow := func(t runner.LogTarget, since time.Time) {
		seen[t.ID] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A follower's error (the engine failed) ends that follower;
			// the others go on.
			_ = src.Follow(ctx, []runner.LogTarget{t}, runner.FollowOptions{Since: since}, merged)
		}()
	}
	for i, t := range targets {
		since := opts.Since
		switch {
		case len(history[i]) > 0:
			since = history[i][len(history[i])-1].Time.Add(time.Nanosecond)
		case opts.Tail == 0:
			since = now()
		}
		follow(t, since)
	}
	poll := opts.Poll
	if poll <= 0 {
		poll = time.Second
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
		}
		later, err := src.LogTargets(ctx, opts.Project, opts.Dir, opts.Services)
		if err != nil {
			continue // the engine hiccupped: look again next time
		}
		for _, t := range later {
			if !seen[t.ID] {
				// A container created after msx logs started: all its
				// lines are new.
				follow(t, opts.Since)
			}
		}
	}
}
