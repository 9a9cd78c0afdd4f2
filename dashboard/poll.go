package dashboard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/msx-dev/msx/termtext"
)

// poller reads a source every interval, in commands: a tab that shows
// something read again and again (the breakers, the event consumers)
// embeds one through polledTab, which starts it from Init and hands it
// every message in Update.
type poller[T any] struct {
	src   func(ctx context.Context) (T, error)
	every time.Duration
	now   func() time.Time

	value T
	err   error
	read  time.Time // when value was read; zero before the first read
}

func newPoller[T any](src func(ctx context.Context) (T, error), every time.Duration) poller[T] {
	return poller[T]{src: src, every: every, now: time.Now}
}

// polledMsg carries one reading; p says whose, as several pollers may run.
type polledMsg[T any] struct {
	p     *poller[T]
	value T
	err   error
	at    time.Time
}

// pollTickMsg asks p to read again.
type pollTickMsg[T any] struct{ p *poller[T] }

// fetch reads the source in a command, with a bound on how long.
func (p *poller[T]) fetch() tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), max(p.every, time.Second))
		defer cancel()
		v, err := p.src(ctx)
		return polledMsg[T]{p: p, value: v, err: err, at: p.now()}
	}
}

// update keeps a reading of its own and schedules the next, and reads
// again on its own tick; any other message is left alone.
func (p *poller[T]) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case polledMsg[T]:
		if msg.p != p {
			return nil
		}
		p.value, p.err, p.read = msg.value, msg.err, msg.at
		return tea.Tick(p.every, func(time.Time) tea.Msg { return pollTickMsg[T]{p: p} })
	case pollTickMsg[T]:
		if msg.p == p {
			return p.fetch()
		}
	}
	return nil
}

// problem is the line to show instead of the value (what names it, from
// where it is read) before the first reading and after a failed one, and
// "" once there is a value.
func (p *poller[T]) problem(what, from string) string {
	switch {
	case p.read.IsZero():
		return "reading " + what + " from " + from + "…"
	case p.err != nil:
		return "cannot read " + what + ": " + termtext.Line(p.err.Error())
	}
	return ""
}

// when says when the value was read and how often it is.
func (p *poller[T]) when() string {
	return fmt.Sprintf("(read %s, every %s)", p.read.Format("15:04:05"), p.every)
}

// rowsIn appends rows to lines while they fit in height, the last line
// that fits counting the rows that do not.
func rowsIn(lines, rows []string, height int) []string {
	room := height - len(lines)
	for i, r := range rows {
		if i == room-1 && len(rows) > room {
			return append(lines, fmt.Sprintf("… %d more", len(rows)-i))
		}
		lines = append(lines, r)
	}
	return lines
}

// fit draws lines in at most width by height.
func fit(lines []string, width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	if len(lines) > height {
		lines = lines[:height]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = ansi.Truncate(l, width, "…")
	}
	return strings.Join(out, "\n")
}

// polledTab is the part of a tab that shows what a poller reads: the tab
// embeds it and adds its Title and View.
type polledTab[T any] struct {
	poller[T]
	width, height int
}

// Init starts reading.
func (t *polledTab[T]) Init() tea.Cmd { return t.fetch() }

// SetSize keeps the size for View.
func (t *polledTab[T]) SetSize(w, h int) { t.width, t.height = w, h }

// Keys is empty: such a tab only shows.
func (t *polledTab[T]) Keys() []key.Binding { return nil }

// Update handles the poller's messages.
func (t *polledTab[T]) Update(msg tea.Msg) tea.Cmd { return t.update(msg) }
