package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"example.com/shop/platform/breaker"
	"example.com/shop/platform/deadline"
)

// seen is what an upstream received.
type seen struct {
	Path   string      `json:"path"`
	Query  string      `json:"query"`
	Header http.Header `json:"header"`
}

// echoFuzz and newFuzzGateway are echo and newTestGateway for fuzz targets.
func echoFuzz(f *testing.F) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("X-Seen-Path", r.URL.EscapedPath())
	}))
	f.Cleanup(srv.Close)
	return srv, &calls
}

func newFuzzGateway(f *testing.F, routes string) (*gateway, *breaker.Registry) {
	rts, err := parseRoutes(routes)
	if err != nil {
		f.Fatal(err)
	}
	reg := breaker.NewRegistry()
	cfg := gatewayConfig{Routes: rts, UpstreamTimeout: 5 * time.Second, MaxBodyBytes: 1 << 10}
	g, err := newGateway(cfg, reg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	return g, reg
}

// echo is an upstream that answers with what it received, as JSON.
func echo(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		json.NewEncoder(w).Encode(seen{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func newTestGateway(t *testing.T, routes string) (*gateway, *breaker.Registry) {
	t.Helper()
	return newTestGatewayWith(t, routes, nil)
}

// newTestGatewayWith lets a test change the configuration first.
func newTestGatewayWith(t *testing.T, routes string, edit func(*gatewayConfig)) (*gateway, *breaker.Registry) {
	t.Helper()
	rts, err := parseRoutes(routes)
	if err != nil {
		t.Fatal(err)
	}
	reg := breaker.NewRegistry()
	cfg := gatewayConfig{Routes: rts, UpstreamTimeout: 5 * time.Second, MaxBodyBytes: 1 << 10}
	if edit != nil {
		edit(&cfg)
	}
	g, err := newGateway(cfg, reg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return g, reg
}

func routesJSON(pairs ...string) string {
	var parts []string
	for i := 0; i < len(pairs); i += 2 {
		parts = append(parts, `{"name":"`+pairs[i]+`","prefix":"/api/`+pairs[i]+`/","upstream":"`+pairs[i+1]+`"}`)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func do(g http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, r)
	return rec
}

func decodeSeen(t *testing.T, rec *httptest.ResponseRecorder) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatalf("status %d, body %q: %v", rec.Code, rec.Body, err)
	}
	return s
}

func TestRouting(t *testing.T) {
	orders, _ := echo(t)
	payments, _ := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL, "payments", payments.URL))

	tests := []struct {
		target, wantPath, wantQuery string
	}{
		{"/api/orders/items/1", "/items/1", ""},
		{"/api/orders/items?limit=5", "/items", "limit=5"},
		{"/api/orders/", "/", ""},
		{"/api/orders", "/", ""},
		{"/api/orders/items/", "/items/", ""},
		{"/api/orders//items/./1", "/items/1", ""},
		{"/api/payments/x", "/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := do(g, httptest.NewRequest(http.MethodGet, tt.target, nil))
			s := decodeSeen(t, rec)
			if rec.Code != 200 || s.Path != tt.wantPath || s.Query != tt.wantQuery {
				t.Errorf("got %d %q?%q, want 200 %q?%q", rec.Code, s.Path, s.Query, tt.wantPath, tt.wantQuery)
			}
		})
	}
}

func TestPathTraversalIsRoutedByCleanPath(t *testing.T) {
	orders, ordersCalls := echo(t)
	payments, _ := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL, "payments", payments.URL))

	for _, target := range []string{"/api/orders/../payments/x", "/api/orders/%2e%2e/payments/x"} {
		rec := do(g, httptest.NewRequest(http.MethodGet, target, nil))
		if s := decodeSeen(t, rec); s.Path != "/x" {
			t.Errorf("%s reached payments as %q, want /x", target, s.Path)
		}
	}
	if n := ordersCalls.Load(); n != 0 {
		t.Errorf("orders received %d requests, want 0", n)
	}

	rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/../../etc/passwd", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("escape above the routes: got %d, want 404", rec.Code)
	}
}

