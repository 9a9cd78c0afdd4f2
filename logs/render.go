// Package logs renders and filters the log lines of a project's containers:
// slog JSON lines become one readable line each (time, level, message, key
// fields), other lines pass through as they are, except that control
// characters are shown escaped (termtext). The plain printer of msx logs
// and of an attached msx up both use it.
package logs

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/msx-dev/msx/termtext"
)

// Level is a log line's severity, as slog names it. Lines that are not slog
// JSON have LevelUnknown.
type Level int8

// Levels, in increasing severity.
const (
	LevelUnknown Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// ParseLevel reads a level name: debug, info, warn (or warning), error, in
// any case. ok is false for anything else.
func ParseLevel(s string) (l Level, ok bool) {
	l = levelOf([]byte(s))
	return l, l != LevelUnknown
}

func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "DEBUG"
	case LevelInfo:
		return "INFO"
	case LevelWarn:
		return "WARN"
	case LevelError:
		return "ERROR"
	}
	return ""
}

// levelOf maps slog's level text ("INFO", "WARN+2", "error") to a Level.
func levelOf(b []byte) Level {
	if i := bytes.IndexAny(b, "+-"); i > 0 {
		b = b[:i]
	}
	switch {
	case asciiEqualFold(b, "debug"):
		return LevelDebug
	case asciiEqualFold(b, "info"):
		return LevelInfo
	case asciiEqualFold(b, "warn"), asciiEqualFold(b, "warning"):
		return LevelWarn
	case asciiEqualFold(b, "error"):
		return LevelError
	}
	return LevelUnknown
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// Record is what a slog JSON line says, as slices of the line (or of the
// scratch buffer when a string had escapes): valid until the next call
// that reuses them.
type Record struct {
	Time    []byte // as logged: 2026-01-02T15:04:05.123456789Z
	Level   Level
	Msg     []byte
	TraceID []byte
	SpanID  []byte
	Service []byte
}

// ANSI colours.
const (
	reset  = "\x1b[0m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	blue   = "\x1b[34m"
	bold   = "\x1b[1m"
)

// Renderer turns log lines into readable text. The zero value renders
// without colour. A Renderer keeps a scratch buffer: one must not be used
// by two goroutines at once.
type Renderer struct {
	Color bool
	// Raw passes lines through untouched (msx logs --json).
	Raw bool

	scratch []byte
	fields  []field
	text    []byte // shown's result, reused
}

// shown returns line as Append shows it without colour (as it is under
// Raw): the text --grep searches. The result is valid until the next call.
func (r *Renderer) shown(line []byte) []byte {
	color := r.Color
	r.Color = false
	r.text = r.Append(r.text[:0], line)
	r.Color = color
	return r.text
}

// field is one key and its raw JSON value.
type field struct {
	key, val []byte
	str      bool // val is a decoded string
}

// Append appends the readable form of line to dst and returns it. A slog
// JSON object becomes "15:04:05.123 INFO  message key=value ... trace=4bf92f35";
// anything else is appended as it is. Whatever came from the program is
// shown through termtext, so that a line can never drive the terminal.
// It allocates nothing once its scratch space has grown to the longest
// line seen.
func (r *Renderer) Append(dst, line []byte) []byte {
	if r.Raw {
		return r.appendRaw(dst, line)
	}
	var rec Record
	if !r.parse(line, &rec) {
		return termtext.Append(dst, line)
	}
	// show appends a part of the line. When no value had escapes (all
	// parts are slices of the line) and the line itself is printable, as
	// nearly every line a service logs is, the parts are too: one check of
	// the line instead of one per part. (Not the time and the trace ID,
	// cut at a byte count that may split a character.)
	printable := len(r.scratch) == 0 && termtext.Clean(line)
	show := func(dst, b []byte) []byte {
		if printable {
			return append(dst, b...)
		}
		return termtext.Append(dst, b)
	}
	if len(rec.Time) >= 23 && rec.Time[10] == 'T' {
		if r.Color {
			dst = append(dst, dim...)
		}
		dst = termtext.Append(dst, rec.Time[11:23]) // hh:mm:ss.mmm
		if r.Color {
			dst = append(dst, reset...)
		}
		dst = append(dst, ' ')
	}
	if rec.Level != LevelUnknown {
		name := rec.Level.String()
		if r.Color {
			switch rec.Level {
			case LevelDebug:
				dst = append(dst, dim...)
			case LevelInfo:
				dst = append(dst, blue...)
			case LevelWarn:
				dst = append(dst, yellow...)
			case LevelError:
				dst = append(dst, bold+red...)
			}
		}
		dst = append(dst, name...)
		if r.Color {
			dst = append(dst, reset...)
		}
		dst = append(dst, "     "[:6-len(name)]...)
	}
	dst = show(dst, rec.Msg)
	for _, f := range r.fields {
		dst = append(dst, ' ')
		if r.Color {
			dst = append(dst, dim...)
		}
		dst = show(dst, f.key)
		dst = append(dst, '=')
		if r.Color {
			dst = append(dst, reset...)
		}
		if f.str && needsQuote(f.val) {
			dst = appendQuoted(dst, f.val)
		} else {
			dst = show(dst, f.val)
		}
	}
	if len(rec.TraceID) > 0 {
		dst = append(dst, ' ')
		if r.Color {
			dst = append(dst, dim...)
		}
		dst = append(dst, "trace="...)
		dst = termtext.Append(dst, rec.TraceID[:min(len(rec.TraceID), ShortTraceID)])
		if r.Color {
			dst = append(dst, reset...)
		}
	}
	return dst
}

// ShortTraceID is how many hex digits of a trace ID a rendered line shows;
// msx trace and msx logs --trace accept such a prefix.
const ShortTraceID = 8

// Parse reads a slog JSON line into rec. It reports false for a line that
// is not a JSON object with a "msg" or "level" key.
func (r *Renderer) Parse(line []byte, rec *Record) bool {
	return r.parse(line, rec)
}

// parse fills rec and r.fields (the keys other than time, level, msg,
// service, trace_id and span_id, in the line's order).
func (r *Renderer) parse(line []byte, rec *Record) bool {
	r.fields = r.fields[:0]
	r.scratch = r.scratch[:0]
	// Decoded strings are appended to scratch; their slices are fixed up
	// afterwards, because scratch may move while it grows.
	type span struct{ at, end int }
	var (
		p      = skipSpace(line, 0)
		sawKey bool
		sawMsg bool
	)
	if p >= len(line) || line[p] != '{' {
		return false
	}
	p++
	// Positions into scratch of decoded values, resolved at the end.
	type pending struct {
		field int // index in r.fields, or -1..-5 for rec fields
		s     span
	}
	var pend [16]pending
	np := 0
	for {
		p = skipSpace(line, p)
		if p >= len(line) {
			return false
		}
		if line[p] == '}' {
			p++
			break
		}
		if sawKey {
			if line[p] != ',' {
				return false
			}
			p = skipSpace(line, p+1)
		}
		sawKey = true
		if p >= len(line) || line[p] != '"' {
			return false
		}
		key, _, next, ok := scanString(line, p) // a key with escapes is shown as written
		if !ok {
			return false
		}
		p = skipSpace(line, next)
		if p >= len(line) || line[p] != ':' {
			return false
		}
		p = skipSpace(line, p+1)
		if p >= len(line) {
			return false
		}
		var val []byte
		isStr := line[p] == '"'
		var vEsc bool
		if isStr {
			val, vEsc, next, ok = scanString(line, p)
		} else {
			next, ok = skipValue(line, p)
		}
		if !ok {
			return false
		}
		if !isStr {
			val = line[p:next]
		}
		p = next
		var at span
		if vEsc {
			at.at = len(r.scratch)
			r.scratch = unescape(r.scratch, val)
			at.end = len(r.scratch)
		}
		set := func(dst *[]byte, id int) {
			*dst = val
			if vEsc && np < len(pend) {
				pend[np] = pending{field: id, s: at}
				np++
			}
		}
		switch string(key) { // no allocation: the compiler special-cases this
		case "time":
			rec.Time = val
		case "level":
			rec.Level = levelOf(val)
			sawMsg = true
		case "msg":
			set(&rec.Msg, -1)
			sawMsg = true
		case "trace_id":
			rec.TraceID = val
		case "span_id":
			rec.SpanID = val
		case "service":
			set(&rec.Service, -2)
		default:
			r.fields = append(r.fields, field{key: key, val: val, str: isStr})
			if vEsc && np < len(pend) {
				pend[np] = pending{field: len(r.fields) - 1, s: at}
				np++
			}
		}
	}
	if skipSpace(line, p) != len(line) || !sawMsg {
		return false
	}
	for _, pd := range pend[:np] {
		v := r.scratch[pd.s.at:pd.s.end]
		switch pd.field {
		case -1:
			rec.Msg = v
		case -2:
			rec.Service = v
		default:
			r.fields[pd.field].val = v
		}
	}
	return true
}

func skipSpace(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\r' || b[p] == '\n') {
		p++
	}
	return p
}

// scanString reads the JSON string starting at b[p] == '"'. It returns its
// content without quotes, whether it has escapes, and the index after it.
func scanString(b []byte, p int) (s []byte, esc bool, next int, ok bool) {
	start := p + 1
	for i := start; i < len(b); i++ {
		switch b[i] {
		case '\\':
			esc = true
			i++
		case '"':
			return b[start:i], esc, i + 1, true
		}
	}
	return nil, false, 0, false
}

// skipValue skips a JSON number, literal, object or array starting at p.
func skipValue(b []byte, p int) (int, bool) {
	switch b[p] {
	case '{', '[':
		depth := 0
		for i := p; i < len(b); i++ {
			switch b[i] {
			case '"':
				_, _, next, ok := scanString(b, i)
				if !ok {
					return 0, false
				}
				i = next - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	}
	i := p
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && b[i] != '\n' {
		i++
	}
	return i, i > p
}

// unescape appends the decoded JSON string content s to dst.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			if i+4 < len(s) {
				if r, ok := hex4(s[i+1 : i+5]); ok {
					i += 4
					if utf16Surrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
						if r2, ok := hex4(s[i+3 : i+7]); ok {
							r = (r-0xd800)<<10 + (r2 - 0xdc00) + 0x10000
							i += 6
						}
					}
					dst = utf8.AppendRune(dst, r)
					continue
				}
			}
			dst = append(dst, '\\', 'u')
		default: // \" \\ \/
			dst = append(dst, s[i])
		}
	}
	return dst
}

