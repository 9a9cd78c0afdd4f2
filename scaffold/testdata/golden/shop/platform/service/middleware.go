package service

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"

	"example.com/shop/platform/httpjson"
	"example.com/shop/platform/inbound"
	"example.com/shop/platform/requestid"
)

// Handler wraps mux with what every service answers the same way: a span
// per request named by its route pattern, an access log line carrying the
// request id, panic recovery, JSON 404 and 405 answers, and the inbound
// middleware (the caller's deadline and identity, injected faults, JSON
// bodies only).
func Handler(mux *http.ServeMux, name string, log *slog.Logger, in inbound.Options) http.Handler {
	var h http.Handler = inbound.Wrap(jsonNotFound(mux), in)
	h = recoverPanics(h)
	h = accessLog(h, log)
	return otelhttp.NewHandler(h, name,
		// Health probes would only drown the traces that matter.
		otelhttp.WithFilter(func(r *http.Request) bool { return !probe(r) }),
		// "GET /items/{id}", not the path, so that /items/1 and /items/2
		// group together.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if _, pattern := mux.Handler(r); pattern != "" {
				return pattern
			}
			return r.Method
		}),
	)
}

func probe(r *http.Request) bool { return r.URL.Path == "/healthz" || r.URL.Path == "/readyz" }

// jsonNotFound answers in JSON where the mux would answer 404 or 405 in
// plain text, keeping the mux's Allow header.
func jsonNotFound(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			labelRoute(r, pattern)
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		if rec.status == 0 {
			rec.status = http.StatusNotFound
		}
		httpjson.Error(w, rec.status, http.StatusText(rec.status))
	})
}

// labelRoute labels the request's metrics with its route's pattern
// ("/items/{id}", without the method, as semantic conventions say).
// otelhttp would read it from r.Pattern, but the mux sets that on a copy
// of the request the middlewares made.
func labelRoute(r *http.Request, pattern string) {
	if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
		if _, path, found := strings.Cut(pattern, " "); found {
			pattern = path
		}
		l.Add(attribute.String("http.route", pattern))
	}
}

// statusRecorder keeps the status and headers a handler sets, not its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

// recoverPanics turns a panicking handler into a logged 500, so that one
// bad request does not take the process down with every other in flight.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			switch v {
			case nil:
				return
			case http.ErrAbortHandler: // the server's own way to abort a response
				panic(v)
			}
			slog.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			httpjson.Error(w, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog logs one line per request (except health probes) with the
// request id the gateway gave it, the status and the duration.
func accessLog(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probe(r) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		// In the context, the id goes on with the calls this request makes
		// (platform/httpclient sends it).
		id := r.Header.Get(requestid.Header)
		ann := &annotations{}
		ctx := context.WithValue(requestid.With(r.Context(), id), annotationsKey{}, ann)
		next.ServeHTTP(sw, r.WithContext(ctx))
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status, "bytes", sw.bytes,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
			"request_id", id}
		log.InfoContext(r.Context(), "request", append(attrs, ann.attrs()...)...)
	})
}

// Annotate adds key=value to the access log line of the request ctx
// belongs to, for what only the handler knows: a GraphQL service logs the
// operation, since every operation shares one path.
func Annotate(ctx context.Context, key string, value any) {
	if a, ok := ctx.Value(annotationsKey{}).(*annotations); ok {
		a.mu.Lock()
		a.kv = append(a.kv, key, value)
		a.mu.Unlock()
	}
}

type annotationsKey struct{}

// annotations are the attributes handlers add to their access log line;
// a handler may add them from several goroutines.
type annotations struct {
	mu sync.Mutex
	kv []any
}

func (a *annotations) attrs() []any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.kv
}

// statusWriter remembers the status and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (Flush,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