func TestUnknownRouteIs404JSON(t *testing.T) {
	g, _ := newTestGateway(t, "[]")
	rec := do(g, httptest.NewRequest(http.MethodGet, "/api/nope/items", nil))
	var body map[string]string
	if rec.Code != 404 || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
		t.Errorf("got %d %q, want 404 with a JSON error", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestSpoofedAndHopByHopHeadersAreStripped(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL))

	r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
	r.RemoteAddr = "192.0.2.7:4321"
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	r.Header.Set("X-Forwarded-Host", "evil.example")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("Forwarded", "for=10.0.0.1")
	r.Header.Set("X-Real-Ip", "10.0.0.1")
	r.Header.Set("X-Client-Ip", "10.0.0.1")
	r.Header.Set("True-Client-Ip", "10.0.0.1")
	r.Header.Set("X-Original-Url", "/admin")
	r.Header.Set("X-Forwarded-Prefix", "/admin")
	r.Header.Set("Connection", "X-Secret")
	r.Header.Set("X-Secret", "hop")
	r.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
	r.Header.Set("X-Kept", "yes")

	h := decodeSeen(t, do(g, r)).Header
	want := map[string]string{
		"X-Forwarded-For":     "192.0.2.7",
		"X-Forwarded-Host":    "example.com",
		"X-Forwarded-Proto":   "http",
		"Forwarded":           "",
		"X-Real-Ip":           "",
		"X-Client-Ip":         "",
		"True-Client-Ip":      "",
		"X-Original-Url":      "",
		"X-Forwarded-Prefix":  "",
		"X-Secret":            "",
		"Proxy-Authorization": "",
		"X-Kept":              "yes",
	}
	for k, v := range want {
		if got := strings.Join(h.Values(k), ","); got != v {
			t.Errorf("upstream got %s = %q, want %q", k, got, v)
		}
	}
}

// TestDeadlineGoesDownstream: the first service of a chain gets the
// gateway's budget, whatever the client claimed, so that it stops (and
// its own calls stop) when the gateway no longer waits.
func TestDeadlineGoesDownstream(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL)) // 5s
	for _, claimed := range []string{"", "999999999"} {
		req := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
		if claimed != "" {
			req.Header.Set(deadline.Header, claimed)
		}
		s := decodeSeen(t, do(g, req))
		if got := s.Header.Values(deadline.Header); len(got) != 1 || got[0] != "5000" {
			t.Errorf("client sent %q: upstream got %s %q, want 5000", claimed, deadline.Header, got)
		}
	}
}

func TestOpenBreakerAnswers503(t *testing.T) {
	var calls atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	g, reg := newTestGateway(t, routesJSON("orders", failing.URL))

	for i := 0; i < 5; i++ { // the default breaker trips after 5 failures
		if rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)); rec.Code != 503 {
			t.Fatalf("call %d: got %d, want the upstream's 503", i, rec.Code)
		}
	}
	if s := reg.States()["orders"]; s != "open" {
		t.Fatalf("breaker is %s, want open", s)
	}
	rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil))
	var body map[string]string
	if rec.Code != 503 || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
		t.Errorf("open breaker: got %d %q, want 503 with a JSON error", rec.Code, rec.Body)
	}
	if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("open breaker: Retry-After = %q, want seconds", ra)
	}
	if calls.Load() != 5 {
		t.Errorf("upstream saw %d calls, want 5: an open breaker must not forward", calls.Load())
	}
}

func TestUpstreamTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	g, _ := newTestGateway(t, routesJSON("orders", slow.URL))
	g.timeout = 20 * time.Millisecond

	if rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)); rec.Code != http.StatusGatewayTimeout {
		t.Errorf("got %d, want 504", rec.Code)
	}
}

