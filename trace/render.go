package trace

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/msx-dev/msx/templates/collector/spans"
	"github.com/msx-dev/msx/termtext"
)

// ANSI styles.
const (
	reset = "\x1b[0m"
	dim   = "\x1b[2m"
	red   = "\x1b[31m"
	green = "\x1b[32m"
	cyan  = "\x1b[36m"
)

// Style says how to draw: Width is the terminal's width in columns (the
// list is not cut to a width and the waterfall takes 100 when zero), Color turns ANSI colours on, Now dates the list's "ago"
// column (the zero time leaves it out).
type Style struct {
	Width int
	Color bool
	Now   time.Time
}

func (s Style) width() int {
	if s.Width <= 0 {
		return 100
	}
	return max(s.Width, 40)
}

func (s Style) paint(code, text string) string {
	if !s.Color || text == "" {
		return text
	}
	return code + text + reset
}

// FormatDuration prints a duration with about three significant digits:
// 870µs, 12.3ms, 1.25s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return sig(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return sig(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return sig(d.Seconds()) + "s"
	}
	return d.Round(time.Second).String()
}

// sig prints v (below 1000) with three significant digits, without
// trailing zeros.
func sig(v float64) string {
	var s string
	switch {
	case v >= 100:
		s = fmt.Sprintf("%.0f", v)
	case v >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// rootLabel is what the ROOT column shows: the root span's method and the
// request's own path when the collector has it ("GET /api/orders/items"),
// so that requests under one route ("GET /api/orders/") tell apart; else
// the root span's name.
func rootLabel(t Summary) string {
	switch {
	case t.Root == "":
		return "(root span not received)"
	case t.Path == "":
		return t.Root
	}
	if method, _, ok := strings.Cut(t.Root, " "); ok {
		return method + " " + t.Path
	}
	return t.Root + " " + t.Path
}

// List draws traces as a table: trace ID, root route, status, duration,
// span count, services. It is a function of its data and style only, so
// that a dashboard tab can call it.
func List(traces []Summary, st Style) string {
	if len(traces) == 0 {
		return "no traces yet: send a request through the gateway; its spans reach the collector about a second after it, then try again\n"
	}
	var b strings.Builder
	rows := make([][]string, 0, len(traces)+1)
	head := []string{"TRACE", "ROOT", "STATUS", "DURATION", "SPANS", "SERVICES"}
	if !st.Now.IsZero() {
		head = append(head, "AGE")
	}
	rows = append(rows, head)
	for _, t := range traces {
		status := "ok"
		if t.Errors > 0 {
			status = fmt.Sprintf("error(%d)", t.Errors)
		}
		root := rootLabel(t)
		// What the collector stores came from the programs and, through
		// the root span's route, from clients: shown, never interpreted.
		row := []string{termtext.Line(t.TraceID), termtext.Line(root), status, FormatDuration(time.Duration(t.DurationNS)), fmt.Sprint(t.Spans), termtext.Line(strings.Join(t.Services, ","))}
		if !st.Now.IsZero() {
			row = append(row, FormatDuration(st.Now.Sub(t.Start).Round(time.Second))+" ago")
		}
		rows = append(rows, row)
	}
	widths := make([]int, len(head))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	// The root column gives way when the table is wider than the screen.
	total := 0
	for _, w := range widths {
		total += w + 2
	}
	if over := total - st.Width; st.Width > 0 && over > 0 {
		widths[1] = max(12, widths[1]-over)
	}
	for ri, r := range rows {
		for i, c := range r {
			c = clip(c, widths[i])
			pad := widths[i] - utf8.RuneCountInString(c)
			switch {
			case ri == 0:
				c = st.paint(dim, c)
			case i == 0:
				c = st.paint(cyan, c)
			case i == 2 && c != "ok":
				c = st.paint(red, c)
			}
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

// keyAttrs are the attributes a waterfall row shows, when a span has them.
var keyAttrs = []string{
	"http.request.method", "http.method", "http.route", "url.path", "http.target",
	"http.response.status_code", "http.status_code", "server.address", "db.system", "error.type",
}

// node is a span placed in the tree.
type node struct {
	span  Span
	depth int
}

// tree orders spans depth first, children by start, and says each one's
// depth. Spans whose parent was not received hang at the top level.
func tree(spans []Span) []node {
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	children := map[string][]Span{}
	var roots []Span
	for _, s := range spans {
		if s.ParentID == "" || !ids[s.ParentID] {
			roots = append(roots, s)
		} else {
			children[s.ParentID] = append(children[s.ParentID], s)
		}
	}
	byStart := func(a, b Span) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.SpanID, b.SpanID)
	}
	slices.SortFunc(roots, byStart)
	out := make([]node, 0, len(spans))
	seen := map[string]bool{}
	var walk func(s Span, depth int)
	walk = func(s Span, depth int) {
		if seen[s.SpanID] { // a cycle in hostile data
			return
		}
		seen[s.SpanID] = true
		out = append(out, node{span: s, depth: depth})
		kids := children[s.SpanID]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return out
}

// Waterfall draws one trace: a header, then one row per span, indented by
// parent, with a bar placed and scaled on the trace's time line, its
// duration, service, status and key attributes; errors in red. It is a
// function of its data and style only, so that a dashboard tab can call
// it.
func Waterfall(t Trace, st Style) string {
	t = printable(t)
	var b strings.Builder
	if len(t.Spans) == 0 {
		fmt.Fprintf(&b, "trace %s has no spans\n", t.TraceID)
		return b.String()
	}
	start, end := t.Spans[0].Start, t.Spans[0].Start
	services := []string{}
	errs := 0
	for _, s := range t.Spans {
		if s.Start.Before(start) {
			start = s.Start
		}
		if e := s.Start.Add(time.Duration(s.DurationNS)); e.After(end) {
			end = e
		}
		if !slices.Contains(services, s.Service) {
			services = append(services, s.Service)
		}
		if s.Error {
			errs++
		}
	}
	slices.Sort(services)
	total := end.Sub(start)
	status := st.paint(green, "ok")
	if errs > 0 {
		status = st.paint(red, fmt.Sprintf("%d error(s)", errs))
	}
	fmt.Fprintf(&b, "trace %s  %s  %d spans  %s  %s\n", st.paint(cyan, t.TraceID), FormatDuration(total), len(t.Spans), strings.Join(services, ","), status)
	fmt.Fprintf(&b, "started %s\n\n", start.UTC().Format("2006-01-02 15:04:05.000 UTC"))

	nodes := tree(t.Spans)
	// Columns: name (indented) | bar | duration | service | details.
	nameW := 0
	svcW := 0
	for _, n := range nodes {
		nameW = max(nameW, 2*n.depth+utf8.RuneCountInString(n.span.Name))
		svcW = max(svcW, utf8.RuneCountInString(n.span.Service))
	}
	w := st.width()
	nameW = min(nameW, w/3)
	const durW = 8
	barW := max(10, w-nameW-durW-svcW-6)
	if barW > 60 {
		barW = 60
	}
	for _, n := range nodes {
		s := n.span
		name := clip(strings.Repeat("  ", n.depth)+s.Name, nameW)
		b.WriteString(name)
		b.WriteString(strings.Repeat(" ", nameW-utf8.RuneCountInString(name)+2))
		b.WriteString(bar(s, start, total, barW, st))
		b.WriteString("  ")
		d := FormatDuration(time.Duration(s.DurationNS))
		b.WriteString(strings.Repeat(" ", max(0, durW-len([]rune(d)))) + d)
		b.WriteString("  ")
		b.WriteString(s.Service)
		var details []string
		if s.Error {
			e := "error"
			if s.Status != "" {
				e += ": " + s.Status
			}
			details = append(details, st.paint(red, e))
		}
		for _, k := range keyAttrs {
			for _, a := range s.Attrs {
				if a.Key == k {
					details = append(details, st.paint(dim, k+"=")+a.Value)
				}
			}
		}
		if len(details) > 0 {
			b.WriteString(strings.Repeat(" ", svcW-utf8.RuneCountInString(s.Service)+2))
			b.WriteString(strings.Join(details, " "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// printable returns a copy of t whose text, all of which came from the
// programs and their clients (a span's name holds the request's path), is
// shown escaped where a terminal would interpret it.
func printable(t Trace) Trace {
	t.TraceID = termtext.Line(t.TraceID)
	out := make([]Span, len(t.Spans))
	for i, s := range t.Spans {
		s.Name = termtext.Line(s.Name)
		s.Service = termtext.Line(s.Service)
		s.Status = termtext.Line(s.Status)
		attrs := make([]spans.Attr, len(s.Attrs))
		for j, a := range s.Attrs {
			attrs[j] = spans.Attr{Key: a.Key, Value: termtext.Line(a.Value)}
		}
		s.Attrs = attrs
		out[i] = s
	}
	t.Spans = out
	return t
}

// bar draws a span on a time line of width w: blanks before it, then at
// least one block.
func bar(s Span, start time.Time, total time.Duration, w int, st Style) string {
	from, length := 0, w
	if total > 0 {
		from = int(int64(s.Start.Sub(start)) * int64(w) / int64(total))
		length = int((int64(s.DurationNS)*int64(w) + int64(total) - 1) / int64(total))
	}
	from = min(max(from, 0), w-1)
	length = min(max(length, 1), w-from)
	blocks := strings.Repeat("█", length)
	code := cyan
	if s.Error {
		code = red
	}
	return strings.Repeat(" ", from) + st.paint(code, blocks) + strings.Repeat(" ", w-from-length)
}
