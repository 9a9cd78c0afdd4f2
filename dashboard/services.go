package dashboard

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/msx-dev/msx/dashboard/model"
)

// servicesPage is the first tab: the table of services, the selected
// service's problem (compiler errors, crash), and the log pane.
type servicesPage struct {
	c    *common
	proj *model.Project
	ctrl Controller

	width, height int
	sel           int    // selected row of the table (of the services the filter leaves)
	selName       string // the service selected, kept when the rows change
	top           int    // first row of the table's window
	follow        string // service whose logs the pane shows; "" for all
	paused        bool
	anchor        uint64 // newest line shown while paused or scrolled; 0 follows
	scroll        int    // matching lines skipped back from the anchor
	filter        string
	filtering     bool
	input         textinput.Model
}

var (
	_ Tab      = (*servicesPage)(nil)
	_ Capturer = (*servicesPage)(nil)
)

func newServicesPage(c *common, proj *model.Project, ctrl Controller) *servicesPage {
	in := textinput.New()
	in.Prompt = "/"
	in.PromptStyle = c.r.NewStyle()
	in.TextStyle = c.r.NewStyle()
	in.PlaceholderStyle = c.dim
	in.Cursor.Style = c.r.NewStyle().Reverse(true)
	in.Cursor.TextStyle = c.r.NewStyle()
	return &servicesPage{c: c, proj: proj, ctrl: ctrl, input: in}
}

func (p *servicesPage) Title() string { return "services" }

func (p *servicesPage) Init() tea.Cmd { return nil }

func (p *servicesPage) SetSize(w, h int) { p.width, p.height = w, h }

// CapturesKeys is true while the filter is typed: every key is text.
func (p *servicesPage) CapturesKeys() bool { return p.filtering }

func (p *servicesPage) Keys() []key.Binding {
	k := p.c.keys
	if p.filtering {
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		}
	}
	up := key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "select"))
	return []key.Binding{up, k.Enter, k.Restart, k.Rebuild, k.Filter, k.Pause}
}

func (p *servicesPage) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		if p.filtering { // the cursor's blink
			var cmd tea.Cmd
			p.input, cmd = p.input.Update(msg)
			return cmd
		}
		return nil
	}
	if p.filtering {
		switch km.String() {
		case "enter":
			p.filtering = false
			p.input.Blur()
		case "esc":
			p.filtering = false
			p.input.Blur()
			p.input.Reset()
			p.filter = ""
		default:
			var cmd tea.Cmd
			p.input, cmd = p.input.Update(km)
			p.filter = p.input.Value()
			p.scroll = 0
			return cmd
		}
		return nil
	}
	k := p.c.keys
	switch {
	case key.Matches(km, k.Up):
		p.rows()
		p.choose(p.sel - 1)
	case key.Matches(km, k.Down):
		p.rows()
		p.choose(p.sel + 1)
	case key.Matches(km, k.Enter):
		if s := p.selected(); s != "" && p.follow != s {
			p.follow = s
		} else {
			p.follow = ""
		}
		p.scroll = 0
	case key.Matches(km, k.Back):
		if p.filter != "" {
			p.filter = ""
			p.input.Reset()
		} else {
			p.follow = ""
		}
		p.scroll = 0
	case key.Matches(km, k.Restart):
		return p.call(func(c Controller, s string) { c.Restart(s) })
	case key.Matches(km, k.Rebuild):
		return p.call(func(c Controller, s string) { c.Rebuild(s) })
	case key.Matches(km, k.Filter):
		p.filtering = true
		p.input.SetValue(p.filter)
		p.input.CursorEnd()
		return p.input.Focus()
	case key.Matches(km, k.Pause):
		p.paused = !p.paused
		p.scroll = 0
		p.anchor = 0
		if p.paused {
			p.anchor = p.proj.LastSeq()
		}
	case key.Matches(km, k.PageUp):
		if p.anchor == 0 {
			p.anchor = p.proj.LastSeq() // scrolling holds the view still
		}
		_, logs := p.layout()
		p.scroll += max(1, logs/2)
		// Never scroll past the oldest line held.
		if got := len(p.proj.Tail(p.follow, p.filter, p.anchor, p.scroll, logs)); got < logs {
			p.scroll = max(0, p.scroll-(logs-got))
		}
	case key.Matches(km, k.PageDown):
		_, logs := p.layout()
		p.scroll = max(0, p.scroll-max(1, logs/2))
		if p.scroll == 0 && !p.paused {
			p.anchor = 0
		}
	case key.Matches(km, k.Follow):
		p.paused, p.anchor, p.scroll = false, 0, 0
	}
	return nil
}

