// Package service is what every service of the workspace runs on: Run reads
// the settings, sets up logging and tracing, serves the service's routes
// with health endpoints, access logs, panic recovery and JSON 404/405
// answers, and shuts down gracefully. A service's main.go only adds its own
// routes and what they need.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"example.com/shop/platform/admin"
	"example.com/shop/platform/auth"
	"example.com/shop/platform/breaker"
	"example.com/shop/platform/config"
	"example.com/shop/platform/fault"
	"example.com/shop/platform/health"
	"example.com/shop/platform/httpclient"
	"example.com/shop/platform/inbound"
	"example.com/shop/platform/logging"
	"example.com/shop/platform/metrics"
	"example.com/shop/platform/server"
	"example.com/shop/platform/telemetry"
)

// Options names the service and says where it listens by default.
type Options struct {
	Name    string // "orders"; MSX_SERVICE overrides it
	Version string // reported by /healthz and in traces
	Port    int    // used when neither LISTEN_ADDR nor PORT is set
}

// Service is what a service's setup function wires its routes into.
type Service struct {
	Name     string
	Log      *slog.Logger
	Mux      *http.ServeMux    // add the service's routes here
	Admin    *http.ServeMux    // routes for msx only, behind the admin token
	Health   *health.Health    // add readiness checks here
	Breakers *breaker.Registry // the breakers of Client, shown by /debug/breakers

	closers  []func()
	draining atomic.Bool
}

// OnStop registers f to run after the server has drained, in reverse order
// of registration: close databases here.
func (s *Service) OnStop(f func()) { s.closers = append(s.closers, f) }

// Client returns the URL of the service dependency and a client for it
// with a timeout, retries of idempotent calls, tracing and a breaker. The
// URL is NAME_URL (ORDERS_URL for orders), as msx up sets it, or
// http://localhost:defaultPort.
func (s *Service) Client(dependency string, defaultPort int) (string, *httpclient.Client) {
	env := strings.ToUpper(strings.ReplaceAll(dependency, "-", "_")) + "_URL"
	url := config.String(env, "http://localhost:"+strconv.Itoa(defaultPort))
	return url, httpclient.New(httpclient.Options{Name: dependency}, s.Breakers)
}

// Main runs the service and exits non-zero when Run fails. Run as
// `NAME healthcheck`, it is the container's health check instead (the
// image has no shell or curl).
func Main(o Options, setup func(context.Context, *Service) error) {
	if health.IsSelfCheck(os.Args) {
		os.Exit(health.CheckSelf())
	}
	if err := Run(context.Background(), o, setup); err != nil {
		fmt.Fprintln(os.Stderr, o.Name+":", err)
		os.Exit(1)
	}
}

// Run serves until SIGINT or SIGTERM (or ctx ends). Then /readyz turns
// unready at once, requests keep being served for DRAIN_DELAY (default 2s)
// so that whoever routes here notices, and the server drains the requests
// in flight before the OnStop functions run.
func Run(ctx context.Context, o Options, setup func(context.Context, *Service) error) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	name := config.String("MSX_SERVICE", o.Name)
	level, err := logging.ParseLevel(config.String("LOG_LEVEL", "info"))
	if err != nil {
		return err
	}
	drainDelay, err := config.Duration("DRAIN_DELAY", 2*time.Second)
	if err != nil {
		return err
	}
	// Lines are written in batches (at most 50ms late), not one write
	// per request; the deferred Close writes the last ones.
	out := logging.NewBuffered(os.Stdout, 50*time.Millisecond)
	defer out.Close()
	logger := logging.New(out, name, level)
	slog.SetDefault(logger)

	shutdownTelemetry, err := telemetry.Setup(ctx, name, o.Version)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdownTelemetry(ctx)
	}()

	m := metrics.Setup()
	defer m.Shutdown(context.Background())
	// Faults are injected only when msx runs the service (MSX_FAULTS=1).
	var faults *fault.Injector
	if fault.Enabled() {
		faults = fault.New()
	}
	protected, err := config.Bool("MSX_PROTECTED", false)
	if err != nil {
		return err
	}

	s := &Service{Name: name, Log: logger, Mux: http.NewServeMux(), Admin: http.NewServeMux(), Health: health.New(name, o.Version), Breakers: breaker.NewRegistry()}
	s.Breakers.SetLogger(logger)
	s.Health.SetBreakers(s.Breakers)
	s.Health.AddCheck("shutdown", func(context.Context) error {
		if s.draining.Load() {
			return fmt.Errorf("%s is shutting down", name)
		}
		return nil
	})
	s.Health.Register(s.Mux)
	// Until setup returns (it may wait a minute for a database), the
	// service is alive but not ready: an orchestrator must not kill it.
	var setUp atomic.Bool
	s.Health.AddCheck("setup", func(context.Context) error {
		if !setUp.Load() {
			return fmt.Errorf("%s is starting", name)
		}
		return nil
	})
	defer func() {
		for i := len(s.closers) - 1; i >= 0; i-- {
			s.closers[i]()
		}
	}()

	// The server sees the signal only after the drain delay: meanwhile it
	// keeps serving, and /readyz says it is going away.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	go func() {
		<-ctx.Done()
		s.draining.Store(true)
		logger.Info("unready, draining", "delay", drainDelay.String())
		t := time.NewTimer(drainDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-serveCtx.Done():
		}
		stopServing()
	}()
	// The admin listener (breakers, metrics, detailed readiness, faults) is
	// for msx and operators; the gateway never routes to it. It starts
	// before setup, so that /healthz answers from the first instant.
	admin.Start(serveCtx, config.String("ADMIN_ADDR", "127.0.0.1:0"), admin.Options{
		Health: s.Health, Metrics: m, Faults: faults, Routes: s.Admin, Logger: logger,
	})
	if err := setup(ctx, s); err != nil {
		return err
	}
	setUp.Store(true)
	addr := config.ListenAddr(strconv.Itoa(o.Port))
	// The identity keys msx writes as files (see platform/auth); where
	// there are none, no identity token verifies or is made.
	keys, err := auth.LoadKeys(name, config.String("SECRETS_DIR", "/run/secrets"))
	if err != nil {
		return err
	}
	h := Handler(s.Mux, name, logger, inbound.Options{Protected: protected, Faults: faults, Keys: keys})
	return server.Run(serveCtx, addr, h, server.Options{Logger: logger})
}
