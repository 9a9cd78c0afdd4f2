package msxerr

import (
	"errors"
	"strconv"
	"strings"

	"github.com/msx-dev/msx/termtext"
)

// Sentence is err worded for the terminal, on one line: what cmd.Main
// prints after "msx: " and what the session puts in an event's detail.
//
// An *Error in the chain says it (its message and hint), without the words
// of errors that wrap it, which name the step that failed rather than what
// to do. Lines are folded into one, and text an error quotes from a
// program or a client (a health check's output, an engine's message) is
// shown, not interpreted by the terminal. Cobra's "Did you mean this?"
// list becomes `; did you mean "a" or "b"?`.
func Sentence(err error) string {
	text := err.Error()
	var me *Error
	if errors.As(err, &me) {
		text = me.Error()
	}
	msg, suggestions, ok := strings.Cut(text, "Did you mean this?")
	msg = termtext.Line(strings.Join(strings.Fields(msg), " "))
	if !ok {
		return msg
	}
	var quoted []string
	for _, s := range strings.Fields(suggestions) {
		quoted = append(quoted, strconv.Quote(s))
	}
	if len(quoted) == 0 {
		return msg
	}
	return msg + "; did you mean " + strings.Join(quoted, " or ") + "?"
}
