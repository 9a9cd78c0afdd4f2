// Package eventlog is what msx events prints: one event of a project's
// stream, and the subject filter it takes. The events are read on the
// project network by the reader msx runs there (templates/eventtap), which
// prints each as the JSON of Entry: the broker's client port is never
// published to the host.
package eventlog

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/msx-dev/msx/termtext"
)

// Entry is one event of the stream.
type Entry struct {
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Subject string          `json:"subject"` // orders.item.created
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Data    json.RawMessage `json:"data"`
}

// CheckSubject accepts what msx events takes as its filter: dot-separated
// tokens, * for one token and > for the rest (orders.item.created,
// orders.>, *.item.deleted).
func CheckSubject(s string) error {
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || strings.ContainsAny(t, " \t\r\n") || (t == ">" && i != len(toks)-1) ||
			(len(t) > 1 && strings.ContainsAny(t, "*>")) {
			return fmt.Errorf("%q is not a subject; use SERVICE.EVENT such as orders.item.created, with * for one part and > for the rest", s)
		}
	}
	return nil
}

// Text is the line msx events prints for e: time, subject, ID and data,
// separated by tabs. Everything but the time came from a program, through
// the broker: it is shown escaped where a terminal would interpret it.
func (e Entry) Text() string {
	return e.Time.Format("2006-01-02T15:04:05.000Z") + "\t" + termtext.Line(e.Subject) + "\t" +
		termtext.Line(e.ID) + "\t" + termtext.Line(string(e.Data))
}

// JSON is the line msx events --json prints for e: exact JSON, with the
// characters a terminal would interpret written as JSON escapes.
func (e Entry) JSON() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return termtext.AppendJSON(nil, b), nil
}
