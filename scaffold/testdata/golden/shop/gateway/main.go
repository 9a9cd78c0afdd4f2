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
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"example.com/shop/platform/admin"
	"example.com/shop/platform/auth"
	"example.com/shop/platform/breaker"
	"example.com/shop/platform/config"
	"example.com/shop/platform/health"
	"example.com/shop/platform/logging"
	"example.com/shop/platform/metrics"
	"example.com/shop/platform/server"
	"example.com/shop/platform/telemetry"
)

func main() {
	if health.IsSelfCheck(os.Args) {
		os.Exit(health.CheckSelf()) // the container's health check
	}
	if len(os.Args) == 4 && os.Args[1] == installSecretsArg {
		if err := installSecrets(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "gateway: installing the keys:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	// The gateway keeps little and makes garbage per request: collecting
	// at 5x the live heap rather than 2x spends a few MB to save CPU
	// (GOGC, when set, decides instead).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	level, err := logging.ParseLevel(config.String("LOG_LEVEL", "info"))
	if err != nil {
		return err
	}
	// Lines are written in batches (at most 50ms late), not one write
	// per request; the deferred Close writes the last ones.
	out := logging.NewBuffered(os.Stdout, 50*time.Millisecond)
	defer out.Close()
	logger := logging.New(out, "gateway", level)
	slog.SetDefault(logger)

	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if level <= slog.LevelInfo {
		cfg.AccessLog = newAccessLog(out, "gateway")
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

	m := metrics.Setup()
	defer m.Shutdown(context.Background())

	breakers := breaker.NewRegistry()
	breakers.SetLogger(logger)
	gw, err := newGateway(cfg, breakers, logger)
	if err != nil {
		return err
	}
	for _, rt := range cfg.Routes {
		logger.Info("route", "prefix", rt.Prefix, "upstream", rt.Upstream, "protected", rt.Protected)
	}

	h := health.New("gateway", Version)
	h.SetBreakers(breakers)
	// Breakers, metrics and detailed readiness are on the admin listener,
	// which msx reads on 127.0.0.1; the public one never shows them.
	admin.Start(ctx, config.String("ADMIN_ADDR", "127.0.0.1:0"), admin.Options{Health: h, Metrics: m, Logger: logger})

	mux := http.NewServeMux()
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
	Edge             edgeConfig
	Auth             authConfig
	// AccessLog writes each request's log line straight to the log's
	// output; nil sends it through the logger.
	AccessLog *accessLog
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
	cfg.Edge.AllowedHosts = list(config.String("ALLOWED_HOSTS", "localhost,*.localhost,127.0.0.1,::1"))
	cfg.Edge.CORSOrigins = list(config.String("CORS_ORIGINS", ""))
	if v := config.String("RATE_LIMIT", "0"); v != "" {
		if cfg.Edge.RateLimit, err = strconv.ParseFloat(v, 64); err != nil || cfg.Edge.RateLimit < 0 {
			return cfg, fmt.Errorf("RATE_LIMIT: %q is not a number of requests per second", v)
		}
	}
	if cfg.Edge.RateBurst, err = config.Int("RATE_BURST", 0); err != nil {
		return cfg, err
	}
	for _, p := range list(config.String("TRUSTED_PROXIES", "")) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return cfg, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR range such as 10.0.0.0/8", p)
		}
		cfg.Edge.TrustedProxies = append(cfg.Edge.TrustedProxies, prefix)
	}

	// Keys: from the environment, or the files in SECRETS_DIR (msx up
	// writes the workspace's .msx/secrets/gateway-* keys there).
	dir := config.String("SECRETS_DIR", "")
	if cfg.Auth.JWTKey, err = readSecret("JWT_KEY", dir, "jwt.pem"); err != nil {
		return cfg, err
	}
	if cfg.Auth.JWTKey == "" {
		if cfg.Auth.JWTKey, err = readSecret("JWT_KEY", dir, "jwt.secret"); err != nil {
			return cfg, err
		}
	}
	if cfg.Auth.APIKeys, err = readSecret("API_KEYS", dir, "api-keys"); err != nil {
		return cfg, err
	}
	// Algorithm names are case-sensitive (RS256, EdDSA): not lowered.
	for _, a := range strings.Split(config.String("JWT_ALGORITHMS", ""), ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.Auth.JWTAlgorithms = append(cfg.Auth.JWTAlgorithms, a)
		}
	}
	cfg.Auth.JWTIssuer = config.String("JWT_ISSUER", "")
	cfg.Auth.JWTAudience = config.String("JWT_AUDIENCE", "")
	if cfg.Auth.JWTAnyIssuer, err = config.Bool("JWT_ANY_ISSUER", false); err != nil {
		return cfg, err
	}
	if cfg.Auth.JWTAnyAudience, err = config.Bool("JWT_ANY_AUDIENCE", false); err != nil {
		return cfg, err
	}
	if dir != "" {
		if cfg.Auth.Identity, err = auth.LoadKeys(auth.Gateway, dir); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// list splits a comma-separated setting of host names or origins, in
// lower case, dropping empty items.
func list(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, strings.ToLower(item))
		}
	}
	return out
}
