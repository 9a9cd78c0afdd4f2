package dashboard

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"

	"github.com/msx-dev/msx/dashboard/model"
)

// common is what every part of the dashboard shares: the styles, made by
// one renderer so that the colour profile is decided once (Ascii under
// NO_COLOR and in tests), and the key map.
type common struct {
	r       *lipgloss.Renderer
	keys    keyMap
	title   lipgloss.Style
	dim     lipgloss.Style
	bold    lipgloss.Style
	sel     lipgloss.Style
	tab     lipgloss.Style
	tabOn   lipgloss.Style
	bad     lipgloss.Style
	note    lipgloss.Style
	states  map[model.State]lipgloss.Style
	palette []lipgloss.Style
}

func newCommon(r *lipgloss.Renderer) *common {
	c := func(n string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(n)) }
	// The 16 ANSI colours follow the user's terminal theme, light or dark,
	// so the dashboard never has to query the terminal's background.
	return &common{
		r:     r,
		keys:  newKeyMap(),
		title: r.NewStyle().Bold(true),
		dim:   c("8"),
		bold:  r.NewStyle().Bold(true),
		sel:   r.NewStyle().Bold(true).Reverse(true),
		tab:   c("8"),
		tabOn: r.NewStyle().Bold(true).Underline(true),
		bad:   c("1"),
		note:  c("8").Italic(true),
		states: map[model.State]lipgloss.Style{
			model.Waiting: c("8"), model.Building: c("3"), model.Starting: c("3"),
			model.Ready: c("2"), model.Unhealthy: c("1"), model.Crashed: c("1").Bold(true),
			model.Stopping: c("8"), model.Stopped: c("8"),
		},
		palette: []lipgloss.Style{c("6"), c("5"), c("4"), c("3"), c("2"), c("14"), c("13"), c("12"), c("11"), c("10")},
	}
}

// keyMap is every key the dashboard knows; the help line is drawn from it.
type keyMap struct {
	Up, Down, Enter, Back, Restart, Rebuild, Filter, Pause       key.Binding
	PageUp, PageDown, Follow, NextTab, PrevTab, Tabs, Help, Quit key.Binding
}

func newKeyMap() keyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		Up:       b("↑/k", "select", "up", "k"),
		Down:     b("↓/j", "select", "down", "j"),
		Enter:    b("enter", "focus logs", "enter"),
		Back:     b("esc", "all logs", "esc"),
		Restart:  b("r", "restart", "r"),
		Rebuild:  b("b", "rebuild", "b"),
		Filter:   b("/", "filter", "/"),
		Pause:    b("p", "pause", "p"),
		PageUp:   b("pgup", "scroll up", "pgup", "ctrl+u"),
		PageDown: b("pgdn", "scroll down", "pgdown", "ctrl+d"),
		Follow:   b("end", "follow", "end", "G"),
		NextTab:  b("tab", "next tab", "tab"),
		PrevTab:  b("shift+tab", "previous tab", "shift+tab"),
		// The digits pick a tab by its number in the tab bar; newUI
		// says how many there are.
		Tabs: b("1-9", "tab by number", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
		Help: b("?", "help", "?"),
		Quit: b("q", "quit", "q", "ctrl+c"),
	}
}

// ShortHelp is the help line.
func (k keyMap) ShortHelp() []key.Binding {
	up := key.NewBinding(key.WithKeys("up"), key.WithHelp("↑/↓", "select"))
	return []key.Binding{up, k.Enter, k.Restart, k.Rebuild, k.Filter, k.Pause, k.Help, k.Quit}
}

// FullHelp is the page that ? opens.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Enter, k.Back},
		{k.Restart, k.Rebuild, k.NextTab, k.PrevTab, k.Tabs},
		{k.Filter, k.Pause, k.PageUp, k.PageDown, k.Follow},
		{k.Help, k.Quit},
	}
}
