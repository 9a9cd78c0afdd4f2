package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as one JSON document, for machines.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as an aligned table for a terminal, with each
// fix on its own line under its check.
func (r Report) WriteTable(w io.Writer, color bool) error {
	// Aligned by hand, not with tabwriter: colour codes would count as width.
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	indent := strings.Repeat(" ", width+2+4+2)
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-*s  %s  %s\n", width, c.Name, label(c.Status, color), c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(&b, "%s%s %s\n", indent, paint("fix:", "2", color), c.Fix)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	var summary string
	switch fails, warns := r.count(StatusFail), r.count(StatusWarn); {
	case fails > 0:
		summary = fmt.Sprintf("%d check(s) failed; fix them and run msx doctor again", fails)
	case warns > 0:
		summary = fmt.Sprintf("Ready, with %d warning(s)", warns)
	default:
		summary = "Ready: msx up should work here"
	}
	_, err := fmt.Fprintf(w, "\n%s\n", summary)
	return err
}

// WriteTSV writes one tab-separated line per check, for pipes and scripts:
// name, status, detail, fix.
func (r Report) WriteTSV(w io.Writer) error {
	for _, c := range r.Checks {
		fields := []string{c.Name, string(c.Status), c.Detail, c.Fix}
		for i, f := range fields {
			fields[i] = strings.ReplaceAll(f, "\t", " ")
		}
		// No trailing tab when the last fields are empty (an ok check has no fix).
		for len(fields) > 0 && fields[len(fields)-1] == "" {
			fields = fields[:len(fields)-1]
		}
		if _, err := fmt.Fprintln(w, strings.Join(fields, "\t")); err != nil {
			return err
		}
	}
	return nil
}

func (r Report) count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// label is a status as the table shows it: padded before colouring, so that
// escape codes do not upset the alignment.
func label(s Status, color bool) string {
	text := fmt.Sprintf("%-4s", strings.ToUpper(string(s)))
	switch s {
	case StatusOK:
		return paint(text, "32", color)
	case StatusWarn:
		return paint(text, "33", color)
	case StatusFail:
		return paint(text, "31;1", color)
	default:
		return paint(text, "2", color)
	}
}

func paint(s, code string, color bool) string {
	if !color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
