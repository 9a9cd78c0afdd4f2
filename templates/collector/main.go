// Command collector is the trace collector msx runs beside a project: it
// receives the spans of every service and the gateway over OTLP/HTTP
// (protobuf or JSON) on /v1/traces, keeps the most recent ones in DATA_DIR
// (a volume, so they outlive a restart and go only with msx down
// --volumes), and answers msx trace on /api/traces. msx embeds this source
// and compiles it like the gateway; it is not meant to be edited.
//
// Environment: LISTEN_ADDR (default :4318), DATA_DIR (default /data),
// MAX_SPANS (default 200000), FORWARD_ENDPOINT (another OTLP/HTTP endpoint
// that also receives every span; none by default).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/msx-dev/msx/templates/collector/spans"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == healthcheckArg {
		os.Exit(checkSelf(env("LISTEN_ADDR", ":4318")))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "collector:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "collector")

	max, err := strconv.Atoi(env("MAX_SPANS", "200000"))
	if err != nil || max < 1 {
		return fmt.Errorf("MAX_SPANS %q is not a positive number", os.Getenv("MAX_SPANS"))
	}
	// The container has 512 MiB: spans take at most about 96 MiB, each
	// of the spans.Decoders requests at most about 150 MiB while decoded,
	// and the collector works harder at collecting garbage before the
	// kernel's limit, not after (GOMEMLIMIT, when set, decides instead).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(400 << 20)
	}
	store, err := spans.Open(spans.Options{Dir: env("DATA_DIR", "/data"), MaxSpans: max, MaxBytes: 96 << 20})
	if err != nil {
		return fmt.Errorf("opening the span store: %w", err)
	}
	defer store.Close()

	var forward func([]byte)
	if ep := os.Getenv("FORWARD_ENDPOINT"); ep != "" {
		f := spans.NewForwarder(ep, log)
		go f.Run(ctx)
		forward = f.Send
		log.Info("forwarding spans", "endpoint", ep)
	}

	h := spans.NewHandler(store, forward, log)
	// The query API also answers to the container's own names.
	h.Hosts = append(h.Hosts, env("MSX_SERVICE", "collector"))
	if name, err := os.Hostname(); err == nil {
		h.Hosts = append(h.Hosts, strings.ToLower(name))
	}
	srv := &http.Server{
		Addr:              env("LISTEN_ADDR", ":4318"),
		Handler:           h,
		MaxHeaderBytes:    64 << 10,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(newLimitListener(ln, maxConns)) }()
	log.Info("listening", "addr", srv.Addr, "spans", store.Len(), "max_spans", max)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
