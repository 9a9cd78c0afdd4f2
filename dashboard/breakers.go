package dashboard

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/msx-dev/msx/termtext"
)

// ProgramBreakers is what one program's admin listener shows at
// /debug/breakers: the state of each of its circuit breakers, by name (the
// upstream it protects).
type ProgramBreakers struct {
	Program  string
	Breakers map[string]string // "closed", "open" or "half-open"
	// Problem says why the breakers could not be read ("not running",
	// "admin listener not answering"); empty when they were.
	Problem string
}

// BreakerSource reads the breakers of every program of the project. The
// breakers tab calls it from a command, never from its update loop.
type BreakerSource func(ctx context.Context) ([]ProgramBreakers, error)

// breakersTab is a page listing every circuit breaker of the project,
// open ones first, read from the admin listeners every interval.
type breakersTab struct {
	polledTab[[]ProgramBreakers]
}

var _ Tab = (*breakersTab)(nil)

// NewBreakersTab returns the breakers page, which reads src every interval
// while the dashboard runs.
func NewBreakersTab(src BreakerSource, every time.Duration) Tab {
	return &breakersTab{polledTab[[]ProgramBreakers]{poller: newPoller[[]ProgramBreakers](src, every)}}
}

func (t *breakersTab) Title() string { return "breakers" }

// breakerRow is one line of the table.
type breakerRow struct {
	program, breaker, state string
}

// rank orders states: the ones a person must see first come first.
func rank(state string) int {
	switch state {
	case "open":
		return 0
	case "half-open":
		return 1
	case "closed":
		return 3
	}
	return 2 // a program without breakers, or a problem
}

func (t *breakersTab) rows() (rows []breakerRow, open, half, closed int) {
	for _, p := range t.value {
		if p.Problem != "" {
			rows = append(rows, breakerRow{p.Program, "", termtext.Line(p.Problem)})
			continue
		}
		if len(p.Breakers) == 0 {
			rows = append(rows, breakerRow{p.Program, "", "no breakers (calls no other service)"})
			continue
		}
		for name, state := range p.Breakers {
			// Names and states are what a program's admin listener
			// said: shown, not interpreted.
			rows = append(rows, breakerRow{p.Program, termtext.Line(name), termtext.Line(state)})
			switch state {
			case "open":
				open++
			case "half-open":
				half++
			case "closed":
				closed++
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if rank(a.state) != rank(b.state) {
			return rank(a.state) < rank(b.state)
		}
		if a.program != b.program {
			return a.program < b.program
		}
		return a.breaker < b.breaker
	})
	return rows, open, half, closed
}

func (t *breakersTab) View() string {
	if line := t.problem("the breakers", "the admin listeners"); line != "" {
		return fit([]string{line}, t.width, t.height)
	}
	rows, open, half, closed := t.rows()
	lines := []string{fmt.Sprintf("%d open  %d half-open  %d closed  %s", open, half, closed, t.when())}
	if len(rows) == 0 {
		return fit(append(lines, "no program is running"), t.width, t.height)
	}
	pw, bw := len("PROGRAM"), len("UPSTREAM")
	for _, r := range rows {
		pw, bw = max(pw, len(r.program)), max(bw, len(r.breaker))
	}
	line := func(p, b, s string) string {
		return fmt.Sprintf("%-*s  %-*s  %s", pw, p, bw, b, s)
	}
	lines = append(lines, line("PROGRAM", "UPSTREAM", "STATE"))
	table := make([]string, len(rows))
	for i, r := range rows {
		state := r.state
		switch state {
		case "open":
			state = "OPEN: calls refused at once"
		case "half-open":
			state = "half-open: probing"
		}
		table[i] = line(r.program, r.breaker, state)
	}
	return fit(rowsIn(lines, table, t.height), t.width, t.height)
}
