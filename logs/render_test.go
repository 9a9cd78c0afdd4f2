package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/termtext"
)

// slogLine logs one record through the real slog JSON handler, as the
// generated services do, with a fixed time.
func slogLine(t *testing.T, level slog.Level, msg string, args ...any) string {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	r := slog.NewRecord(time.Date(2026, 3, 4, 15, 4, 5, 123456789, time.UTC), level, msg, 0)
	r.Add(args...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(buf.String(), "\n")
}

func TestRenderSlog(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string
	}{
		{"request", slogLine(t, slog.LevelInfo, "request", "service", "orders", "method", "GET", "path", "/items/1", "status", 200, "duration_ms", 1.5,
			"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "span_id", "00f067aa0ba902b7"),
			"15:04:05.123 INFO  request method=GET path=/items/1 status=200 duration_ms=1.5 trace=4bf92f35"},
		{"escapes and quoting", slogLine(t, slog.LevelError, "request \"failed\"\n", "error", "dial tcp: no such host", "empty", ""),
			"15:04:05.123 ERROR request \"failed\"\\n error=\"dial tcp: no such host\" empty=\"\""},
		{"nested values stay JSON", slogLine(t, slog.LevelWarn, "odd", "obj", map[string]any{"a": []int{1, 2}}, "ok", true),
			`15:04:05.123 WARN  odd obj={"a":[1,2]} ok=true`},
		{"debug", slogLine(t, slog.LevelDebug+2, "x"), "15:04:05.123 DEBUG x"},
		{"unicode escape", `{"time":"2026-03-04T15:04:05.123Z","level":"INFO","msg":"caf\u00e9 \ud83d\ude00","k":"a\tb"}`,
			"15:04:05.123 INFO  café 😀 k=\"a\\tb\""},
		{"not JSON", "panic: runtime error", "panic: runtime error"},
		{"JSON without msg", `{"a":1}`, `{"a":1}`},
		{"truncated JSON", `{"level":"INFO","msg":"x"`, `{"level":"INFO","msg":"x"`},
		{"trailing garbage", `{"level":"INFO","msg":"x"} tail`, `{"level":"INFO","msg":"x"} tail`},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Renderer
			if got := string(r.Append(nil, []byte(tt.line))); got != tt.want {
				t.Errorf("render(%s)\n got %q\nwant %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestRenderColor(t *testing.T) {
	r := Renderer{Color: true}
	got := string(r.Append(nil, []byte(slogLine(t, slog.LevelError, "boom", "k", "v"))))
	want := dim + "15:04:05.123" + reset + " " + bold + red + "ERROR" + reset + " boom " + dim + "k=" + reset + "v"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestRenderRaw(t *testing.T) {
	r := Renderer{Raw: true}
	line := slogLine(t, slog.LevelInfo, "x")
	if got := string(r.Append(nil, []byte(line))); got != line {
		t.Errorf("raw: got %q, want %q", got, line)
	}
}

func TestRenderAllocates(t *testing.T) {
	line := []byte(slogLine(t, slog.LevelInfo, "request \"x\"", "service", "orders", "method", "GET", "status", 200,
		"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "span_id", "00f067aa0ba902b7"))
	var r Renderer
	buf := r.Append(nil, line)
	allocs := testing.AllocsPerRun(100, func() { buf = r.Append(buf[:0], line) })
	if allocs != 0 {
		t.Errorf("Append allocates %.1f times per line, want 0", allocs)
	}
}

func TestPrinterAllocates(t *testing.T) {
	line := slogLine(t, slog.LevelInfo, "request", "method", "GET", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")
	p := NewPrinter(discard{}, []string{"orders"}, PrinterOptions{Color: true})
	allocs := testing.AllocsPerRun(100, func() { p.Log("orders", activity.Stdout, line) })
	if allocs != 0 {
		t.Errorf("Printer.Log allocates %.1f times per line, want 0", allocs)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestPrinter(t *testing.T) {
	var buf bytes.Buffer
	p := NewPrinter(&buf, []string{"gateway", "orders"}, PrinterOptions{})
	p.Log("orders", activity.Stdout, slogLine(t, slog.LevelInfo, "hi", "service", "orders"))
	p.Log("gateway", activity.Stderr, "plain")
	p.Status("orders", "exited with code 2")
	p.Observe(activity.Event{Kind: activity.Log, Service: "payments", Line: "new"})
	p.Observe(activity.Event{Kind: activity.Ready, Service: "orders"})
	want := "orders  | 15:04:05.123 INFO  hi\n" +
		"gateway | plain\n" +
		"orders  | msx: exited with code 2\n" +
		"payments | new\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}

	buf.Reset()
	NewPrinter(&buf, []string{"a"}, PrinterOptions{Color: true}).Log("a", activity.Stdout, "x")
	if buf.String() != "\x1b[36ma |\x1b[0m x\n" {
		t.Errorf("colour: %q", buf.String())
	}
	buf.Reset()
	NewPrinter(&buf, []string{"a"}, PrinterOptions{NoPrefix: true}).Log("a", activity.Stdout, "x")
	if buf.String() != "x\n" {
		t.Errorf("no prefix: %q", buf.String())
	}
}

func TestFilter(t *testing.T) {
	info := slogLine(t, slog.LevelInfo, "a", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")
	warn := slogLine(t, slog.LevelWarn, "b", "status", 504, "trace_id", "00000000000000000000000000000001")
	plain := "plain text"
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"none", Filter{}, []string{info, warn, plain}},
		{"level warn", Filter{Level: LevelWarn}, []string{warn}},
		{"level info keeps plain", Filter{Level: LevelInfo}, []string{info, warn, plain}},
		{"trace", Filter{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}, []string{info}},
		{"trace prefix any case", Filter{TraceID: "4BF92F35"}, []string{info}},
		{"grep", Filter{Grep: regexp.MustCompile(`WARN  b|plain`)}, []string{warn, plain}},
		// What --grep searches is the line as shown, not its JSON.
		{"grep the shown text", Filter{Grep: regexp.MustCompile(`status=504`)}, []string{warn}},
		{"grep not the JSON", Filter{Grep: regexp.MustCompile(`"status"`)}, nil},
		{"grep the short trace id", Filter{Grep: regexp.MustCompile(`trace=4bf92f35$`)}, []string{info}},
		{"grep and level", Filter{Grep: regexp.MustCompile(`.`), Level: LevelError}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Renderer
			var got []string
			for _, l := range []string{info, warn, plain} {
				if tt.f.Keep(&r, []byte(l)) {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("kept %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"debug": LevelDebug, "INFO": LevelInfo, "warn": LevelWarn, "Warning": LevelWarn, "error": LevelError} {
		if got, ok := ParseLevel(in); !ok || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, ok)
		}
	}
	if _, ok := ParseLevel("loud"); ok {
		t.Error("ParseLevel(loud) ok")
	}
}

func TestMerge(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	a := []Entry{{Time: at(1), Service: "a", Line: "a1"}, {Time: at(3), Service: "a", Line: "a3"}, {Time: at(2), Service: "a", Line: "a2-late"}}
	b := []Entry{{Time: at(2), Service: "b", Line: "b2"}, {Time: at(3), Service: "b", Line: "b3"}}
	var got []string
	for _, e := range Merge([][]Entry{a, nil, b}) {
		got = append(got, e.Line)
	}
	// a2-late stays after a3: order within a service is kept.
	want := "a1 b2 a3 a2-late b3"
	if strings.Join(got, " ") != want {
		t.Errorf("merged %v, want %s", got, want)
	}
}

func FuzzRender(f *testing.F) {
	f.Add(`{"time":"2026-03-04T15:04:05.123Z","level":"INFO","msg":"x","k":"a\"b","n":[1,{"x":"}"}]}`)
	f.Add(`{"msg":"\ud83d`)
	f.Add(`{"time":"2026-03-04T15:04:05.123Z","msg":"\u001b[2J\u009b\u202e","k\u001b":"\u001b]0;t\u0007"}`)
	f.Add("plain")
	f.Add("\x1b[2J\xff")
	f.Fuzz(func(t *testing.T, line string) {
		var r Renderer
		out := r.Append(nil, []byte(line))
		var rec Record
		if !r.Parse([]byte(line), &rec) && string(out) != termtext.Line(line) {
			t.Errorf("a line that is not slog JSON is not shown as termtext shows it: %q -> %q", line, out)
		}
		if !termtext.Clean(out) {
			t.Errorf("rendered %q as %q, which a terminal would interpret", line, out)
		}
		raw := Renderer{Raw: true}
		out = raw.Append(nil, []byte(line))
		if !termtext.Clean(out) {
			t.Errorf("--json printed %q as %q, which a terminal would interpret", line, out)
		}
		if json.Valid([]byte(line)) && !json.Valid(out) {
			t.Errorf("--json made JSON %q invalid: %q", line, out)
		}
	})
}

// A program's line never reaches the terminal as control characters,
// whichever part of a slog line carries them.
func TestRenderHostile(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"plain line", "boom \x1b]0;pwned\x07\x1b[2J", `boom \x1b]0;pwned\x07\x1b[2J`},
		{"message", `{"level":"INFO","msg":"a\u001b[2Jb\u009b\u202e"}`, `INFO  a\x1b[2Jb\u009b\u202e`},
		{"value", `{"level":"INFO","msg":"m","path":"/x\u001b]0;t\u0007"}`, `INFO  m path="/x\x1b]0;t\x07"`},
		{"unquoted value", `{"level":"INFO","msg":"m","n":[1,"\u202e"]}`, `INFO  m n=[1,"\u202e"]`},
		{"key", "{\"level\":\"INFO\",\"msg\":\"m\",\"k\x1b[2J\":1}", `INFO  m k\x1b[2J=1`},
		{"time", "{\"time\":\"2026-03-04T15:04:\x1b[2J.123Z\",\"msg\":\"m\"}", `15:04:\x1b[2J.1 m`},
		{"trace id", "{\"msg\":\"m\",\"trace_id\":\"ab\x1b[2J\"}", `m trace=ab\x1b[2J`},
		{"bytes that are not UTF-8", "{\"msg\":\"a\xffb\"}", `a\xffb`},
		{"a character cut by the time's slice", "{\"time\":\"2026-03-04T15:04:05.12é\",\"msg\":\"m\"}", `15:04:05.12\xc3 m`},
		{"a character cut by the trace ID's slice", "{\"msg\":\"m\",\"trace_id\":\"abcdefgé\"}", `m trace=abcdefg\xc3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Renderer
			if got := string(r.Append(nil, []byte(tt.line))); got != tt.want {
				t.Errorf("render(%q)\n got %q\nwant %q", tt.line, got, tt.want)
			}
		})
	}
}

// msx logs --json prints what the program wrote, unless a terminal would
// interpret it: then the same JSON value, escaped.
func TestRenderRawHostile(t *testing.T) {
	r := Renderer{Raw: true}
	clean := `{"level":"INFO","msg":"caf\u00e9 \u001b ok","k":"日本"}`
	if got := string(r.Append(nil, []byte(clean))); got != clean {
		t.Errorf("a clean line changed: %q", got)
	}
	hostile := "{\"msg\": \"a\u009b2J\u202e\",\r\n \"b\":\"\xff\"}"
	got := r.Append(nil, []byte(hostile))
	if want := `{"msg":"a\u009b2J\u202e","b":"\ufffd"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := string(r.Append(nil, []byte("panic: \x1b[2J"))); got != `panic: \x1b[2J` {
		t.Errorf("a line that is not JSON: %q", got)
	}
}

func TestPrinterHostile(t *testing.T) {
	var buf bytes.Buffer
	p := NewPrinter(&buf, []string{"orders"}, PrinterOptions{})
	p.Log("orders", activity.Stdout, "a\x1b[2J\rb")
	p.LogBytes("orders", []byte("c\x1b]0;t\x07"))
	if want := "orders | a\\x1b[2J\\rb\norders | c\\x1b]0;t\\x07\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

// BenchmarkPrinter is msx logs -f's work per line of a generated service
// (a request log line through the renderer into a writer), the path that
// must keep 50k lines/s.
func BenchmarkPrinter(b *testing.B) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil)
	rec := slog.NewRecord(time.Date(2026, 3, 4, 15, 4, 5, 123456789, time.UTC), slog.LevelInfo, "request", 0)
	rec.Add("service", "orders", "method", "GET", "path", "/items/1", "status", 200, "duration_ms", 1.5,
		"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "span_id", "00f067aa0ba902b7")
	_ = h.Handle(context.Background(), rec)
	line := strings.TrimRight(buf.String(), "\n")
	p := NewPrinter(discard{}, []string{"orders"}, PrinterOptions{Color: true})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Log("orders", activity.Stdout, line)
	}
}
