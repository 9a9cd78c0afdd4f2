package main

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// tracing starts the span of each request. Spans are named by route
// ("GET /api/orders/"), not by path, so that msx trace groups requests.
//
// The gateway is the way in from outside, and a caller's traceparent and
// baggage are claims it cannot check: by default a request starts a new
// trace (linked to the caller's, if any) and its baggage header is
// dropped, so that a client can neither join nor pollute the traces and
// context of the services. With trust set (TRUST_TRACEPARENT=true, for a
// gateway behind another traced proxy of yours) both are kept.
func (g *gateway) tracing(trust bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		traced := otelhttp.NewHandler(next, "gateway",
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return g.spanName(r) }),
			otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return !trust }),
		)
		if trust {
			return traced
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Baggage")
			traced.ServeHTTP(w, r)
		})
	}
}

// spanName is the method and the route a request matches, or the method
// alone when no route does.
func (g *gateway) spanName(r *http.Request) string {
	p := cleanPath(r.URL.Path)
	for _, u := range g.upstreams {
		if _, ok := match(u.Prefix, p); ok {
			return r.Method + " " + u.Prefix
		}
	}
	return r.Method
}
