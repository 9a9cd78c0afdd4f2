package dashboard

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/msx-dev/msx/termtext"
)

// EventConsumer is what the broker says of one subscribing service's
// durable consumer, as msx ps shows it.
type EventConsumer struct {
	Service    string
	Subscribes []string // the subjects it subscribes to, from the manifest
	// Pending is how many events of its subjects it has not been given yet.
	Pending uint64
	// Unacked is how many it was given and has not acknowledged.
	Unacked int
	// Redelivered is how many of those were given more than once.
	Redelivered int
	// Problem says why the consumer could not be read ("not running");
	// empty when it was.
	Problem string
}

// EventSource reads the durable consumers of every subscribing service;
// an error says the broker itself could not be read. The events tab calls
// it from a command, never from its update loop.
type EventSource func(ctx context.Context) ([]EventConsumer, error)

// eventsTab is a page listing the broker's durable consumer of each
// subscribing service, read every interval.
type eventsTab struct {
	polledTab[[]EventConsumer]
}

// NewEventsTab returns the events page, which reads src every interval
// while the dashboard runs.
func NewEventsTab(src EventSource, every time.Duration) Tab {
	return &eventsTab{polledTab[[]EventConsumer]{poller: newPoller[[]EventConsumer](src, every)}}
}

func (t *eventsTab) Title() string { return "events" }

func (t *eventsTab) View() string {
	if line := t.problem("the event consumers", "the broker"); line != "" {
		return fit([]string{line}, t.width, t.height)
	}
	cs := append([]EventConsumer(nil), t.value...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Service < cs[j].Service })
	var pending uint64
	var unacked, redelivered int
	for _, c := range cs {
		pending, unacked, redelivered = pending+c.Pending, unacked+c.Unacked, redelivered+c.Redelivered
	}
	lines := []string{fmt.Sprintf("%d pending  %d unacked  %d redelivered  %s", pending, unacked, redelivered, t.when())}
	if len(cs) == 0 {
		return fit(append(lines, "no service subscribes to events"), t.width, t.height)
	}
	sw := len("SERVICE")
	for _, c := range cs {
		sw = max(sw, len(c.Service))
	}
	// The counts come before the subjects, which may be long, so that a
	// narrow terminal cuts the subjects and not the counts.
	line := func(s, pending, unacked, redelivered, subs string) string {
		return fmt.Sprintf("%-*s  %7s  %7s  %11s  %s", sw, s, pending, unacked, redelivered, subs)
	}
	lines = append(lines, line("SERVICE", "PENDING", "UNACKED", "REDELIVERED", "SUBSCRIBES"))
	table := make([]string, len(cs))
	for i, c := range cs {
		subs := strings.Join(c.Subscribes, ", ")
		if c.Problem != "" {
			table[i] = line(c.Service, "-", "-", "-", "("+termtext.Line(c.Problem)+") "+subs)
			continue
		}
		table[i] = line(c.Service, strconv.FormatUint(c.Pending, 10), strconv.Itoa(c.Unacked), strconv.Itoa(c.Redelivered), subs)
	}
	return fit(rowsIn(lines, table, t.height), t.width, t.height)
}
