package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestLogCarriesServiceAndTrace(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "orders", slog.LevelInfo)

	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	log.InfoContext(ctx, "hello", "n", 1)

	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, buf.Bytes())
	}
	want := map[string]any{
		"msg":      "hello",
		"service":  "orders",
		"trace_id": sc.TraceID().String(),
		"span_id":  sc.SpanID().String(),
		"level":    "INFO",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestNoTraceWithoutSpan(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "orders", slog.LevelInfo).Info("hello")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["trace_id"]; ok {
		t.Errorf("trace_id present without a span: %s", buf.Bytes())
	}
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "orders", slog.LevelWarn).Info("dropped")
	if buf.Len() != 0 {
		t.Errorf("info logged at warn level: %s", buf.Bytes())
	}
	tests := map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "WARN": slog.LevelWarn, "error": slog.LevelError}
	for in, want := range tests {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error(`ParseLevel("loud"): want an error`)
	}
}

func TestRequestsLogsWithTheRequestsTrace(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "orders", slog.LevelInfo)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0xab, 1},
		SpanID:     trace.SpanID{0xcd, 2},
		TraceFlags: trace.FlagsSampled,
	})
	h := Requests(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	for _, path := range []string{"/items/1", "/healthz", "/readyz"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r = r.WithContext(trace.ContextWithSpanContext(r.Context(), sc))
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("want exactly one JSON line (health probes not logged): %v: %s", err, buf.Bytes())
	}
	for k, v := range map[string]any{"msg": "request", "path": "/items/1", "status": float64(418), "trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
