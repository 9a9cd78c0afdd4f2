// Command gateway is the API gateway of shop: it routes /api/NAME/...
// to service NAME, with request IDs, tracing, access logs, body limits,
// timeouts and a circuit breaker per upstream.
//
// The route table comes from MSX_ROUTES (JSON), which msx up sets from
// msx.yaml, so adding a service never changes this code.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/shop/platform/breaker"
	"example.com/shop/platform/config"
	"example.com/shop/platform/health"
	"example.com/shop/platform/logging"
	"example.com/shop/platform/server"
	"example.com/shop/platform/telemetry"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	level, err := logging.ParseLevel(config.String("LOG_LEVEL", "info"))
	if err != nil {
		return err
	}
	logger := logging.New(os.Stdout, "gateway", level)
	slog.SetDefault(logger)

	cfg, err := loadConfig()
	if err != nil {
		return err
	}

	shutdownTelemetry, err := telemetry.Setup(ctx, "gateway", Version)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdownTelemetry(ctx)
	}()

	breakers := breaker.NewRegistry()
	gw, err := newGateway(cfg, breakers, logger)
	if err != nil {
		return err
	}
	for _, rt := range cfg.Routes {
		logger.Info("route", "prefix", rt.Prefix, "upstream", rt.Upstream, "protected", rt.Protected)
	}

	mux := http.NewServeMux()
	h := health.New("gateway", Version)
	h.SetBreakers(breakers)
	h.Register(mux)
	mux.Handle("/", gw)

	return server.Run(ctx, config.ListenAddr("8080"), mux, server.Options{Logger: logger})
}

// gatewayConfig is everything the gateway reads from its environment.
type gatewayConfig struct {
	Routes          []Route
	UpstreamTimeout time.Duration
	MaxBodyBytes    int64
	// TrustTraceparent keeps the caller's trace and baggage (see tracing).
	TrustTraceparent bool
}

func loadConfig() (gatewayConfig, error) {
	var cfg gatewayConfig
	var err error
	if cfg.Routes, err = parseRoutes(config.String("MSX_ROUTES", "[]")); err != nil {
		return cfg, err
	}
	if cfg.UpstreamTimeout, err = config.Duration("UPSTREAM_TIMEOUT", 30*time.Second); err != nil {
		return cfg, err
	}
	if cfg.MaxBodyBytes, err = config.Int64("MAX_BODY_BYTES", 10<<20); err != nil {
		return cfg, err
	}
	if cfg.TrustTraceparent, err = config.Bool("TRUST_TRACEPARENT", false); err != nil {
		return cfg, err
	}
	return cfg, nil
}
