// Package termtext makes text that came from outside msx (a program's log
// line, a request path a client sent, an event's payload, a health
// check's output) safe to print on a terminal: control characters are
// shown escaped, never interpreted, so that no program or client can move
// the cursor, clear the screen, set the window title, hide text or reorder
// it on the developer's terminal. Everything msx prints that it did not
// write itself goes through this one package.
//
// What is escaped: the C0 controls except the tab (ESC shows as \x1b, so
// an escape sequence reads as its bytes), DEL, the C1 controls (U+0080 to
// U+009F, which some terminals read as ESC sequences), the Unicode line
// and paragraph separators, the bidirectional controls (overrides,
// embeddings, isolates and marks, which reorder what follows them) and
// bytes that are not UTF-8. Valid UTF-8 text and tabs stay as they are.
// A backslash is left alone: the result is for reading, not for parsing
// back, and paths and regular expressions stay readable.
package termtext

import (
	"encoding/binary"
	"unicode/utf8"
)

const hexdigits = "0123456789abcdef"

// cleanBytes reports whether s needs no escaping, looking at the bytes only:
// printable ASCII and tabs. A byte of 0x80 or above (UTF-8 or not) sends
// the caller to the slow path, which decodes it.
func cleanBytes(s []byte) bool {
	// Eight bytes at a time: a word with no byte below 0x20, no DEL and no
	// high bit is clean; a word that might not be (a tab) is looked at
	// byte by byte.
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64(s)
		del := w ^ 0x7f7f7f7f7f7f7f7f
		if (w|(w-0x2020202020202020)|((del-0x0101010101010101)&^del))&0x8080808080808080 != 0 {
			for _, c := range s[:8] {
				if !plain[c] {
					return false
				}
			}
		}
		s = s[8:]
	}
	for _, c := range s {
		if !plain[c] {
			return false
		}
	}
	return true
}

func cleanString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			return false
		}
	}
	return true
}

// plain holds the bytes that stand for themselves: a table lookup per
// byte keeps msx logs -f's common case to one load and one branch.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\t'] = true
	return t
}()

// unsafeRune reports whether r, a decoded rune of 0x80 or above, must be
// escaped: C1 controls, line and paragraph separators, bidi controls.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, // ARABIC LETTER MARK
		r == 0x200e, r == 0x200f, // LRM, RLM
		r >= 0x2028 && r <= 0x202e, // LINE SEP, PARA SEP, LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	}
	return false
}

// Clean reports whether s prints as itself: Append would not change it.
func Clean(s []byte) bool {
	if cleanBytes(s) {
		return true
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < 0x80 {
			if !plain[c] {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if (r == utf8.RuneError && n == 1) || unsafeRune(r) {
			return false
		}
		i += n
	}
	return true
}

// Append appends the printable form of s to dst: s itself when it has
// nothing to escape (checked byte by byte, without decoding, so that a
// plain ASCII line costs one pass and no allocation).
func Append(dst, s []byte) []byte {
	if cleanBytes(s) {
		return append(dst, s...)
	}
	return appendSlow(dst, s, false)
}

// AppendString is Append for a string.
func AppendString(dst []byte, s string) []byte {
	if cleanString(s) {
		return append(dst, s...)
	}
	return appendSlow(dst, []byte(s), false)
}

// Line returns the printable form of s as one line: newlines are escaped
// too. It returns s itself when there is nothing to escape.
func Line(s string) string {
	if cleanString(s) {
		return s
	}
	return string(appendSlow(make([]byte, 0, len(s)+16), []byte(s), false))
}

// Text returns the printable form of a block of lines, such as the last
// log lines of a service quoted in an error: like Line, but newlines stay
// newlines (a carriage return before one is dropped, as a terminal would
// show it).
func Text(s string) string {
	if cleanString(s) {
		return s
	}
	return string(appendSlow(make([]byte, 0, len(s)+16), []byte(s), true))
}

func appendSlow(dst, s []byte, keepNewlines bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f || c == '\t' {
			dst = append(dst, c)
			i++
			continue
		}
		if c < 0x80 {
			switch {
			case c == '\n' && keepNewlines:
				dst = append(dst, '\n')
			case c == '\r' && keepNewlines && i+1 < len(s) && s[i+1] == '\n':
				// CRLF: the line ends here.
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'x', hexdigits[c>>4], hexdigits[c&0xf])
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, '\\', 'x', hexdigits[c>>4], hexdigits[c&0xf])
		case unsafeRune(r):
			dst = appendU(dst, r)
		default:
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexdigits[r>>12&0xf], hexdigits[r>>8&0xf], hexdigits[r>>4&0xf], hexdigits[r&0xf])
}

// AppendJSON appends js, a JSON document as encoding/json writes it
// (compact or indented), with the characters Append would escape written
// as JSON escapes (\u009b, \u202e) and bytes that are not UTF-8 as
// \ufffd, as encoding/json reads them: the result is the same JSON value,
// safe to print. A valid document has controls only as the white space
// between tokens and non-ASCII only inside strings, so newlines and tabs
// stay and only string contents change.
func AppendJSON(dst, js []byte) []byte {
	if cleanBytes(js) {
		return append(dst, js...)
	}
	for i := 0; i < len(js); {
		c := js[i]
		if c < 0x80 {
			if (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
				dst = appendU(dst, rune(c))
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(js[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, `\ufffd`...)
		case unsafeRune(r):
			dst = appendU(dst, r)
		default:
			dst = append(dst, js[i:i+n]...)
		}
		i += n
	}
	return dst
}
