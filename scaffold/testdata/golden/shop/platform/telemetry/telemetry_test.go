package telemetry

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestSetupWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	if Enabled() {
		t.Fatal("Enabled() = true with no endpoint")
	}
	shutdown, err := Setup(context.Background(), "orders", "0.1.0")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	defer shutdown(context.Background())

	// Spans get real IDs even without an exporter, so logs carry trace IDs.
	ctx, span := otel.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	if !span.SpanContext().IsValid() {
		t.Fatal("span has no valid context")
	}

	// And they propagate as W3C traceparent.
	h := http.Header{}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
	if h.Get("traceparent") == "" {
		t.Errorf("no traceparent injected: %v", h)
	}
}

func TestEnabled(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	if !Enabled() {
		t.Error("Enabled() = false with an endpoint set")
	}
}

func TestRateLimitedSamplesAtMostTheRate(t *testing.T) {
	now := time.Unix(1000, 0)
	s := RateLimited(10, func() time.Time { return now })
	sampled := func(n int) (k int) {
		for range n {
			if s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background()}).Decision == sdktrace.RecordAndSample {
				k++
			}
		}
		return k
	}
	if k := sampled(100); k != 10 {
		t.Errorf("a burst of 100 at once: %d sampled, want 10", k)
	}
	now = now.Add(500 * time.Millisecond)
	if k := sampled(100); k != 5 {
		t.Errorf("100 more half a second later: %d sampled, want 5", k)
	}
	now = now.Add(time.Hour) // a quiet hour refills one second's worth, no more
	if k := sampled(100); k != 10 {
		t.Errorf("after an hour: %d sampled, want 10", k)
	}
}

func TestWithoutEndpointNothingIsRecorded(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	shutdown, err := Setup(context.Background(), "orders", "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	_, span := otel.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	if span.IsRecording() {
		t.Error("a span is recorded with nowhere to send it")
	}
}

func TestTracesPerSecondMustBeANumber(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_TRACES_SAMPLER", "")
	t.Setenv("TRACES_PER_SECOND", "lots")
	if _, err := Setup(context.Background(), "orders", "0.1.0"); err == nil {
		t.Error("Setup accepted TRACES_PER_SECOND=lots")
	}
}
