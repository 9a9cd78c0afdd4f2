package trace

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/templates/collector/spans"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./trace -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func span(id, parent, name, svc string, startMS, durMS float64, errMsg string, attrs ...spans.Attr) Span {
	return Span{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: id, ParentID: parent, Name: name, Service: svc,
		Start:      t0.Add(time.Duration(startMS * float64(time.Millisecond))),
		DurationNS: int64(durMS * float64(time.Millisecond)),
		Error:      errMsg != "", Status: errMsg, Attrs: attrs,
	}
}

// sample is a request through the gateway to orders, which calls payments
// (in error) and catalog, plus a span whose parent never arrived.
func sample() Trace {
	return Trace{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Spans: []Span{
		span("0000000000000001", "", "GET /api/orders/", "gateway", 0, 120, "",
			spans.Attr{Key: "http.request.method", Value: "GET"}, spans.Attr{Key: "http.response.status_code", Value: "502"}, spans.Attr{Key: "url.scheme", Value: "http"}),
		span("0000000000000002", "0000000000000001", "HTTP GET", "gateway", 1, 118, ""),
		span("0000000000000003", "0000000000000002", "GET /upstream", "orders", 3, 110, ""),
		span("0000000000000005", "0000000000000003", "HTTP GET", "orders", 60, 45, "", spans.Attr{Key: "server.address", Value: "catalog"}),
		span("0000000000000004", "0000000000000003", "HTTP GET", "orders", 5, 50, "upstream failed", spans.Attr{Key: "server.address", Value: "payments"}),
		span("0000000000000006", "0000000000000004", "GET /items", "payments", 7, 0.8, "dial tcp: connection refused"),
		span("0000000000000009", "00000000000000ff", "SELECT items", "catalog", 62, 0.04, ""),
	}}
}

func TestWaterfall(t *testing.T) {
	golden(t, "waterfall.txt", Waterfall(sample(), Style{Width: 120}))
	golden(t, "waterfall-narrow-color.txt", Waterfall(sample(), Style{Width: 60, Color: true}))
	golden(t, "waterfall-empty.txt", Waterfall(Trace{TraceID: "ab"}, Style{}))
}

func TestList(t *testing.T) {
	list := []Summary{
		{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Root: "GET /api/orders/", Path: "/api/orders/items", RootService: "gateway", Start: t0, DurationNS: int64(120 * time.Millisecond), Spans: 7, Errors: 2, Services: []string{"catalog", "gateway", "orders", "payments"}},
		{TraceID: "00f067aa0ba902b700f067aa0ba902b7", Root: "POST /api/payments/", RootService: "gateway", Start: t0.Add(-time.Minute), DurationNS: 870_000, Spans: 3, Services: []string{"gateway", "payments"}},
		{TraceID: "11111111111111111111111111111111", Start: t0.Add(-2 * time.Minute), DurationNS: 2_500_000_000, Spans: 1, Services: []string{"orders"}},
	}
	golden(t, "list.txt", List(list, Style{Now: t0.Add(3 * time.Second)}))
	golden(t, "list-narrow.txt", List(list, Style{Width: 80}))
	golden(t, "list-empty.txt", List(nil, Style{}))
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		500: "500ns", 870 * time.Microsecond: "870µs", 12340 * time.Microsecond: "12.3ms", 999_960 * time.Microsecond: "1000ms",
		1250 * time.Millisecond: "1.25s", 90 * time.Second: "1m30s", time.Millisecond: "1ms",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %s, want %s", d, got, want)
		}
	}
}

func TestClient(t *testing.T) {
	store, _ := spans.Open(spans.Options{MaxSpans: 100})
	srv := httptest.NewServer(spans.NewHandler(store, nil, nil))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	list, err := c.List(context.Background(), Query{Service: "x", MinDuration: time.Second, Errors: true, Limit: 3})
	if err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v", list, err)
	}
	if _, err := c.Get(context.Background(), "abcd"); err != ErrNotFound {
		t.Errorf("Get = %v, want ErrNotFound", err)
	}
	b, _ := json.Marshal(sample())
	if len(b) == 0 {
		t.Fatal("sample does not marshal")
	}
}

