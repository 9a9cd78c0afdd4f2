// Package telemetry sets up OpenTelemetry tracing for a program.
//
// Spans are always created, so every request has a trace ID that logs can
// carry, and W3C trace context and baggage are always propagated. They are
// exported over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, as msx up does: a program run
// by hand without a collector prints no export errors, and records no
// span it could not send (its spans still have IDs, for the logs).
//
// What is recorded is sampled: a trace whose caller sampled it is
// recorded, and a new trace is while fewer than TRACES_PER_SECOND (default
// 100) started in the last second. A person trying the API sees every
// request; a load test keeps a steady sample instead of paying for a span
// export per request. OTEL_TRACES_SAMPLER, when set, chooses instead.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Setup installs the global tracer provider and propagator. service names
// the program unless OTEL_SERVICE_NAME is set; version is recorded as
// service.version. The exporter reads the standard OTEL_EXPORTER_OTLP_*
// variables itself (endpoint, headers, timeout).
//
// Call the returned shutdown before exit to flush spans still buffered.
func Setup(ctx context.Context, service, version string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{},
		propagation.Baggage{},
	))

	// Attributes from the environment (OTEL_SERVICE_NAME,
	// OTEL_RESOURCE_ATTRIBUTES) come last, so they override ours.
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", service),
			attribute.String("service.version", version),
		),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, err
	}

	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if Enabled() {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		if os.Getenv("OTEL_TRACES_SAMPLER") == "" {
			rate := 100.0
			if v := os.Getenv("TRACES_PER_SECOND"); v != "" {
				if rate, err = strconv.ParseFloat(v, 64); err != nil || rate < 0 {
					return nil, fmt.Errorf("TRACES_PER_SECOND: %q is not a number of traces per second", v)
				}
			}
			opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(RateLimited(rate, time.Now))))
		}
	} else {
		// Nothing leaves the process: record nothing.
		opts = append(opts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Enabled reports whether an OTLP endpoint is configured, that is whether
// spans leave the process.
func Enabled() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" ||
		os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// RateLimited samples at most perSecond new traces a second (a token
// bucket holding one second's worth), and drops the rest. now is the
// clock, time.Now outside tests.
func RateLimited(perSecond float64, now func() time.Time) sdktrace.Sampler {
	return &rateLimited{rate: perSecond, tokens: perSecond, last: now(), now: now}
}

type rateLimited struct {
	rate float64
	now  func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (s *rateLimited) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	decision := sdktrace.Drop
	now := s.now()
	s.mu.Lock()
	s.tokens = min(s.rate, s.tokens+now.Sub(s.last).Seconds()*s.rate)
	s.last = now
	if s.tokens >= 1 {
		s.tokens--
		decision = sdktrace.RecordAndSample
	}
	s.mu.Unlock()
	return sdktrace.SamplingResult{
		Decision:   decision,
		Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState(),
	}
}

func (s *rateLimited) Description() string {
	return fmt.Sprintf("RateLimited{%g/s}", s.rate)
}
