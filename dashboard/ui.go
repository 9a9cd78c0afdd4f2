package dashboard

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/msx-dev/msx/dashboard/model"
)

// ui is the bubbletea model: the frame (header, tab bar, help line) around
// the active tab, the first being the services page. It is a pointer
// model, so View can return the last frame when nothing changed instead of
// drawing it again.
type ui struct {
	c       *common
	proj    *model.Project
	ctrl    Controller
	name    string
	gateway string
	tabs    []Tab   // tabs[0] is the services page
	wait    tea.Cmd // brings the next batch of events; nil in tests

	width, height int
	active        int
	help          help.Model
	showHelp      bool

	frame string // the last View, reused while clean
	dirty bool
}

func newUI(opts Options, c *common, proj *model.Project) *ui {
	h := help.New()
	h.Styles = help.Styles{
		ShortKey: c.bold, ShortDesc: c.dim, ShortSeparator: c.dim, Ellipsis: c.dim,
		FullKey: c.bold, FullDesc: c.dim, FullSeparator: c.dim,
	}
	m := &ui{
		c: c, proj: proj, ctrl: opts.Controller, name: opts.Project, gateway: opts.GatewayURL,
		tabs: append([]Tab{newServicesPage(c, proj, opts.Controller)}, opts.Tabs...),
		help: h, dirty: true,
	}
	for _, t := range m.tabs {
		if a, ok := t.(attacher); ok {
			a.attach(c, proj)
		}
	}
	c.keys.Tabs.SetHelp(fmt.Sprintf("1-%d", min(len(m.tabs), 9)), "tab by number")
	c.keys.Tabs.SetEnabled(len(m.tabs) > 1)
	m.resize(80, 24) // until the terminal says its size
	return m
}

// attacher is a tab of this package that draws with the dashboard's styles
// or reads its log lines (the traces tab): newUI hands them over.
type attacher interface {
	attach(c *common, proj *model.Project)
}

func (m *ui) resize(w, h int) {
	m.width, m.height = w, h
	m.help.Width = w
	for _, t := range m.tabs {
		t.SetSize(w, max(0, h-3)) // header, tab bar, help line
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
	m.dirty = true
	switch msg := msg.(type) {
	case batchMsg:
		for _, e := range msg {
			m.proj.Apply(e)
		}
		return m, m.wait
	case failMsg:
		return m, tea.Quit
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case tea.KeyMsg:
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
	// Anything else is a tab's own message (its data, a cursor's blink).
	var cmds []tea.Cmd
	for _, t := range m.tabs {
		cmds = append(cmds, t.Update(msg))
	}
	return m, tea.Batch(cmds...)
}

func (m *ui) key(msg tea.KeyMsg) tea.Cmd {
	tab := m.tabs[m.active]
	if c, ok := tab.(Capturer); ok && c.CapturesKeys() {
		if msg.Type == tea.KeyCtrlC {
			return m.quit()
		}
		return tab.Update(msg)
	}
	k := m.c.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.showHelp = !m.showHelp
		return nil
	case key.Matches(msg, k.NextTab):
		m.active = (m.active + 1) % len(m.tabs)
		return nil
	case key.Matches(msg, k.PrevTab):
		m.active = (m.active + len(m.tabs) - 1) % len(m.tabs)
		return nil
	}
	if s := msg.String(); len(s) == 1 && s[0] >= '1' && s[0] <= '9' {
		if i := int(s[0] - '1'); i < len(m.tabs) {
			m.active = i
			return nil
		}
	}
	return tab.Update(msg)
}

func (m *ui) quit() tea.Cmd {
	c := m.ctrl
	if c == nil {
		return tea.Quit
	}
	return func() tea.Msg { c.Quit(); return tea.QuitMsg{} }
}

func (m *ui) View() string {
	if !m.dirty && m.frame != "" {
		return m.frame
	}
	m.dirty = false
	lines := make([]string, 0, m.height)
	lines = append(lines, m.header(), m.tabBar())
	if m.showHelp {
		h := m.help
		h.ShowAll = true
		lines = append(lines, "")
		lines = append(lines, strings.Split(h.View(m.c.keys), "\n")...)
	} else {
		lines = append(lines, strings.Split(m.tabs[m.active].View(), "\n")...)
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
	f := fmt.Sprintf("%d failing", failing)
	if failing > 0 {
		f = m.c.bad.Render(f)
	}
	// Ready out of every row, whatever the table shows (scrolled, filtered).
	right := fmt.Sprintf("%d/%d ready  %d building  ", ready, len(m.proj.Services()), building) + f
	gap := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if gap < 2 {
		return left + "  " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *ui) tabBar() string {
	var b strings.Builder
	for i, t := range m.tabs {
		label := strconv.Itoa(i+1) + " " + t.Title()
		if i == m.active {
			b.WriteString(m.c.tabOn.Render("[" + label + "]"))
		} else {
			b.WriteString(m.c.tab.Render(" " + label + " "))
		}
		b.WriteString(" ")
	}
	if n := m.proj.Notice; n != "" {
		// What does not fit is cut with an ellipsis, never silently: the
		// whole notice is in the logs tab.
		if room := m.width - ansi.StringWidth(b.String()) - 1; m.width > 0 && ansi.StringWidth(n) > room {
			n = ansi.Truncate(n, max(room, 1), "…")
		}
		b.WriteString(" " + m.c.dim.Render(n))
	}
	return b.String()
}

func (m *ui) footer() string {
	tab := m.tabs[m.active]
	keys := tab.Keys()
	if c, ok := tab.(Capturer); !ok || !c.CapturesKeys() {
		k := m.c.keys
		if len(m.tabs) > 1 && m.active > 0 {
			keys = append(keys, k.NextTab)
		}
		keys = append(keys, k.Help, k.Quit)
	}
	return m.help.ShortHelpView(keys)
}