func utf16Surrogate(r rune) bool { return r >= 0xd800 && r < 0xdc00 }

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// needsQuote reports whether a string value must be quoted to read as one
// value: empty, or holding spaces, quotes, '=' or control characters.
func needsQuote(s []byte) bool {
	if len(s) == 0 {
		return true
	}
	for _, c := range s {
		if c <= ' ' || c == '"' || c == '=' || c == 0x7f {
			return true
		}
	}
	return false
}

// appendQuoted appends s in double quotes, escaping quotes, backslashes and
// tabs, and the rest as termtext shows it (so a value never breaks the
// line nor drives the terminal).
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	from := 0
	for i, c := range s {
		if c != '"' && c != '\\' && c != '\t' {
			continue
		}
		dst = termtext.Append(dst, s[from:i])
		if c == '\t' {
			c = 't'
		}
		dst = append(dst, '\\', c)
		from = i + 1
	}
	dst = termtext.Append(dst, s[from:])
	return append(dst, '"')
}

// appendRaw is msx logs --json: the line as the program wrote it when it
// is safe to print, as is every line slog writes. A JSON line that is not
// (a raw control in a string's bytes, a bidi override, bytes that are not
// UTF-8) is compacted and escaped as JSON, so that it stays the same JSON
// value; any other line is shown as termtext shows it.
func (r *Renderer) appendRaw(dst, line []byte) []byte {
	if termtext.Clean(line) {
		return append(dst, line...)
	}
	if json.Valid(line) {
		var b bytes.Buffer
		if json.Compact(&b, line) == nil {
			return termtext.AppendJSON(dst, b.Bytes())
		}
	}
	return termtext.Append(dst, line)
}