func (p *servicesPage) selected() string {
	services := p.rows()
	if p.sel < 0 || p.sel >= len(services) {
		return ""
	}
	return services[p.sel].Name
}

// rows are the services the table lists: those the filter narrows to (by
// name, or by a log line the pane shows), all without one. The selection
// stays on the same service while it is listed.
func (p *servicesPage) rows() []*model.Service {
	services := p.proj.Matching(p.filter)
	if p.sel < len(services) && services[p.sel].Name == p.selName {
		return services
	}
	for i, s := range services {
		if s.Name == p.selName {
			p.sel = i
			return services
		}
	}
	p.sel = max(0, min(p.sel, len(services)-1))
	if p.sel < len(services) {
		p.selName = services[p.sel].Name
	}
	return services
}

// choose selects row i of the table, kept within it.
func (p *servicesPage) choose(i int) {
	services := p.proj.Matching(p.filter)
	p.sel = max(0, min(i, len(services)-1))
	if p.sel < len(services) {
		p.selName = services[p.sel].Name
	}
}

// call runs a controller method in a command: the session may take a
// moment, and Update must never wait.
func (p *servicesPage) call(f func(Controller, string)) tea.Cmd {
	s, c := p.selected(), p.ctrl
	if s == "" || c == nil {
		return nil
	}
	return func() tea.Msg { f(c, s); return nil }
}

// layout splits the page: rows of the table (with its header) and lines
// of the log pane; what remains goes to the problem box. A table longer
// than the page leaves (50 services on 24 lines) takes half of it and
// scrolls, so that the log pane stays readable.
func (p *servicesPage) layout() (table, logs int) {
	n := len(p.rows()) + 1
	limit := p.height - 6
	if n > limit {
		limit = max(4, p.height/2)
	}
	table = max(1, min(n, limit))
	logs = p.height - table - 1 - p.problemLines(p.height-table-1) // 1: the pane's title
	return table, max(0, logs)
}

func (p *servicesPage) View() string {
	table, logs := p.layout()
	out := p.table(table)
	out = append(out, p.problems(p.height-table-1-logs)...)
	out = append(out, p.logTitle(table))
	out = append(out, p.logLines(logs)...)
	return strings.Join(out, "\n")
}

// nameWidth is the width of the service column, shared by the table and
// the log pane's prefixes so they line up.
func (p *servicesPage) nameWidth() int {
	w := 7
	for _, s := range p.proj.Services() { // all, so that filtering keeps the columns still
		w = max(w, ansi.StringWidth(s.Name))
	}
	return min(w, 24)
}

func (p *servicesPage) table(rows int) []string {
	nw := p.nameWidth()
	out := []string{p.c.dim.Render(fmt.Sprintf("  %-*s  %-9s  %-18s  %8s  %6s  %8s  %5s",
		nw, "SERVICE", "STATE", "LAST BUILD", "RESTARTS", "CPU", "MEM", "PORT"))}
	services := p.rows()
	first := p.window(rows-1, len(services))
	for i := first; i < len(services) && len(out) < rows; i++ {
		s := services[i]
		marker, name := "  ", fmt.Sprintf("%-*s", nw, ansi.Truncate(s.Name, nw, "…"))
		if i == p.sel {
			marker, name = "> ", p.c.sel.Render(name)
		}
		st := s.State()
		state := p.c.states[st].Render(fmt.Sprintf("%-9s", st))
		build := fmt.Sprintf("%-18s", "-")
		if s.Build.Done {
			switch {
			case s.Build.OK && s.Build.Duration == 0:
				// Nothing to compile: the image is of the sources as they are.
				build = fmt.Sprintf("%-18s", "up to date")
			case s.Build.OK:
				build = fmt.Sprintf("%-18s", "ok "+model.Seconds(s.Build.Duration)+" "+s.Build.Time.Format("15:04:05"))
			default:
				build = p.c.bad.Render(fmt.Sprintf("%-18s", "FAILED "+s.Build.Time.Format("15:04:05")))
			}
		}
		cpu, mem := "-", "-"
		if s.HasStats {
			cpu, mem = fmt.Sprintf("%.1f%%", s.CPU), sizeOf(s.Memory)
		}
		port := "-"
		if s.Port != 0 {
			port = strconv.Itoa(s.Port)
		}
		out = append(out, fmt.Sprintf("%s%s  %s  %s  %8d  %6s  %8s  %5s", marker, name, state, build, s.Restarts, cpu, mem, port))
	}
	return out
}

// window returns the first row shown when vis rows of n fit: it moves only
// as far as keeps the selected row in view, and never leaves rows empty
// that could be filled (after a resize, or a filter that lists fewer).
func (p *servicesPage) window(vis, n int) int {
	if vis <= 0 {
		return 0
	}
	if p.sel < p.top {
		p.top = p.sel
	}
	if p.sel >= p.top+vis {
		p.top = p.sel - vis + 1
	}
	p.top = max(0, min(p.top, n-vis))
	return p.top
}

