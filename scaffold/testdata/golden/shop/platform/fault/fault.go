// Package fault injects latency and errors into a service's requests, so
// that you can watch its callers' timeouts and circuit breakers work:
// msx fault orders latency 300ms, msx fault orders errors 30%.
//
// It is on only when the MSX_FAULTS environment variable is 1, which msx up
// sets; a production deployment leaves it off and the middleware is not
// even installed. msx sets and reads the faults through the admin
// listener's /debug/fault, which the gateway never routes and which
// answers only to the project's admin token (see platform/admin).
package fault

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"
)

// Enabled reports whether fault injection was asked for.
func Enabled() bool { return os.Getenv("MSX_FAULTS") == "1" }

// Faults is what is being injected now; the zero value injects nothing.
type Faults struct {
	// Latency is added before each request is handled.
	Latency time.Duration `json:"-"`
	// Errors is the share of requests answered 500 without being handled,
	// from 0 to 1.
	Errors float64 `json:"errors"`
}

// faultsJSON is Faults on the wire, with the latency as "300ms".
type faultsJSON struct {
	Latency string  `json:"latency"`
	Errors  float64 `json:"errors"`
}

// Injector holds the current faults. It is safe for concurrent use.
type Injector struct {
	mu     sync.RWMutex
	faults Faults
	// roll returns a number in [0, 1); tests replace it.
	roll func() float64
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration)
}

// New returns an Injector that injects nothing yet.
func New() *Injector {
	return &Injector{roll: rand.Float64, sleep: sleep}
}

// Set replaces the faults.
func (f *Injector) Set(v Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = v
}

// Get returns the current faults.
func (f *Injector) Get() Faults {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.faults
}

// Middleware injects the current faults into every request but the
// health probes. With a nil Injector it returns next unchanged.
func (f *Injector) Middleware(next http.Handler) http.Handler {
	if f == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		v := f.Get()
		if v.Latency > 0 {
			f.sleep(r.Context(), v.Latency)
		}
		if v.Errors > 0 && f.roll() < v.Errors {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":"injected fault (msx fault)"}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP is the admin endpoint: GET shows the faults, PUT replaces them
// with a JSON body such as {"latency":"300ms","errors":0.3}; {} clears.
func (f *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var in faultsJSON
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"latency\":\"300ms\",\"errors\":0.3}: " + err.Error()})
			return
		}
		var v Faults
		if in.Latency != "" {
			d, err := time.ParseDuration(in.Latency)
			if err != nil || d < 0 || d > time.Minute {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "latency must be a duration from 0 to 1m, such as 300ms"})
				return
			}
			v.Latency = d
		}
		if in.Errors < 0 || in.Errors > 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "errors must be a share from 0 to 1"})
			return
		}
		v.Errors = in.Errors
		f.Set(v)
	default:
		w.Header().Set("Allow", "GET, PUT")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET or PUT"})
		return
	}
	v := f.Get()
	out := faultsJSON{Errors: v.Errors}
	if v.Latency > 0 {
		out.Latency = v.Latency.String()
	}
	writeJSON(w, http.StatusOK, out)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
