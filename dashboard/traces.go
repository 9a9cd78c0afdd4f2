package dashboard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/msx-dev/msx/dashboard/model"
	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/termtext"
	"github.com/msx-dev/msx/trace"
)

// TraceSource is what the traces tab reads: the project's trace collector
// (a trace.Finder over its published port).
type TraceSource interface {
	List(ctx context.Context, q trace.Query) ([]trace.Summary, error)
	Get(ctx context.Context, id string) (trace.Trace, error)
}

// Traces tab defaults.
const (
	// TracesRefresh is how often the traces tab reads the collector again.
	TracesRefresh = 2 * time.Second
	// TracesListed is how many of the most recent traces the tab lists.
	TracesListed = 50
	// tracesTimeout bounds one read of the collector.
	tracesTimeout = 5 * time.Second
)

// tracesTab is the page of msx trace in the dashboard: the list of recent
// traces, as msx trace draws it, and, on enter, the selected trace's
// waterfall with the log lines of that trace that the dashboard holds, as
// msx trace ID draws them. It reads the collector every TracesRefresh, in
// commands, and draws only what it last read.
type tracesTab struct {
	src     TraceSource
	refresh time.Duration
	now     func() time.Time
	c       *common
	proj    *model.Project // the dashboard's log lines, for the waterfall

	width, height int

	list    []trace.Summary
	listAt  time.Time // when list was read: its AGE column's now
	listErr error
	read    bool // a list answer has arrived
	cursor  int
	top     int // first row of the list shown

	open     string // the trace ID whose waterfall is shown; "" for the list
	trace    *trace.Trace
	traceErr error
	scroll   int
}

// NewTracesTab returns the traces tab over src, for Options.Tabs.
func NewTracesTab(src TraceSource) Tab {
	return &tracesTab{src: src, refresh: TracesRefresh, now: time.Now}
}

// The tab's messages.
type (
	tracesListMsg struct {
		list []trace.Summary
		at   time.Time
		err  error
	}
	tracesTraceMsg struct {
		id  string
		t   trace.Trace
		err error
	}
	tracesTickMsg struct{ tab *tracesTab }
)

// attach gives the tab the dashboard's styles and log lines.
func (t *tracesTab) attach(c *common, proj *model.Project) { t.c, t.proj = c, proj }

func (t *tracesTab) Title() string { return "traces" }

func (t *tracesTab) Init() tea.Cmd { return t.fetchList() }

func (t *tracesTab) SetSize(w, h int) { t.width, t.height = w, h }

func (t *tracesTab) fetchList() tea.Cmd {
	src, now := t.src, t.now
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), tracesTimeout)
		defer cancel()
		list, err := src.List(ctx, trace.Query{Limit: TracesListed})
		return tracesListMsg{list: list, at: now(), err: err}
	}
}

func (t *tracesTab) fetchTrace(id string) tea.Cmd {
	src := t.src
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), tracesTimeout)
		defer cancel()
		tr, err := src.Get(ctx, id)
		return tracesTraceMsg{id: id, t: tr, err: err}
	}
}

func (t *tracesTab) tick() tea.Cmd {
	return tea.Tick(t.refresh, func(time.Time) tea.Msg { return tracesTickMsg{t} })
}

func (t *tracesTab) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tracesListMsg:
		t.setList(msg)
		return t.tick()
	case tracesTraceMsg:
		if msg.id == t.open {
			t.traceErr = msg.err
			if msg.err == nil {
				t.trace = &msg.t
			}
		}
		return nil
	case tracesTickMsg:
		if msg.tab != t {
			return nil
		}
		if t.open != "" {
			return tea.Batch(t.fetchList(), t.fetchTrace(t.open))
		}
		return t.fetchList()
	case tea.KeyMsg:
		return t.key(msg)
	}
	return nil
}

// setList takes a new list, keeping the selected trace selected while
// newer ones arrive above it.
func (t *tracesTab) setList(msg tracesListMsg) {
	t.read, t.listErr = true, msg.err
	if msg.err != nil {
		return
	}
	var selected string
	if t.cursor < len(t.list) {
		selected = t.list[t.cursor].TraceID
	}
	t.list, t.listAt = msg.list, msg.at
	t.cursor = min(t.cursor, max(len(t.list)-1, 0))
	for i, s := range t.list {
		if s.TraceID == selected {
			t.cursor = i
		}
	}
	t.clampList()
}

func (t *tracesTab) key(msg tea.KeyMsg) tea.Cmd {
	k := t.c.keys
	if t.open != "" {
		page := max(t.height-1, 1)
		switch {
		case key.Matches(msg, k.Back), msg.Type == tea.KeyBackspace:
			t.open, t.trace, t.traceErr, t.scroll = "", nil, nil, 0
		case key.Matches(msg, k.Up):
			t.scroll = max(t.scroll-1, 0)
		case key.Matches(msg, k.Down):
			t.scroll++
		case key.Matches(msg, k.PageUp):
			t.scroll = max(t.scroll-page, 0)
		case key.Matches(msg, k.PageDown):
			t.scroll += page
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Up):
		t.cursor = max(t.cursor-1, 0)
	case key.Matches(msg, k.Down):
		t.cursor = min(t.cursor+1, max(len(t.list)-1, 0))
	case key.Matches(msg, k.PageUp):
		t.cursor = max(t.cursor-t.rows(), 0)
	case key.Matches(msg, k.PageDown):
		t.cursor = min(t.cursor+t.rows(), max(len(t.list)-1, 0))
	case key.Matches(msg, k.Enter) && t.cursor < len(t.list):
		t.open, t.trace, t.traceErr, t.scroll = t.list[t.cursor].TraceID, nil, nil, 0
		return t.fetchTrace(t.open)
	}
	t.clampList()
	return nil
}

