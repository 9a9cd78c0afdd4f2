package dashboard

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// Tab is one page of the dashboard: the built-in services page is the
// first, and Options.Tabs adds more (traces, breakers, events). The
// dashboard owns the header, the tab bar and the help line; a tab draws
// the body between them.
//
// A tab gets the messages the dashboard does not handle itself (the
// tab's own, a cursor's blink), its size through SetSize, and key presses
// only while it is shown, except the global keys (tab, shift+tab, a tab's
// number, ?, q, ctrl+c). It does its I/O in the tea.Cmds it returns, never
// in Update or View.
type Tab interface {
	// Title names the tab in the tab bar.
	Title() string
	// Init starts the tab's own commands, such as waiting on its data.
	Init() tea.Cmd
	// SetSize gives the body's size, before the first View and on resize.
	SetSize(width, height int)
	// Update handles a message and returns the next command, if any.
	Update(msg tea.Msg) tea.Cmd
	// View draws the body in at most the size last set.
	View() string
	// Keys lists the tab's own keys for the help line.
	Keys() []key.Binding
}

// Capturer is a tab that sometimes takes text (a filter, a search box):
// while CapturesKeys is true it gets every key but ctrl+c, global keys
// included, and the help line shows only its own keys.
type Capturer interface {
	CapturesKeys() bool
}
