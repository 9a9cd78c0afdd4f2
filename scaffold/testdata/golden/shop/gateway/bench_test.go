package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"example.com/shop/platform/breaker"
)

// BenchmarkGateway measures the gateway's own work per proxied request
// (default middleware, access log, an unsampled span, the direct
// transport) against an httptest upstream on 127.0.0.1. Run it with
// -benchmem, and -cpuprofile to see where the time goes.
func BenchmarkGateway(b *testing.B) {
	body := []byte(`{"ok":true}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer up.Close()
	g, _ := benchGateway(b, up.URL)
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/orders/items", nil)
	req.RemoteAddr = "127.0.0.1:50000"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(context.Background())
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGatewayNoIO is BenchmarkGateway with the upstream answered in
// memory (the breaker and everything before it run; the transport and the
// sockets do not): the gateway's own CPU per request, without the noise
// of syscalls on a busy machine.
func BenchmarkGatewayNoIO(b *testing.B) {
	g, reg := benchGateway(b, "http://127.0.0.1:1")
	answer := memoryUpstream{body: `{"ok":true}`}
	for _, u := range g.upstreams {
		u.proxy.Transport = reg.New(u.Name+"-bench", breaker.Config{Classify: classify}).Transport(answer)
	}
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/orders/items", nil)
	req.RemoteAddr = "127.0.0.1:50000"
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(context.Background())
		clear(w.h)
		w.status = 0
		g.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// benchGateway is the gateway as it runs by default (the middleware, the
// access log, spans not sampled as without a collector) with one route,
// /api/orders/ to upstream.
func benchGateway(b *testing.B, upstream string) (*gateway, *breaker.Registry) {
	b.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	b.Cleanup(func() {
		otel.SetTracerProvider(prev)
		tp.Shutdown(context.Background())
	})
	rts, err := parseRoutes(`[{"name":"orders","prefix":"/api/orders/","upstream":"` + upstream + `"}]`)
	if err != nil {
		b.Fatal(err)
	}
	cfg := gatewayConfig{Routes: rts, UpstreamTimeout: 30 * time.Second, MaxBodyBytes: 10 << 20,
		AccessLog: newAccessLog(io.Discard, "gateway")}
	cfg.Edge.AllowedHosts = list("localhost,*.localhost,127.0.0.1,::1")
	reg := breaker.NewRegistry()
	g, err := newGateway(cfg, reg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	return g, reg
}

// memoryUpstream answers every request with body.
type memoryUpstream struct{ body string }

func (m memoryUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(m.body)),
		Body:          io.NopCloser(strings.NewReader(m.body)),
		Request:       req,
	}, nil
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}