// An https upstream goes through the fallback transport, which gets the
// gateway's upstream timeout as its context's deadline.
func TestUpstreamTimeoutIs504OverTheFallback(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			// The gateway gave up and is closing the connection. Answer
			// nothing: a 200 sent now can race the close (TLS says
			// close_notify first) and reach the gateway as a real answer
			// at its deadline.
			panic(http.ErrAbortHandler)
		}
	}))
	defer slow.Close()
	defer close(release)
	g, _ := newTestGateway(t, routesJSON("orders", slow.URL))
	g.timeout = 50 * time.Millisecond
	for _, u := range g.upstreams {
		u.proxy.Transport = newDirectTransport(slow.Client().Transport, nil, 1, time.Second)
	}
	start := time.Now()
	if rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)); rec.Code != http.StatusGatewayTimeout {
		t.Errorf("got %d, want 504", rec.Code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout took %v", d)
	}
}

func TestUnreachableUpstreamIs502(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	g, _ := newTestGateway(t, routesJSON("orders", gone.URL))
	if rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)); rec.Code != http.StatusBadGateway {
		t.Errorf("got %d, want 502", rec.Code)
	}
}

func TestBodyLimit(t *testing.T) {
	orders, calls := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL)) // limit 1 KiB
	big := strings.Repeat("x", 2<<10)
	rec := do(g, httptest.NewRequest(http.MethodPost, "/api/orders/items", strings.NewReader(big)))
	if rec.Code != http.StatusRequestEntityTooLarge || calls.Load() != 0 {
		t.Errorf("got %d with %d upstream calls, want 413 and none", rec.Code, calls.Load())
	}
}

func TestRequestID(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL))

	// Generated when absent, the same on the response and upstream.
	rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil))
	id := rec.Header().Get("X-Request-Id")
	if id == "" || decodeSeen(t, rec).Header.Get("X-Request-Id") != id {
		t.Errorf("generated id %q not passed upstream", id)
	}

	// Kept when well formed.
	r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
	r.Header.Set("X-Request-Id", "abc-123")
	if rec := do(g, r); rec.Header().Get("X-Request-Id") != "abc-123" || decodeSeen(t, rec).Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("valid incoming id not kept: %q", rec.Header().Get("X-Request-Id"))
	}

	// Replaced when not.
	r = httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
	r.Header.Set("X-Request-Id", "bad id\"{}")
	if got := do(g, r).Header().Get("X-Request-Id"); got == "" || got == "bad id\"{}" {
		t.Errorf("malformed incoming id kept: %q", got)
	}
}

func TestProtectedRouteFailsClosed(t *testing.T) {
	orders, calls := echo(t)
	g, _ := newTestGateway(t, `[{"name":"orders","prefix":"/api/orders/","upstream":"`+orders.URL+`","protected":true}]`)
	if rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)); rec.Code != http.StatusUnauthorized || calls.Load() != 0 {
		t.Errorf("got %d with %d upstream calls, want 401 and none", rec.Code, calls.Load())
	}
}

func TestParseRoutesRejectsBadInput(t *testing.T) {
	for _, in := range []string{
		`{}`,
		`[{"name":"orders","prefix":"/api/orders/","upstream":"http://orders:8081","extra":1}]`,
		`[{"name":"","prefix":"/api/orders/","upstream":"http://orders:8081"}]`,
		`[{"name":"orders","prefix":"api/orders","upstream":"http://orders:8081"}]`,
		`[{"name":"orders","prefix":"/api/../orders/","upstream":"http://orders:8081"}]`,
		`[{"name":"orders","prefix":"/api/orders/","upstream":"ftp://orders"}]`,
		`[{"name":"a","prefix":"/api/a/","upstream":"http://a"},{"name":"b","prefix":"/api/a/","upstream":"http://b"}]`,
	} {
		if _, err := parseRoutes(in); err == nil {
			t.Errorf("parseRoutes accepted %s", in)
		}
	}
}
