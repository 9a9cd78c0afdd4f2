package dashboard

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/msx-dev/msx/dashboard/model"
)

// ui is the bubbletea model: the project state plus what the user chose to
// look at. It is a pointer model, so View can return the last frame when
// nothing changed instead of drawing it again.
type ui struct {
	c       *common
	proj    *model.Project
	ctrl    Controller
	name    string
	gateway string
	tabs    []Tab
	wait    tea.Cmd // brings the next batch of events; nil in tests

	width, height int
	active        int    // 0: services page; i: tabs[i-1]
	sel           int    // selected row of the table
	follow        string // service whose logs the pane shows; "" for all
	paused        bool
	anchor        uint64 // newest line shown while paused or scrolled; 0 follows
	scroll        int    // matching lines skipped back from the anchor
	filter        string
	filtering     bool
	input         textinput.Model
	help          help.Model
	showHelp      bool

	frame string // the last View, reused while clean
	dirty bool
}

func newUI(opts Options, c *common, proj *model.Project) *ui {
	in := textinput.New()
	in.Prompt = "/"
	in.PromptStyle = c.r.NewStyle()
	in.TextStyle = c.r.NewStyle()
	in.PlaceholderStyle = c.dim
	in.Cursor.Style = c.r.NewStyle().Reverse(true)
	in.Cursor.TextStyle = c.r.NewStyle()
	h := help.New()
	h.Styles = help.Styles{
		ShortKey: c.bold, ShortDesc: c.dim, ShortSeparator: c.dim, Ellipsis: c.dim,
		FullKey: c.bold, FullDesc: c.dim, FullSeparator: c.dim,
	}
	return &ui{
		c: c, proj: proj, ctrl: opts.Controller, name: opts.Project, gateway: opts.GatewayURL,
		tabs: opts.Tabs, width: 80, height: 24, input: in, help: h, dirty: true,
	}
}

func (m *ui) Init() tea.Cmd {
	cmds := []tea.Cmd{m.wait}
	for _, t := range m.tabs {
		cmds = append(cmds, t.Init())
	}
	return tea.Batch(cmds...)
}

func (m *ui) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case batchMsg:
		for _, e := range msg {
			m.proj.Apply(e)
		}
		m.dirty = true
		return m, m.wait
	case failMsg:
		return m, tea.Quit
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		for _, t := range m.tabs {
			t.SetSize(msg.Width, max(0, msg.Height-3))
		}
		m.dirty = true
		return m, nil
	case tea.KeyMsg:
		m.dirty = true
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			// Keys typed faster than they are read arrive as one message
			// ("/zzz"); each is its own key, and a / among them starts a
			// filter that takes the rest.
			var cmds []tea.Cmd
			for _, r := range msg.Runes {
				cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
			}
			return m, tea.Batch(cmds...)
		}
		return m, m.key(msg)
	}
	// Anything else belongs to a tab (its own data) or the input's cursor.
	var cmds []tea.Cmd
	for _, t := range m.tabs {
		cmds = append(cmds, t.Update(msg))
	}
	if m.filtering {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		cmds = append(cmds, cmd)
	}
	m.dirty = true
	return m, tea.Batch(cmds...)
}

