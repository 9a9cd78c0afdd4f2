package dashboard

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
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
	src   BreakerSource
	every time.Duration
	now   func() time.Time

	width, height int
	programs      []ProgramBreakers
	err           error
	read          time.Time // when programs were read; zero before the first read
}

var _ Tab = (*breakersTab)(nil)

// NewBreakersTab returns the breakers page, which reads src every interval
// while the dashboard runs.
func NewBreakersTab(src BreakerSource, every time.Duration) Tab {
	return &breakersTab{src: src, every: every, now: time.Now}
}

// breakersMsg carries one reading of the breakers.
type breakersMsg struct {
	tab      *breakersTab
	programs []ProgramBreakers
	err      error
	at       time.Time
}

// breakersTickMsg asks the tab to read again.
type breakersTickMsg struct{ tab *breakersTab }

func (t *breakersTab) Title() string { return "breakers" }

func (t *breakersTab) Init() tea.Cmd { return t.fetch() }

func (t *breakersTab) SetSize(w, h int) { t.width, t.height = w, h }

func (t *breakersTab) Keys() []key.Binding { return nil }

// fetch reads the breakers in a command, with a bound on how long.
func (t *breakersTab) fetch() tea.Cmd {
	return func() tea.Msg {
		timeout := max(t.every, time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		p, err := t.src(ctx)
		return breakersMsg{tab: t, programs: p, err: err, at: t.now()}
	}
}

func (t *breakersTab) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case breakersMsg:
		if msg.tab != t {
			return nil
		}
		t.programs, t.err, t.read = msg.programs, msg.err, msg.at
		return tea.Tick(t.every, func(time.Time) tea.Msg { return breakersTickMsg{tab: t} })
	case breakersTickMsg:
		if msg.tab == t {
			return t.fetch()
		}
	}
	return nil
}

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
	for _, p := range t.programs {
		if p.Problem != "" {
			rows = append(rows, breakerRow{p.Program, "", p.Problem})
			continue
		}
		if len(p.Breakers) == 0 {
			rows = append(rows, breakerRow{p.Program, "", "no breakers (calls no other service)"})
			continue
		}
		for name, state := range p.Breakers {
			rows = append(rows, breakerRow{p.Program, name, state})
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
	if t.height <= 0 || t.width <= 0 {
		return ""
	}
	var lines []string
	switch {
	case t.read.IsZero():
		lines = append(lines, "reading the breakers from the admin listeners…")
	case t.err != nil:
		lines = append(lines, "cannot read the breakers: "+t.err.Error())
	default:
		rows, open, half, closed := t.rows()
		lines = append(lines, fmt.Sprintf("%d open  %d half-open  %d closed  (read %s, every %s)",
			open, half, closed, t.read.Format("15:04:05"), t.every))
		if len(rows) == 0 {
			lines = append(lines, "no program is running")
			break
		}
		pw, bw := len("PROGRAM"), len("UPSTREAM")
		for _, r := range rows {
			pw, bw = max(pw, len(r.program)), max(bw, len(r.breaker))
		}
		line := func(p, b, s string) string {
			return fmt.Sprintf("%-*s  %-*s  %s", pw, p, bw, b, s)
		}
		lines = append(lines, line("PROGRAM", "UPSTREAM", "STATE"))
		room := t.height - len(lines)
		for i, r := range rows {
			if i == room-1 && len(rows) > room {
				lines = append(lines, fmt.Sprintf("… %d more", len(rows)-i))
				break
			}
			state := r.state
			switch state {
			case "open":
				state = "OPEN: calls refused at once"
			case "half-open":
				state = "half-open: probing"
			}
			lines = append(lines, line(r.program, r.breaker, state))
		}
	}
	if len(lines) > t.height {
		lines = lines[:t.height]
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, t.width, "…")
	}
	return strings.Join(lines, "\n")
}
