// Package admin serves a program's internal endpoints on a listener of
// their own, which the gateway never routes and msx reaches through a port
// published on 127.0.0.1 only:
//
//	GET /healthz, GET /readyz  (with the failing check and its error)
//	GET /debug/breakers        each circuit breaker's state
//	GET /metrics               Prometheus text: requests, retries, breakers, events, pools, runtime
//	GET, PUT /debug/fault      the injected faults, when fault injection is on
//	GET /debug/pprof/          the Go profiler (go tool pprof URL)
//	the program's own routes   such as a subscriber's GET /inbox
//
// Every endpoint answers only a request whose Host is this machine or this
// container (127.0.0.1, localhost, [::1], its own addresses, its host name,
// its service name): a web page that rebinds its DNS name to 127.0.0.1
// gets 421. The endpoints that change the program, profile it or show its
// data also need the project's admin token (Authorization: Bearer), which
// msx up mounts as the file ADMIN_TOKEN_FILE; without a token they are
// not served at all, as under msx export.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"strings"

	"example.com/shop/platform/config"
	"example.com/shop/platform/fault"
	"example.com/shop/platform/health"
	"example.com/shop/platform/server"
)

// Options is what the admin listener shows.
type Options struct {
	Health  *health.Health
	Metrics http.Handler    // *metrics.Metrics
	Faults  *fault.Injector // nil when fault injection is off
	// Routes are the program's own admin routes; they need the token.
	Routes http.Handler
	// Token guards faults, the profiler and Routes; "" turns them off.
	// Start reads it from ADMIN_TOKEN_FILE.
	Token string
	// Hosts are the names the listener answers to besides loopback and
	// its own addresses; Start adds the host name, MSX_SERVICE and
	// ADMIN_HOSTS (a comma-separated list).
	Hosts  []string
	Logger *slog.Logger
}

// Handler returns the admin endpoints.
//
// Health, breakers and metrics need no token: they change nothing, show
// states, counters and a failing check's error, and are what msx ps, a
// health check or a Prometheus scrape reads, with no secret to hand. Faults change how the program
// answers, the profiler costs CPU and shows its memory, and Routes show
// its data: those need the token.
func Handler(opts Options) http.Handler {
	open := http.NewServeMux()
	opts.Health.RegisterAdmin(open)
	if opts.Metrics != nil {
		open.Handle("GET /metrics", opts.Metrics)
	}
	if opts.Token != "" {
		guarded := http.NewServeMux()
		if opts.Faults != nil {
			guarded.Handle("/debug/fault", opts.Faults)
		}
		guarded.HandleFunc("GET /debug/pprof/", pprof.Index)
		guarded.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		guarded.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		guarded.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		guarded.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		if opts.Routes != nil {
			guarded.Handle("/", opts.Routes)
		}
		open.Handle("/", requireToken(opts.Token, guarded))
	}
	return checkHost(opts.Hosts, open)
}

// requireToken answers 401 unless the request carries token as a bearer
// token. Both sides are hashed first, so that the comparison takes the
// same time whatever the length of what was sent.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			refuse(w, http.StatusUnauthorized, "this endpoint needs the project's admin token (.msx/secrets/admin-token)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost answers 421 to a request whose Host is none of this machine's
// or container's names: the way a browser page that rebinds its own name
// to 127.0.0.1 would reach the published port.
func checkHost(names []string, next http.Handler) http.Handler {
	allowed := map[string]bool{"localhost": true}
	for _, n := range names {
		if n != "" {
			allowed[strings.ToLower(n)] = true
		}
	}
	addrs := map[netip.Addr]bool{netip.MustParseAddr("127.0.0.1"): true, netip.IPv6Loopback(): true}
	if list, err := net.InterfaceAddrs(); err == nil {
		for _, a := range list {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				addrs[p.Addr().Unmap()] = true
			}
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		if a, err := netip.ParseAddr(host); err == nil && addrs[a.Unmap()] || allowed[host] {
			next.ServeHTTP(w, r)
			return
		}
		refuse(w, http.StatusMisdirectedRequest, "the admin listener answers only to this machine's and this container's own names")
	})
}

func refuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)
}

// Start serves the admin endpoints on addr until ctx is done, in the
// background; a failure to serve is logged, not fatal, because the
// program's real work is on its public listener.
func Start(ctx context.Context, addr string, opts Options) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("listener", "admin")
	if file := config.String("ADMIN_TOKEN_FILE", ""); file != "" && opts.Token == "" {
		data, err := os.ReadFile(file)
		if err != nil {
			log.Error("no admin token: faults and the profiler are off", "error", err.Error())
		}
		opts.Token = strings.TrimSpace(string(data))
	}
	if h, err := os.Hostname(); err == nil {
		opts.Hosts = append(opts.Hosts, h)
	}
	opts.Hosts = append(opts.Hosts, config.String("MSX_SERVICE", ""))
	opts.Hosts = append(opts.Hosts, strings.Split(config.String("ADMIN_HOSTS", ""), ",")...)
	go func() {
		if err := server.Run(ctx, addr, Handler(opts), server.Options{Logger: log}); err != nil {
			log.Error("admin listener failed", "addr", addr, "error", err.Error())
		}
	}()
}