func (m *ui) key(msg tea.KeyMsg) tea.Cmd {
	k := m.c.keys
	if m.filtering {
		switch msg.String() {
		case "ctrl+c":
			return m.quit()
		case "enter":
			m.filtering = false
			m.input.Blur()
		case "esc":
			m.filtering = false
			m.input.Blur()
			m.input.Reset()
			m.filter = ""
		default:
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			m.filter = m.input.Value()
			m.scroll = 0
			return cmd
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.showHelp = !m.showHelp
		return nil
	case key.Matches(msg, k.NextTab):
		m.active = (m.active + 1) % (len(m.tabs) + 1)
		return nil
	case key.Matches(msg, k.PrevTab):
		m.active = (m.active + len(m.tabs)) % (len(m.tabs) + 1)
		return nil
	}
	if s := msg.String(); len(s) == 1 && s[0] >= '1' && s[0] <= '9' {
		if i := int(s[0] - '1'); i <= len(m.tabs) {
			m.active = i
			return nil
		}
	}
	if m.active > 0 {
		return m.tabs[m.active-1].Update(msg)
	}
	services := m.proj.Services()
	switch {
	case key.Matches(msg, k.Up):
		m.sel = max(0, m.sel-1)
	case key.Matches(msg, k.Down):
		m.sel = max(0, min(len(services)-1, m.sel+1))
	case key.Matches(msg, k.Enter):
		if s := m.selected(); s != "" && m.follow != s {
			m.follow = s
		} else {
			m.follow = ""
		}
		m.scroll = 0
	case key.Matches(msg, k.Back):
		if m.filter != "" {
			m.filter = ""
			m.input.Reset()
		} else {
			m.follow = ""
		}
		m.scroll = 0
	case key.Matches(msg, k.Restart):
		return m.call(func(c Controller, s string) { c.Restart(s) })
	case key.Matches(msg, k.Rebuild):
		return m.call(func(c Controller, s string) { c.Rebuild(s) })
	case key.Matches(msg, k.Filter):
		m.filtering = true
		m.input.SetValue(m.filter)
		m.input.CursorEnd()
		return m.input.Focus()
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		m.scroll = 0
		m.anchor = 0
		if m.paused {
			m.anchor = m.proj.LastSeq()
		}
	case key.Matches(msg, k.PageUp):
		if m.anchor == 0 {
			m.anchor = m.proj.LastSeq() // scrolling holds the view still
		}
		_, logs := m.layout()
		m.scroll += max(1, logs/2)
		// Never scroll past the oldest line held.
		if got := len(m.proj.Tail(m.follow, m.filter, m.anchor, m.scroll, logs)); got < logs {
			m.scroll = max(0, m.scroll-(logs-got))
		}
	case key.Matches(msg, k.PageDown):
		_, logs := m.layout()
		m.scroll = max(0, m.scroll-max(1, logs/2))
		if m.scroll == 0 && !m.paused {
			m.anchor = 0
		}
	case key.Matches(msg, k.Follow):
		m.paused, m.anchor, m.scroll = false, 0, 0
	}
	return nil
}

func (m *ui) selected() string {
	services := m.proj.Services()
	if m.sel < 0 || m.sel >= len(services) {
		return ""
	}
	return services[m.sel].Name
}

// call runs a controller method in a command: the session may take a
// moment, and Update must never wait.
func (m *ui) call(f func(Controller, string)) tea.Cmd {
	s, c := m.selected(), m.ctrl
	if s == "" || c == nil {
		return nil
	}
	return func() tea.Msg { f(c, s); return nil }
}

func (m *ui) quit() tea.Cmd {
	c := m.ctrl
	if c == nil {
		return tea.Quit
	}
	return func() tea.Msg { c.Quit(); return tea.QuitMsg{} }
}

// layout splits the services page: rows of the table (with its header) and
// lines of the log pane; what remains goes to the problem box.
func (m *ui) layout() (table, logs int) {
	body := m.height - 3 // header, tab bar, help line
	n := len(m.proj.Services()) + 1
	table = max(1, min(n, body-6))
	logs = body - table - 1 - m.problemLines(body-table-1) // 1: the pane's title
	return table, max(0, logs)
}

func (m *ui) View() string {
	if !m.dirty && m.frame != "" {
		return m.frame
	}
	m.dirty = false
	lines := make([]string, 0, m.height)
	lines = append(lines, m.header(), m.tabBar())
	switch {
	case m.showHelp:
		h := m.help
		h.ShowAll = true
		lines = append(lines, "")
		lines = append(lines, strings.Split(h.View(m.c.keys), "\n")...)
	case m.active > 0:
		lines = append(lines, strings.Split(m.tabs[m.active-1].View(), "\n")...)
	default:
		lines = append(lines, m.services()...)
	}
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	lines = lines[:max(0, m.height-1)]
	lines = append(lines, m.footer())
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, m.width, "")
	}
	m.frame = strings.Join(lines, "\n")
	return m.frame
}

