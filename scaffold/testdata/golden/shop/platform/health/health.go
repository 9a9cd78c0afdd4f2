// Package health serves the endpoints msx and orchestrators poll:
//
//	GET /healthz         the process is up: {"status":"ok","service":...,"version":...}
//	GET /readyz          it can serve: every registered check passes
//	GET /debug/breakers  each circuit breaker's state, by name (admin only)
//
// The public listener (Register) says only ready or unready; the admin
// listener (RegisterAdmin), which the gateway never routes, names the
// failing check and its error, which may hold internal addresses.
//
// /healthz never looks at dependencies, so a database outage makes a
// service unready (taken out of rotation) rather than dead (restarted).
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// CheckFunc reports whether one thing the program needs works, for
// example a database ping. It must return when ctx is done.
type CheckFunc func(ctx context.Context) error

// BreakerStates is what /debug/breakers shows; *breaker.Registry is one.
type BreakerStates interface {
	States() map[string]string
}

type check struct {
	name string
	fn   CheckFunc
}

// Health holds a program's identity, its readiness checks and where its
// breakers' states come from. It is safe for concurrent use.
type Health struct {
	service string
	version string
	// Timeout bounds all the checks of one /readyz request. Default 2s.
	Timeout time.Duration

	mu       sync.Mutex
	checks   []check
	breakers BreakerStates
}

// New returns a Health for the named service at the given version.
func New(service, version string) *Health {
	return &Health{service: service, version: version, Timeout: 2 * time.Second}
}

// AddCheck registers a readiness check under name; /readyz names the
// failing one.
func (h *Health) AddCheck(name string, fn CheckFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, check{name, fn})
}

// SetBreakers sets where /debug/breakers reads the breakers' states.
func (h *Health) SetBreakers(b BreakerStates) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.breakers = b
}

// Register adds /healthz and a /readyz without details to a public mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { h.readyz(w, r, false) })
}

// RegisterAdmin adds /healthz, the detailed /readyz and /debug/breakers to
// the admin listener's mux.
func (h *Health) RegisterAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { h.readyz(w, r, true) })
	mux.HandleFunc("GET /debug/breakers", h.debugBreakers)
}

func (h *Health) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"status":  "ok",
		"service": h.service,
		"version": h.version,
	})
}

func (h *Health) readyz(w http.ResponseWriter, r *http.Request, detailed bool) {
	h.mu.Lock()
	checks := append([]check(nil), h.checks...)
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(r.Context(), h.Timeout)
	defer cancel()
	// Checks run one after the other: there are few, and the first failure
	// is the answer.
	for _, c := range checks {
		if err := c.fn(ctx); err != nil {
			if !detailed {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unready"})
				return
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"status": "unready",
				"check":  c.name,
				"error":  err.Error(),
			})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (h *Health) debugBreakers(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	b := h.breakers
	h.mu.Unlock()
	states := map[string]string{}
	if b != nil {
		states = b.States()
	}
	writeJSON(w, http.StatusOK, states)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// SelfCheckArg is the argument that makes a program check its own health
// and exit: the container health check runs "/app healthcheck", which
// needs no shell and no curl in a FROM scratch image.
const SelfCheckArg = "healthcheck"

// IsSelfCheck reports whether the program was started as its own health
// check.
func IsSelfCheck(args []string) bool { return len(args) == 2 && args[1] == SelfCheckArg }

// CheckSelf asks the running program's /readyz, on the admin listener
// (ADMIN_ADDR) or else the API listener (LISTEN_ADDR), and returns the
// process exit code: 0 when ready. Readiness, not /healthz: Docker never
// restarts a container for its health, and Compose's depends_on and
// --wait wait on it, so healthy must mean set up and able to serve.
func CheckSelf() int {
	addr := os.Getenv("ADMIN_ADDR")
	if addr == "" {
		addr = os.Getenv("LISTEN_ADDR")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		fmt.Fprintln(os.Stderr, "healthcheck: set ADMIN_ADDR or LISTEN_ADDR to host:port")
		return 1
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		return 1
	}
	return 0
}