// rows is how many traces fit under the status line and the table's head.
func (t *tracesTab) rows() int { return max(t.height-2, 1) }

// clampList scrolls the list so that the cursor is shown.
func (t *tracesTab) clampList() {
	n := t.rows()
	if t.cursor < t.top {
		t.top = t.cursor
	}
	if t.cursor >= t.top+n {
		t.top = t.cursor - n + 1
	}
	t.top = max(min(t.top, len(t.list)-n), 0)
}

func (t *tracesTab) style(color bool) trace.Style {
	return trace.Style{Width: t.width, Color: color}
}

func (t *tracesTab) color() bool {
	return t.c.r.ColorProfile() != termenv.Ascii
}

func (t *tracesTab) View() string {
	if t.open != "" {
		return t.viewTrace()
	}
	var status string
	switch {
	case t.listErr != nil:
		status = t.c.bad.Render("cannot read the trace collector: " + termtext.Line(t.listErr.Error()))
	case !t.read:
		status = t.c.dim.Render("reading the trace collector…")
	default:
		status = t.c.dim.Render(fmt.Sprintf("the %d most recent traces, read every %s", len(t.list), t.refresh))
	}
	if len(t.list) == 0 {
		if t.read && t.listErr == nil {
			return status + "\n" + strings.TrimRight(trace.List(nil, trace.Style{}), "\n")
		}
		return status
	}
	st := t.style(t.color())
	st.Width = max(t.width-2, 1) // the cursor's column
	st.Now = t.listAt
	// IDs as log lines show them, so that the routes have the room; the
	// waterfall's head shows the whole ID.
	shown := make([]trace.Summary, len(t.list))
	for i, s := range t.list {
		shown[i] = s
		shown[i].TraceID = s.TraceID[:min(len(s.TraceID), logs.ShortTraceID)]
	}
	lines := strings.Split(strings.TrimRight(trace.List(shown, st), "\n"), "\n")
	plain := lines
	if st.Color {
		st.Color = false
		plain = strings.Split(strings.TrimRight(trace.List(shown, st), "\n"), "\n")
	}
	out := []string{status, "  " + lines[0]}
	for i := t.top; i < len(t.list) && i < t.top+t.rows(); i++ {
		if i == t.cursor {
			out = append(out, t.c.sel.Render("> "+plain[i+1]))
		} else {
			out = append(out, "  "+lines[i+1])
		}
	}
	return strings.Join(out, "\n")
}

// viewTrace draws the open trace's waterfall, then the log lines of that
// trace among those the dashboard holds, scrolled.
func (t *tracesTab) viewTrace() string {
	var lines []string
	switch {
	case t.trace != nil:
		// Narrower than the tab, so that the bars leave room for the
		// status and key attributes on the right.
		st := t.style(t.color())
		st.Width = t.width * 2 / 3
		lines = strings.Split(strings.TrimRight(trace.Waterfall(*t.trace, st), "\n"), "\n")
		if t.proj != nil {
			lines = append(lines, "")
			lines = append(lines, t.logLines()...)
		}
	case t.traceErr != nil:
		lines = []string{t.c.bad.Render("cannot read trace " + t.open + ": " + termtext.Line(t.traceErr.Error()))}
	default:
		lines = []string{t.c.dim.Render("reading trace " + t.open + "…")}
	}
	t.scroll = max(min(t.scroll, len(lines)-t.height), 0)
	end := min(t.scroll+t.height, len(lines))
	return strings.Join(lines[t.scroll:end], "\n")
}

// logLines are the lines of the open trace among those the dashboard
// holds, rendered as msx logs renders them.
func (t *tracesTab) logLines() []string {
	// A slog line has the whole ID in its trace_id, a rendered one its
	// first digits: both have these.
	short := t.open[:min(len(t.open), logs.ShortTraceID)]
	filter := logs.Filter{TraceID: t.open}
	var r logs.Renderer
	var rec logs.Record
	var out []string
	for _, l := range t.proj.Tail("", short, 0, 0, RingLines) {
		if l.Service == "" || l.Kind == model.Note || l.Kind == model.BuildError {
			continue
		}
		if r.Parse([]byte(l.Text), &rec) {
			if !filter.Keep(&r, []byte(l.Text)) {
				continue
			}
		} else if !strings.Contains(l.Text, "trace="+short) {
			continue
		}
		out = append(out, t.c.bold.Render(l.Service)+t.c.dim.Render(" | ")+logs.Render(l.Text, t.color()))
	}
	if len(out) == 0 {
		return []string{t.c.dim.Render("no log lines of this trace in the dashboard's buffers")}
	}
	return append([]string{t.c.dim.Render("log lines of this trace:")}, out...)
}

func (t *tracesTab) Keys() []key.Binding {
	k := t.c.keys
	if t.open != "" {
		return []key.Binding{
			key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "scroll")), k.PageUp,
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "list")),
		}
	}
	return []key.Binding{
		key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "select")),
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "waterfall")),
	}
}
