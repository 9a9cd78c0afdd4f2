// Package termquery keeps msx from querying the terminal while the process
// starts.
//
// Bubble Tea v1's package init asks the terminal for its background colour
// (lipgloss.HasDarkBackground, an OSC 11 query followed by a cursor
// position report) and waits up to termenv.OSCTimeout, five seconds, for
// the answer. A pseudo-terminal that does not answer (script, some IDE and
// CI terminals) therefore made every msx command, even msx version, take
// five seconds and left the query's bytes in its output. msx never needs
// the answer: the dashboard draws with the 16 ANSI colours, which follow
// the terminal's own theme.
//
// termenv skips the query when TERM starts with "dumb". This package's
// init sets that for the length of the other packages' inits, and Restore
// puts the user's TERM back before msx reads it. Go initialises, at each
// step, the first package by import path whose imports are initialised:
// this package imports only os, which termenv imports too, and
// "github.com/msx-dev/msx/internal/termquery" sorts before
// "github.com/muesli/termenv", so its init always runs before termenv's,
// lipgloss's and Bubble Tea's.
package termquery

import "os"

// quiet is what TERM holds while the packages initialise: termenv asks
// nothing of a terminal whose TERM starts with "dumb".
const quiet = "dumb-msx-init"

var saved struct {
	value string
	set   bool
	held  bool
}

func init() {
	saved.value, saved.set = os.LookupEnv("TERM")
	if os.Setenv("TERM", quiet) == nil {
		saved.held = true
	}
}

// Restore gives TERM back its value from before the packages initialised.
// main calls it first; a second call does nothing.
func Restore() {
	if !saved.held {
		return
	}
	saved.held = false
	if os.Getenv("TERM") != quiet {
		return // someone set it since: theirs stands
	}
	if saved.set {
		os.Setenv("TERM", saved.value)
	} else {
		os.Unsetenv("TERM")
	}
}
