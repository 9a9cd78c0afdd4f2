package logs

import (
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/msx-dev/msx/activity"
)

// Filter selects log lines. The zero value keeps every line.
type Filter struct {
	// Grep keeps lines whose text as msx logs shows it matches (without
	// the service prefix or colours: "INFO  request status=504"), or,
	// when the renderer is Raw (--json), the line as the program wrote it.
	Grep *regexp.Regexp
	// Level keeps slog lines at this level or above; lines that are not
	// slog JSON are kept only when Level is at most info.
	Level Level
	// TraceID keeps slog lines whose trace_id starts with it (a full ID or
	// a prefix such as a rendered line shows). Other lines are dropped.
	TraceID string
}

// Empty reports whether the filter keeps every line.
func (f *Filter) Empty() bool { return f.Grep == nil && f.Level == LevelUnknown && f.TraceID == "" }

// Keep reports whether line passes the filter; r parses it when needed.
func (f *Filter) Keep(r *Renderer, line []byte) bool {
	if f.Empty() {
		return true
	}
	if f.Grep != nil && !f.Grep.Match(r.shown(line)) {
		return false
	}
	if f.Level == LevelUnknown && f.TraceID == "" {
		return true
	}
	var rec Record
	if !r.parse(line, &rec) {
		return f.TraceID == "" && f.Level <= LevelInfo
	}
	if f.Level != LevelUnknown && rec.Level != LevelUnknown && rec.Level < f.Level {
		return false
	}
	if f.TraceID != "" && !hasPrefixFold(rec.TraceID, f.TraceID) {
		return false
	}
	return true
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && asciiEqualFold(b[:len(prefix)], strings.ToLower(prefix))
}

// PrinterOptions configure a Printer.
type PrinterOptions struct {
	// Color colours the prefix per service and the level.
	Color bool
	// NoPrefix leaves out the "service | " prefix.
	NoPrefix bool
	// Raw passes lines through as the containers printed them.
	Raw    bool
	Filter Filter
}

// Printer prints log lines as "orders   | 12:00:01.002 INFO  message k=v",
// the prefix padded to the longest service name and coloured per service
// when colour is on. It is safe for concurrent use: each line is one
// Write, so lines of different services never mix. It implements the
// runner's LogConsumer (Log, Status) and observes activity.Log events.
type Printer struct {
	w    io.Writer
	opts PrinterOptions

	mu       sync.Mutex
	width    int
	prefixes map[string][]byte
	next     int // palette index of the next new service
	r        Renderer
	buf      []byte
}

var palette = []string{"36", "33", "32", "35", "34", "91", "96", "93", "92", "95"}

// NewPrinter returns a printer for the given services, in a stable order:
// colours follow it. Services not named here get the next colour when
// they first print.
func NewPrinter(w io.Writer, services []string, opts PrinterOptions) *Printer {
	p := &Printer{w: w, opts: opts, prefixes: map[string][]byte{}}
	p.r.Color = opts.Color
	p.r.Raw = opts.Raw
	for _, s := range services {
		p.width = max(p.width, len(s))
	}
	for _, s := range services {
		p.prefix(s)
	}
	return p
}

// prefix returns the cached prefix of service, making it on first use.
func (p *Printer) prefix(service string) []byte {
	if b, ok := p.prefixes[service]; ok {
		return b
	}
	var b []byte
	if !p.opts.NoPrefix {
		pad := service + strings.Repeat(" ", max(0, p.width-len(service)))
		if p.opts.Color {
			b = []byte("\x1b[" + palette[p.next%len(palette)] + "m" + pad + " |\x1b[0m ")
		} else {
			b = []byte(pad + " | ")
		}
	}
	p.next++
	p.prefixes[service] = b
	return b
}

// Log prints one line of service, if the filter keeps it.
func (p *Printer) Log(service, _ string, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logLocked(service, line)
}

// LogBytes is Log for a line held in a byte slice; it does not keep line.
func (p *Printer) LogBytes(service string, line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.opts.Filter.Keep(&p.r, line) {
		return
	}
	p.buf = append(p.buf[:0], p.prefix(service)...)
	p.buf = p.r.Append(p.buf, line)
	p.buf = append(p.buf, '\n')
	_, _ = p.w.Write(p.buf)
}

func (p *Printer) logLocked(service, line string) {
	// The line is copied once into the reused buffer and rendered from
	// there, so a line costs no allocation of the printer's own.
	start := len(p.buf)
	p.buf = append(p.buf, line...)
	src := p.buf[start:]
	if !p.opts.Filter.Keep(&p.r, src) {
		p.buf = p.buf[:start]
		return
	}
	out := append(p.buf, p.prefix(service)...)
	out = p.r.Append(out, out[start:start+len(line)])
	out = append(out, '\n')
	_, _ = p.w.Write(out[start+len(line):])
	p.buf = out[:start]
}

// Status prints a change of a followed container ("exited with code 1"),
// whatever the filter.
func (p *Printer) Status(service, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf[:0], p.prefix(service)...)
	p.buf = append(p.buf, "msx: "...)
	p.buf = append(p.buf, status...)
	p.buf = append(p.buf, '\n')
	_, _ = p.w.Write(p.buf)
	p.buf = p.buf[:0]
}

// Observe prints the Log events of a run session's bus; other kinds are
// left to whoever reports them.
func (p *Printer) Observe(e activity.Event) {
	if e.Kind == activity.Log {
		p.Log(e.Service, e.Stream, e.Line)
	}
}

var _ activity.Observer = (*Printer)(nil)

// Render returns the readable form of one line, as msx logs prints it
// without a prefix: a convenience for callers that draw lines themselves,
// such as a dashboard's log pane.
func Render(line string, color bool) string {
	r := Renderer{Color: color}
	return string(r.Append(nil, []byte(line)))
}
