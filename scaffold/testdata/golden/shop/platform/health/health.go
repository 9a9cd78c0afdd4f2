// Package health serves the endpoints msx and orchestrators poll:
//
//	GET /healthz         the process is up: {"status":"ok","service":...,"version":...}
//	GET /readyz          it can serve: every registered check passes
//	GET /debug/breakers  each circuit breaker's state, by name
//
// /healthz never looks at dependencies, so a database outage makes a
// service unready (taken out of rotation) rather than dead (restarted).
package health

import (
	"context"
	"encoding/json"
	"net/http"
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

// Register adds the three endpoints to mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.HandleFunc("GET /debug/breakers", h.debugBreakers)
}

func (h *Health) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"status":  "ok",
		"service": h.service,
		"version": h.version,
	})
}

func (h *Health) readyz(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	checks := append([]check(nil), h.checks...)
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(r.Context(), h.Timeout)
	defer cancel()
	// Checks run one after the other: there are few, and the first failure
	// is the answer.
	for _, c := range checks {
		if err := c.fn(ctx); err != nil {
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