func (m *ui) header() string {
	ready, building, failing := m.proj.Summary()
	left := m.c.title.Render("msx "+m.name) + "  " + m.gateway
	counts := fmt.Sprintf("%d ready  %d building  ", ready, building)
	f := fmt.Sprintf("%d failing", failing)
	if failing > 0 {
		f = m.c.bad.Render(f)
	}
	right := counts + f
	gap := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if gap < 2 {
		return left + "  " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *ui) tabBar() string {
	titles := []string{"services"}
	for _, t := range m.tabs {
		titles = append(titles, t.Title())
	}
	var b strings.Builder
	for i, t := range titles {
		label := strconv.Itoa(i+1) + " " + t
		if i == m.active {
			b.WriteString(m.c.tabOn.Render("[" + label + "]"))
		} else {
			b.WriteString(m.c.tab.Render(" " + label + " "))
		}
		b.WriteString(" ")
	}
	if n := m.proj.Notice; n != "" {
		b.WriteString(" " + m.c.dim.Render(n))
	}
	return b.String()
}

func (m *ui) footer() string {
	if m.filtering {
		return m.input.View()
	}
	if m.active > 0 {
		k := m.c.keys
		return m.help.ShortHelpView(append(m.tabs[m.active-1].Keys(), k.NextTab, k.Help, k.Quit))
	}
	return m.help.ShortHelpView(m.c.keys.ShortHelp())
}

// nameWidth is the width of the service column, shared by the table and
// the log pane's prefixes so they line up.
func (m *ui) nameWidth() int {
	w := 7
	for _, s := range m.proj.Services() {
		w = max(w, ansi.StringWidth(s.Name))
	}
	return min(w, 24)
}

func (m *ui) services() []string {
	table, logs := m.layout()
	out := m.table(table)
	out = append(out, m.problems(m.height-3-table-1-logs)...)
	out = append(out, m.logTitle())
	return append(out, m.logLines(logs)...)
}

func (m *ui) table(rows int) []string {
	nw := m.nameWidth()
	out := []string{m.c.dim.Render(fmt.Sprintf("  %-*s  %-9s  %-18s  %8s  %6s  %8s  %5s",
		nw, "SERVICE", "STATE", "LAST BUILD", "RESTARTS", "CPU", "MEM", "PORT"))}
	services := m.proj.Services()
	// Keep the selected row in the window when the table does not fit.
	first := 0
	if vis := rows - 1; vis > 0 && m.sel >= vis {
		first = m.sel - vis + 1
	}
	for i := first; i < len(services) && len(out) < rows; i++ {
		s := services[i]
		marker, name := "  ", fmt.Sprintf("%-*s", nw, ansi.Truncate(s.Name, nw, "…"))
		if i == m.sel {
			marker, name = "> ", m.c.sel.Render(name)
		}
		st := s.State()
		state := m.c.states[st].Render(fmt.Sprintf("%-9s", st))
		build := fmt.Sprintf("%-18s", "-")
		if s.Build.Done {
			if s.Build.OK {
				build = fmt.Sprintf("%-18s", "ok "+model.Seconds(s.Build.Duration)+" "+s.Build.Time.Format("15:04:05"))
			} else {
				build = m.c.bad.Render(fmt.Sprintf("%-18s", "FAILED "+s.Build.Time.Format("15:04:05")))
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

// problemLines is how many lines the selected service's problem box takes
// when room allows: the compiler's errors of a failed build, or the last
// lines of a crash. It leaves at least half of room to the logs.
func (m *ui) problemLines(room int) int {
	s := m.proj.Service(m.selected())
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

func (m *ui) problems(n int) []string {
	if n <= 0 {
		return nil
	}
	s := m.proj.Service(m.selected())
	var title string
	var body []string
	if s.Build.Done && !s.Build.OK {
		title = fmt.Sprintf("%s: build failed at %s; the previous version keeps running", s.Name, s.Build.Time.Format("15:04:05"))
		body = s.Build.Errors
	} else {
		title = fmt.Sprintf("%s: crashed with exit code %d; last lines:", s.Name, s.ExitCode)
		body = s.Output
	}
	out := []string{m.c.bad.Render(title)}
	for i, l := range body {
		if len(out) == n-1 && len(body)-i > 1 {
			out = append(out, m.c.dim.Render(fmt.Sprintf("  … %d more in the log pane", len(body)-i)))
			break
		}
		if len(out) == n {
			break
		}
		out = append(out, "  "+m.c.bad.Render(l))
	}
	return out
}

func (m *ui) logTitle() string {
	t := "── logs: all "
	if m.follow != "" {
		t = "── logs: " + m.follow + " "
	}
	if m.filter != "" {
		t += "── filter: " + m.filter + " "
	}
	switch {
	case m.paused:
		t += "── paused (p resumes) "
	case m.scroll > 0:
		t += fmt.Sprintf("── %d lines up (end follows) ", m.scroll)
	}
	if w := ansi.StringWidth(t); w < m.width {
		t += strings.Repeat("─", m.width-w)
	}
	return m.c.dim.Render(t)
}

func (m *ui) logLines(n int) []string {
	lines := m.proj.Tail(m.follow, m.filter, m.anchor, m.scroll, n)
	nw := m.nameWidth()
	index := map[string]int{}
	for i, s := range m.proj.Services() {
		index[s.Name] = i
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		var prefix string
		if m.follow == "" {
			name, style := "msx", m.c.dim
			if l.Service != "" {
				name, style = l.Service, m.c.palette[index[l.Service]%len(m.c.palette)]
			}
			prefix = style.Render(fmt.Sprintf("%-*s", nw, ansi.Truncate(name, nw, "…"))) + m.c.dim.Render(" | ")
		}
		room := max(0, m.width-ansi.StringWidth(prefix))
		var text string
		switch l.Kind {
		case model.Note:
			text = m.c.note.Render(ansi.Truncate("msx: "+l.Text, room, "…"))
		case model.BuildError:
			text = m.c.bad.Render(ansi.Truncate(l.Text, room, "…"))
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
