package main

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

// accessLog writes the access log line of each request straight to the
// log's writer, in the very shape the JSON logger gives every other line
// (time, level, msg, service, the fields, trace_id, span_id), without the
// logger's per-record work: it is the one line every request pays for.
type accessLog struct {
	w       io.Writer
	service string
	bufs    sync.Pool
}

func newAccessLog(w io.Writer, service string) *accessLog {
	return &accessLog{w: w, service: service, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

// entry is what one line says.
type entry struct {
	method, path, requestID string
	status                  int
	bytes                   int64
	elapsed                 time.Duration
	span                    trace.SpanContext
}

func (l *accessLog) write(e entry) {
	bp := l.bufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = time.Now().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","service":`...)
	b = appendJSONString(b, l.service)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.elapsed.Microseconds())/1000, 'f', -1, 64)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, e.requestID)
	if e.span.IsValid() {
		tid, sid := e.span.TraceID(), e.span.SpanID()
		b = append(b, `,"trace_id":"`...)
		b = appendHex(b, tid[:])
		b = append(b, `","span_id":"`...)
		b = appendHex(b, sid[:])
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	l.w.Write(b)
	*bp = b
	l.bufs.Put(bp)
}

func appendHex(b, v []byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range v {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return b
}

// appendJSONString appends s as a JSON string, as encoding/json would
// (without its HTML escapes): invalid UTF-8 becomes U+FFFD, control
// characters and U+2028/U+2029 are escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