// position says which services the table shows when it shows fewer than
// all: "services 10-18 of 52", "3 of 52 services match", "" when all fit.
func (p *servicesPage) position(rows int) string {
	n, all := len(p.rows()), len(p.proj.Services())
	vis := max(0, rows-1)
	var where string
	if n > vis {
		first := p.window(vis, n)
		where = fmt.Sprintf("%d-%d of ", first+1, first+vis)
		if vis == 0 {
			where = ""
		}
	}
	switch {
	case p.filter != "" && where != "":
		return fmt.Sprintf("services %s%d match (of %d)", where, n, all)
	case p.filter != "":
		return fmt.Sprintf("%d of %d services match", n, all)
	case where != "":
		return fmt.Sprintf("services %s%d", where, n)
	}
	return ""
}

// problemLines is how many lines the selected service's problem box takes
// when room allows: the compiler's errors of a failed build, or the last
// lines of a crash. It leaves at least half of room to the logs.
func (p *servicesPage) problemLines(room int) int {
	s := p.proj.Service(p.selected())
	if s == nil {
		return 0
	}
	var n int
	switch {
	case s.Build.Done && !s.Build.OK:
		n = 1 + len(s.Build.Errors)
	case s.Runtime == model.Crashed:
		n = 1 + len(s.Output)
	default:
		return 0
	}
	return max(0, min(n, 7, room/2))
}

func (p *servicesPage) problems(n int) []string {
	if n <= 0 {
		return nil
	}
	s := p.proj.Service(p.selected())
	var title string
	var body []string
	if s.Build.Done && !s.Build.OK {
		title = fmt.Sprintf("%s: build failed at %s; the previous version keeps running", s.Name, s.Build.Time.Format("15:04:05"))
		body = s.Build.Errors
	} else {
		title = fmt.Sprintf("%s: crashed with exit code %d; last lines:", s.Name, s.ExitCode)
		body = s.Output
	}
	out := []string{p.c.bad.Render(title)}
	for i, l := range body {
		if len(out) == n-1 && len(body)-i > 1 {
			out = append(out, p.c.dim.Render(fmt.Sprintf("  … %d more in the log pane", len(body)-i)))
			break
		}
		if len(out) == n {
			break
		}
		out = append(out, "  "+p.c.bad.Render(l))
	}
	return out
}

func (p *servicesPage) logTitle(table int) string {
	t := ""
	if pos := p.position(table); pos != "" {
		t = "── " + pos + " "
	}
	t += "── logs: all "
	if p.follow != "" {
		t = strings.TrimSuffix(t, "── logs: all ") + "── logs: " + p.follow + " "
	}
	if p.filtering {
		return p.c.dim.Render(t+"── filter ") + p.input.View()
	}
	if p.filter != "" {
		t += "── filter: " + p.filter + " "
	}
	switch {
	case p.paused:
		t += "── paused (p resumes) "
	case p.scroll > 0:
		t += fmt.Sprintf("── %d lines up (end follows) ", p.scroll)
	}
	if w := ansi.StringWidth(t); w < p.width {
		t += strings.Repeat("─", p.width-w)
	}
	return p.c.dim.Render(t)
}

func (p *servicesPage) logLines(n int) []string {
	lines := p.proj.Tail(p.follow, p.filter, p.anchor, p.scroll, n)
	nw := p.nameWidth()
	index := map[string]int{}
	for i, s := range p.proj.Services() {
		index[s.Name] = i
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		var prefix string
		if p.follow == "" {
			name, style := "msx", p.c.dim
			if l.Service != "" && p.proj.Service(l.Service) != nil {
				name, style = l.Service, p.c.palette[index[l.Service]%len(p.c.palette)]
			}
			prefix = style.Render(fmt.Sprintf("%-*s", nw, ansi.Truncate(name, nw, "…"))) + p.c.dim.Render(" | ")
		}
		room := max(0, p.width-ansi.StringWidth(prefix))
		var text string
		switch l.Kind {
		case model.Note:
			text = p.c.note.Render(ansi.Truncate("msx: "+l.Text, room, "…"))
		case model.BuildError:
			text = p.c.bad.Render(ansi.Truncate(l.Text, room, "…"))
		default:
			text = ansi.Truncate(l.Text, room, "…")
		}
		out = append(out, prefix+text)
	}
	return out
}

func sizeOf(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	f, suffix := float64(n), []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for f >= unit && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f%s", f, suffix[i])
}
