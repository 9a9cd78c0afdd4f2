package eventlog

import (
	"fmt"
	"io"
)

// Header names the columns of the plain lines msx events prints.
const Header = "TIME\tSUBJECT\tID\tDATA"

// Printer prints entries as msx events does: plain lines (Text) under
// Header, printed with the first of them, or one JSON object per line.
type Printer struct {
	W      io.Writer
	JSON   bool
	headed bool
}

// Print prints one entry.
func (p *Printer) Print(e Entry) error {
	if p.JSON {
		b, err := e.JSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.W, "%s\n", b)
		return err
	}
	if !p.headed {
		if _, err := fmt.Fprintln(p.W, Header); err != nil {
			return err
		}
		p.headed = true
	}
	_, err := fmt.Fprintln(p.W, e.Text())
	return err
}
