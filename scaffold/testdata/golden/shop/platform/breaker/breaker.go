// Package breaker puts circuit breakers (sony/gobreaker) in front of HTTP
// calls and keeps a registry of them, so that the health endpoints can show
// their states to msx.
//
// A call fails, for the breaker, when it gets no response (network error,
// timeout) or a 5xx response. A 4xx is the caller's mistake, and a call the
// caller cancelled says nothing about the upstream: neither counts.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Config says when a breaker trips and how it recovers. The zero value of a
// field means its default.
type Config struct {
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row. Default 5.
	ConsecutiveFailures uint32
	// FailureRatio trips the breaker when this share of the requests in the
	// current Interval failed, once there were at least MinRequests.
	// Default 0.5 over 20 requests.
	FailureRatio float64
	MinRequests  uint32
	// Interval is how often the closed breaker forgets its counts. Default 60s.
	Interval time.Duration
	// OpenTimeout is how long the breaker stays open before it lets probe
	// requests through (half-open). Default 10s.
	OpenTimeout time.Duration
	// HalfOpenRequests bounds the probes let through at once while
	// half-open; that many successes close the breaker. Default 1.
	HalfOpenRequests uint32
}

func (c Config) withDefaults() Config {
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = 5
	}
	if c.FailureRatio == 0 {
		c.FailureRatio = 0.5
	}
	if c.MinRequests == 0 {
		c.MinRequests = 20
	}
	if c.Interval == 0 {
		c.Interval = 60 * time.Second
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = 10 * time.Second
	}
	if c.HalfOpenRequests == 0 {
		c.HalfOpenRequests = 1
	}
	return c
}

// OpenError is returned, without calling the upstream, while a breaker is
// open or its half-open probes are all in flight.
type OpenError struct {
	Name string // the breaker's name, usually the upstream's
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("circuit breaker %q is open", e.Name)
}

// Breaker is one circuit breaker, usually one per upstream.
type Breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// New returns a closed breaker.
func New(name string, cfg Config) *Breaker {
	cfg = cfg.withDefaults()
	return &Breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: cfg.HalfOpenRequests,
		Interval:    cfg.Interval,
		Timeout:     cfg.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= cfg.ConsecutiveFailures {
				return true
			}
			return c.Requests >= cfg.MinRequests &&
				float64(c.TotalFailures)/float64(c.Requests) >= cfg.FailureRatio
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errNotCounted) },
	})}
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.cb.Name() }

// State returns "closed", "open" or "half-open".
func (b *Breaker) State() string { return b.cb.State().String() }

// errFailure and errNotCounted are the outcomes reported to gobreaker; the
// caller sees the real response or error.
var (
	errFailure    = errors.New("upstream failure")
	errNotCounted = errors.New("outcome not counted")
)

// Transport returns a RoundTripper that sends requests through next under
// the breaker. While the breaker is open it returns *OpenError at once.
func (b *Breaker) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripper{b: b, next: next}
}

type roundTripper struct {
	b    *Breaker
	next http.RoundTripper
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	done, err := t.b.cb.Allow()
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, &OpenError{Name: t.b.Name()}
	}
	resp, err := t.next.RoundTrip(req)
	done(outcome(req, resp, err))
	return resp, err
}

// outcome classifies a call for the breaker.
func outcome(req *http.Request, resp *http.Response, err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case err == nil && resp.StatusCode >= 500:
		return errFailure
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), req.Context().Err() == context.Canceled:
		return errNotCounted // the caller gave up; the upstream may be fine
	case errors.As(err, &tooBig):
		return errNotCounted // the client sent too large a body
	default:
		return errFailure
	}
}

// Registry collects breakers by name so that their states can be shown.
// It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	breakers map[string]*Breaker
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{breakers: make(map[string]*Breaker)}
}

// Add registers b under its name, replacing any breaker of that name.
func (r *Registry) Add(b *Breaker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.breakers[b.Name()] = b
}

// New creates a breaker and registers it.
func (r *Registry) New(name string, cfg Config) *Breaker {
	b := New(name, cfg)
	r.Add(b)
	return b
}

// States returns each breaker's state by name.
func (r *Registry) States() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.breakers))
	for name, b := range r.breakers {
		out[name] = b.State()
	}
	return out
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.breakers))
	for name := range r.breakers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
