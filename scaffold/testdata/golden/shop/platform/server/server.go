// Package server runs an HTTP server until its context ends, then shuts it
// down gracefully: it stops accepting connections and lets requests in
// flight finish, for at most a drain timeout.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Options tunes the server. The zero value of a field means its default.
type Options struct {
	ReadHeaderTimeout time.Duration // default 5s: bounds slowloris clients
	ReadTimeout       time.Duration // default 30s: whole request, body included
	WriteTimeout      time.Duration // default 60s: from end of headers to end of response
	IdleTimeout       time.Duration // default 120s: keep-alive connections
	MaxHeaderBytes    int           // default 64 KiB
	DrainTimeout      time.Duration // default 10s: graceful shutdown budget
	Logger            *slog.Logger  // default slog.Default()
}

func (o Options) withDefaults() Options {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 5 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Run listens on addr and serves h until ctx is done (make ctx with
// signal.NotifyContext to stop on SIGINT and SIGTERM), then drains.
// It returns nil after a clean shutdown.
func Run(ctx context.Context, addr string, h http.Handler, opts Options) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, h, opts)
}

// Serve is Run on a listener the caller opened; it closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts Options) error {
	opts = opts.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		// Requests see ctx's values but not its cancellation: a signal
		// starts the drain, it does not abort the requests in flight.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	opts.Logger.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err // Serve failed before any shutdown was asked for
	case <-ctx.Done():
	}

	opts.Logger.Info("shutting down", "drain_timeout", opts.DrainTimeout.String())
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.DrainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		srv.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
