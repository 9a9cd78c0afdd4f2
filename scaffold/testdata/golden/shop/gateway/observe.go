package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// observer is what the gateway records of each request: a span, its
// duration in the http.server.request.duration histogram, and an access
// log line. They share one middleware, so that a request pays for one
// response recorder, one clock reading and one route lookup.
//
// Spans are named by route ("GET /api/orders/"), not by path, so that msx
// trace groups requests. The gateway is the way in from outside, and a
// caller's traceparent and baggage are claims it cannot check: by default
// a request starts a new trace (linked to the caller's, if any) and its
// baggage header is dropped, so that a client can neither join nor pollute
// the traces and context of the services. With trust set
// (TRUST_TRACEPARENT=true, for a gateway behind another traced proxy of
// yours) both are kept.
type observer struct {
	g        *gateway
	trust    bool
	log      *slog.Logger
	access   *accessLog // nil: access lines go through log
	tracer   trace.Tracer
	duration metric.Float64Histogram

	// attrs caches the metric attributes of each route, method and
	// status, so that recording a duration allocates nothing.
	attrs sync.Map // metricKey -> metric.MeasurementOption
}

type metricKey struct {
	route, method string
	status        int
}

func newObserver(g *gateway, trust bool, log *slog.Logger, access *accessLog) *observer {
	o := &observer{g: g, trust: trust, log: log, access: access, tracer: otel.Tracer("gateway")}
	o.duration, _ = otel.Meter("gateway").Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of the requests the gateway answered, by route, method and status."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	return o
}

func (o *observer) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		opts := serverSpan
		if o.trust {
			ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
		} else {
			opts = newRootSpan
			delete(r.Header, "Baggage") // keys are canonical: no Del's canonicalising
			if r.Header.Get("Traceparent") != "" {
				caller := propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(r.Header))
				if sc := trace.SpanContextFromContext(caller); sc.IsValid() {
					opts = append(newRootSpan[:len(newRootSpan):len(newRootSpan)], trace.WithLinks(trace.Link{SpanContext: sc}))
				}
			}
		}
		route, name := o.g.routeOf(r)
		ctx, span := o.tracer.Start(ctx, name, opts...)
		defer span.End()
		if span.IsRecording() {
			span.SetAttributes(
				attribute.String("http.request.method", r.Method),
				attribute.String("url.path", r.URL.Path),
			)
			if route != "" {
				span.SetAttributes(attribute.String("http.route", route))
			}
		}

		rec := &responseRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		elapsed := time.Since(start)

		if span.IsRecording() {
			span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
			if rec.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rec.status))
			}
		}
		o.duration.Record(ctx, elapsed.Seconds(), o.metricAttrs(route, r.Method, rec.status))
		if o.access != nil {
			o.access.write(entry{method: r.Method, path: r.URL.Path, requestID: r.Header.Get(requestIDHeader),
				status: rec.status, bytes: rec.bytes, elapsed: elapsed, span: span.SpanContext()})
			return
		}
		o.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("request_id", r.Header.Get(requestIDHeader)),
		)
	})
}

// The options of the gateway's spans, made once: a server span, and one
// that starts a new trace (linked to the caller's, when there is one).
var (
	serverSpan  = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	newRootSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithNewRoot()}
)

// metricAttrs returns the attributes of a duration, made once per route,
// method and status. Methods outside the standard ones are "_OTHER", so
// that a client cannot grow the set.
func (o *observer) metricAttrs(route, method string, status int) metric.MeasurementOption {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
	default:
		method = "_OTHER"
	}
	k := metricKey{route, method, status}
	if v, ok := o.attrs.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	kvs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.Int("http.response.status_code", status),
	}
	if route != "" {
		kvs = append(kvs, attribute.String("http.route", route))
	}
	v, _ := o.attrs.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(kvs...)))
	return v.(metric.MeasurementOption)
}

// injectTrace replaces whatever trace context a request to an upstream
// carries with the gateway's own span (and, when trusted, the caller's
// baggage), so that the upstream's spans are children of the gateway's.
func injectTrace(ctx context.Context, h http.Header) {
	// The server and the proxy canonicalise header names: deleting the
	// canonical names needs no canonicalising per call, as Del does.
	delete(h, "Traceparent")
	delete(h, "Tracestate")
	delete(h, "Baggage")
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
}

// routeOf is the prefix of the route a request matches, or "", and the
// name of its span: "METHOD PREFIX" (or the method alone). The names of
// the standard methods are made once per route.
func (g *gateway) routeOf(r *http.Request) (route, name string) {
	p := cleanPath(r.URL.Path)
	for _, u := range g.upstreams {
		if _, ok := match(u.Prefix, p); ok {
			if n, ok := u.spanNames[r.Method]; ok {
				return u.Prefix, n
			}
			return u.Prefix, r.Method + " " + u.Prefix
		}
	}
	return "", r.Method
}

// spanNames are the span names of a route for the standard methods.
func spanNames(prefix string) map[string]string {
	m := map[string]string{}
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		m[method] = method + " " + prefix
	}
	return m
}

// responseRecorder notes the status and size of a response. Unwrap lets
// http.ResponseController reach the real writer, for flushing streams.
type responseRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *responseRecorder) WriteHeader(status int) {
	// A 1xx (100 Continue, 103 Early Hints) is not the answer: the final
	// status follows, and that is the one to log.
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		r.ResponseWriter.WriteHeader(status)
		return
	}
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *responseRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
