// Package admin serves a program's internal endpoints on a listener of
// their own, which the gateway never routes and msx reaches through a port
// published on 127.0.0.1 only:
//
//	GET /healthz, GET /readyz  (with the failing check and its error)
//	GET /debug/breakers        each circuit breaker's state
//	GET /metrics               Prometheus text: requests, durations, breakers
//	GET, PUT /debug/fault      the injected faults, when fault injection is on
//	GET /debug/pprof/          the Go profiler (go tool pprof URL)
package admin

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"example.com/shop/platform/fault"
	"example.com/shop/platform/health"
	"example.com/shop/platform/server"
)

// Options is what the admin listener shows.
type Options struct {
	Health  *health.Health
	Metrics http.Handler    // *metrics.Metrics
	Faults  *fault.Injector // nil when fault injection is off
	Logger  *slog.Logger
}

// Handler returns the admin endpoints.
func Handler(opts Options) http.Handler {
	mux := http.NewServeMux()
	opts.Health.RegisterAdmin(mux)
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	if opts.Faults != nil {
		mux.Handle("/debug/fault", opts.Faults)
	}
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// Start serves the admin endpoints on addr until ctx is done, in the
// background; a failure to serve is logged, not fatal, because the
// program's real work is on its public listener.
func Start(ctx context.Context, addr string, opts Options) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("listener", "admin")
	go func() {
		if err := server.Run(ctx, addr, Handler(opts), server.Options{Logger: log}); err != nil {
			log.Error("admin listener failed", "addr", addr, "error", err.Error())
		}
	}()
}
