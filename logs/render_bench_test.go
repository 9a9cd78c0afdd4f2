package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The renderer reads slog lines with a scanner of its own rather than
// encoding/json, for speed and for allocating nothing per line. These
// benchmarks keep that choice measured: the same lines through the
// scanner, through encoding/json doing the same work (the record's fields
// and the other keys in the line's order, which only its token decoder
// keeps), and through the least encoding/json can do (Unmarshal into a
// struct of the record's fields, the other keys dropped, so less than the
// renderer needs). encoding/json/v2 is not compared: Go 1.26 builds it only
// with GOEXPERIMENT=jsonv2. Results and the command are in
// docs/performance.md.

// benchLines are the lines measured: a request's access line as a
// generated service logs it, an error line whose strings have escapes,
// and a line that is not JSON (a panic's), which passes through.
var benchLines = []struct{ name, line string }{
	{"request", benchSlogLine(slog.LevelInfo, "request", "service", "orders", "method", "GET", "path", "/items/1",
		"status", 200, "bytes", 312, "duration_ms", 1.5, "request_id", "b1e2f3a4c5d6e7f8",
		"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "span_id", "00f067aa0ba902b7")},
	{"escaped", benchSlogLine(slog.LevelError, "payment \"declined\"\nretrying", "service", "payments",
		"err", "upstream said: {\"error\":\"café \u2028 closed\"}\t(503)", "attempt", 3,
		"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")},
	{"plain", "panic: runtime error: index out of range [3] with length 3 [recovered]"},
}

func benchSlogLine(level slog.Level, msg string, args ...any) string {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil)
	r := slog.NewRecord(time.Date(2026, 3, 4, 15, 4, 5, 123456789, time.UTC), level, msg, 0)
	r.Add(args...)
	_ = h.Handle(context.Background(), r)
	return strings.TrimRight(buf.String(), "\n")
}

// stdField and stdRecord are what parseStdlib reads: what parse reads.
type stdField struct {
	key, val string
	str      bool
}

type stdRecord struct {
	time, msg, traceID, spanID, service string
	level                               Level
	fields                              []stdField
}

// parseStdlib is parse written with encoding/json: a JSON object with a
// "msg" or "level" key, its known keys into the record and the others in
// their order, string values decoded and the rest as written.
func parseStdlib(line []byte, rec *stdRecord) bool {
	*rec = stdRecord{fields: rec.fields[:0]}
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	sawMsg := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false
		}
		f := stdField{key: key, val: string(raw)}
		if len(raw) > 0 && raw[0] == '"' {
			f.str = true
			if err := json.Unmarshal(raw, &f.val); err != nil {
				return false
			}
		}
		switch key {
		case "time":
			rec.time = f.val
		case "level":
			rec.level = levelOf([]byte(f.val))
			sawMsg = true
		case "msg":
			rec.msg = f.val
			sawMsg = true
		case "trace_id":
			rec.traceID = f.val
		case "span_id":
			rec.spanID = f.val
		case "service":
			rec.service = f.val
		default:
			rec.fields = append(rec.fields, f)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return false
	}
	// Nothing may follow the object but space, as parse requires.
	if _, err := dec.Token(); err == nil {
		return false
	}
	return sawMsg
}

// slogRecord is the least encoding/json can decode for a line.
type slogRecord struct {
	Time    string `json:"time"`
	Level   string `json:"level"`
	Msg     string `json:"msg"`
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	Service string `json:"service"`
}

// TestParseStdlibAgrees: the encoding/json version reads the benchmark's
// lines as parse does, so that the two do the same work.
func TestParseStdlibAgrees(t *testing.T) {
	var r Renderer
	var std stdRecord
	compared := 0
	for _, l := range benchLines {
		var rec Record
		ok := r.Parse([]byte(l.line), &rec)
		if okStd := parseStdlib([]byte(l.line), &std); ok != okStd {
			t.Fatalf("%s: parse %v, encoding/json %v", l.name, ok, okStd)
		}
		if !ok {
			continue
		}
		got := stdRecord{time: string(rec.Time), msg: string(rec.Msg), traceID: string(rec.TraceID),
			spanID: string(rec.SpanID), service: string(rec.Service), level: rec.Level}
		for _, f := range r.fields {
			got.fields = append(got.fields, stdField{key: string(f.key), val: string(f.val), str: f.str})
		}
		if g, w := got, std; g.time != w.time || g.msg != w.msg || g.traceID != w.traceID || g.spanID != w.spanID ||
			g.service != w.service || g.level != w.level || len(g.fields) != len(w.fields) {
			t.Fatalf("%s: parse read %+v, encoding/json %+v", l.name, got, std)
		}
		compared += len(got.fields)
		for i := range got.fields {
			if got.fields[i] != std.fields[i] {
				t.Errorf("%s: field %d: parse %+v, encoding/json %+v", l.name, i, got.fields[i], std.fields[i])
			}
		}
	}
	if compared == 0 {
		t.Fatal("no line had other fields: the comparison is empty")
	}
}

// BenchmarkParse reads each line with each implementation; compare them
// with benchstat -col /impl.
func BenchmarkParse(b *testing.B) {
	for _, l := range benchLines {
		line := []byte(l.line)
		b.Run("line="+l.name+"/impl=scanner", func(b *testing.B) {
			var r Renderer
			var rec Record
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				r.Parse(line, &rec)
			}
		})
		b.Run("line="+l.name+"/impl=encoding_json_decoder", func(b *testing.B) {
			var rec stdRecord
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				parseStdlib(line, &rec)
			}
		})
		b.Run("line="+l.name+"/impl=encoding_json_unmarshal", func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				var rec slogRecord
				_ = json.Unmarshal(line, &rec)
			}
		})
	}
}