// TestFinder looks the collector up once, keeps its address while it
// answers (a trace not found included), and looks it up again after a
// read fails: the collector was recreated on another port.
func TestFinder(t *testing.T) {
	store, _ := spans.Open(spans.Options{MaxSpans: 100})
	first := httptest.NewServer(spans.NewHandler(store, nil, nil))
	second := httptest.NewServer(spans.NewHandler(store, nil, nil))
	defer second.Close()
	finds := 0
	at := first.URL
	f := &Finder{Find: func(context.Context) (string, error) {
		finds++
		if at == "" {
			return "", errors.New("the collector is not running yet")
		}
		return at, nil
	}}
	ctx := context.Background()
	if _, err := f.List(ctx, Query{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(ctx, "abcd"); err != ErrNotFound {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	if _, err := f.List(ctx, Query{}); err != nil || finds != 1 {
		t.Fatalf("List = %v after %d lookups, want 1", err, finds)
	}
	first.Close()
	at = ""
	if _, err := f.List(ctx, Query{}); err == nil {
		t.Fatal("a read of a closed collector did not fail")
	}
	if _, err := f.List(ctx, Query{}); err == nil || err.Error() != "the collector is not running yet" || finds != 2 {
		t.Fatalf("List = %v after %d lookups", err, finds)
	}
	at = second.URL
	if _, err := f.List(ctx, Query{}); err != nil || finds != 3 {
		t.Fatalf("List = %v after %d lookups, want the second collector found", err, finds)
	}
}

// A client's request path with escape sequences (the gateway names its
// span after it) and a program's attributes are shown escaped by both the
// list and the waterfall.
func TestRenderHostile(t *testing.T) {
	evil := "/api/orders/\x1b]0;pwned\x07\x1b[2J\u009b\u202e"
	tr := Trace{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Spans: []Span{
		span("0000000000000001", "", "GET "+evil, "gate\x1b[31mway", 0, 10, "boom\x1b[2J",
			spans.Attr{Key: "url.path", Value: evil}),
	}}
	list := List([]Summary{{TraceID: tr.TraceID + "\x1b[2J", Root: "GET " + evil, Spans: 1, Services: []string{"gate\x1b[31mway"}, Start: t0}}, Style{})
	water := Waterfall(tr, Style{Width: 200})
	for name, out := range map[string]string{"list": list, "waterfall": water} {
		if strings.ContainsAny(out, "\x1b\x07\u009b\u202e") {
			t.Errorf("%s prints a control character raw:\n%q", name, out)
		}
		if !strings.Contains(out, `\x1b]0;pwned\x07\x1b[2J`) {
			t.Errorf("%s does not show the path escaped:\n%q", name, out)
		}
	}
	if !strings.Contains(water, `url.path=/api/orders/\x1b]0;pwned`) || !strings.Contains(water, `error: boom\x1b[2J`) {
		t.Errorf("waterfall details:\n%s", water)
	}
	if tr.Spans[0].Name != "GET "+evil {
		t.Error("Waterfall changed its argument")
	}
}

func TestParseID(t *testing.T) {
	for in, want := range map[string]string{
		"4BF92F35":                         "4bf92f35",
		"4bf92f3577b34da6a3ce929d0e0e4736": "4bf92f3577b34da6a3ce929d0e0e4736",
	} {
		if got, ok := ParseID(in); !ok || got != want {
			t.Errorf("ParseID(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"4bf92f3577b34da6a3ce929d0e0e47360", "xyz", "4bf9-2f35", " 4bf9"} {
		if got, ok := ParseID(in); ok {
			t.Errorf("ParseID(%q) = %q, ok; want refused", in, got)
		}
	}
}

func TestBegan(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first := now.Add(-time.Minute)
	tr := Trace{Spans: []Span{{Start: now.Add(-time.Second)}, {Start: first}}}
	if got := Began(tr, now); !got.Equal(first) {
		t.Errorf("Began = %v, want the first span's start %v", got, first)
	}
	if got := Began(Trace{}, now); !got.Equal(now) {
		t.Errorf("Began of no spans = %v, want now", got)
	}
}
