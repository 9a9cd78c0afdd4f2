package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"example.com/shop/platform/breaker"
)

// tracedGateway routes /api/orders/ to an upstream that records the trace
// context and baggage it receives; spans go to the returned recorder.
func tracedGateway(t *testing.T, trust bool) (http.Handler, *tracetest.SpanRecorder, *http.Request) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	got := &http.Request{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = *r.Clone(context.Background())
	}))
	t.Cleanup(up.Close)
	g, err := newGateway(gatewayConfig{
		Routes:           []Route{{Name: "orders", Prefix: "/api/orders/", Upstream: up.URL}},
		UpstreamTimeout:  5e9,
		MaxBodyBytes:     1 << 20,
		TrustTraceparent: trust,
	}, breaker.NewRegistry(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return g, rec, got
}

const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

func outsideRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/orders/items/7", nil)
	r.Header.Set("Traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	r.Header.Set("Baggage", "user=mallory")
	return r
}

func TestSpansAreNamedByRoute(t *testing.T) {
	g, rec, _ := tracedGateway(t, false)
	g.ServeHTTP(httptest.NewRecorder(), outsideRequest())
	g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/nowhere", nil))
	var names []string
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			names = append(names, s.Name())
		}
	}
	if len(names) != 2 || names[0] != "GET /api/orders/" || names[1] != "POST" {
		t.Errorf("server span names = %q, want [GET /api/orders/ POST]", names)
	}
}

func TestOutsideRequestsStartANewTraceWithoutBaggage(t *testing.T) {
	g, rec, got := tracedGateway(t, false)
	g.ServeHTTP(httptest.NewRecorder(), outsideRequest())
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID().String() == callerTrace {
			t.Errorf("span %q joined the caller's trace", s.Name())
		}
	}
	if got.Header.Get("Baggage") != "" {
		t.Errorf("the upstream received the client's baggage %q", got.Header.Get("Baggage"))
	}
	if got.Header.Get("Traceparent") == "" {
		t.Error("the upstream received no traceparent")
	}
}

func TestTrustedCallersKeepTheirTrace(t *testing.T) {
	g, rec, got := tracedGateway(t, true)
	g.ServeHTTP(httptest.NewRecorder(), outsideRequest())
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID().String() != callerTrace {
			t.Errorf("span %q is in trace %s, want the caller's", s.Name(), s.SpanContext().TraceID())
		}
	}
	b, _ := baggage.Parse(got.Header.Get("Baggage"))
	if b.Member("user").Value() != "mallory" {
		t.Errorf("baggage = %q, want it kept", got.Header.Get("Baggage"))
	}
}
