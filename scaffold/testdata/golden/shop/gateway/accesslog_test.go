package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"example.com/shop/platform/logging"
)

// The access log's own line says what the workspace's JSON logger would,
// field for field, whatever the path holds.
func TestAccessLogLineIsTheLoggersLine(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xff},
		SpanID:  trace.SpanID{0xab, 2, 3, 4, 5, 6, 7, 8},
	})
	for _, path := range []string{
		"/api/orders/items", `/quote"and\backslash`, "/ctl\x00\x1f\n\r\t", "/bad\xff\xfeutf8", "/é/日本", "/sep\u2028\u2029",
		"/<script>&", "/" + strings.Repeat("x", 2000),
	} {
		for _, span := range []trace.SpanContext{sc, {}} {
			var fast, slow bytes.Buffer
			newAccessLog(&fast, "gateway").write(entry{method: "GET", path: path, requestID: "req-1", status: 201,
				bytes: 13, elapsed: 1234567 * time.Nanosecond, span: span})
			logging.New(&slow, "gateway", slog.LevelInfo).LogAttrs(trace.ContextWithSpanContext(context.Background(), span),
				slog.LevelInfo, "request",
				slog.String("method", "GET"), slog.String("path", path), slog.Int("status", 201), slog.Int64("bytes", 13),
				slog.Float64("duration_ms", 1.234), slog.String("request_id", "req-1"))
			if n := strings.Count(fast.String(), "\n"); n != 1 || !strings.HasSuffix(fast.String(), "}\n") {
				t.Fatalf("path %q: not one line: %q", path, fast.String())
			}
			var a, b map[string]any
			if err := json.Unmarshal(fast.Bytes(), &a); err != nil {
				t.Fatalf("path %q: not JSON: %v: %s", path, err, fast.Bytes())
			}
			if err := json.Unmarshal(slow.Bytes(), &b); err != nil {
				t.Fatal(err)
			}
			if _, err := time.Parse(time.RFC3339Nano, a["time"].(string)); err != nil {
				t.Errorf("time %q: %v", a["time"], err)
			}
			delete(a, "time")
			delete(b, "time")
			if !reflect.DeepEqual(a, b) {
				t.Errorf("path %q:\n own line    %v\n logger line %v", path, a, b)
			}
		}
	}
}
