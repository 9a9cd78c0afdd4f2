// Package breaker puts circuit breakers (sony/gobreaker) in front of calls
// to an upstream and keeps a registry of them, so that the admin listener
// can show their states and msx can read them.
//
// What counts as a failure depends on who is calling, so the policy is a
// Classifier:
//
//   - ServerErrors, for service-to-service clients: no response, or any
//     5xx. A dependency that answers 500 is failing its callers.
//   - Unavailable, for the gateway: no response, a timeout, or 502, 503,
//     504. An upstream's own 500 is an answer about one request; counting
//     it would let five requests to one buggy endpoint take the whole
//     service offline.
//
// Under both, a 4xx is the caller's mistake, and a call the caller
// cancelled says nothing about the upstream: neither counts. Nor does a
// 503 marked with PassedOnHeader: the upstream is up, one of its own
// dependencies is not, and its other routes still work.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Config says when a breaker trips and how it recovers. The zero value of a
// field means its default.
type Config struct {
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row, however far apart: only a success ends a row. Default 5.
	ConsecutiveFailures uint32
	// FailureRatio trips the breaker when this share of the requests in the
	// current Interval failed, once there were at least MinRequests.
	// Default 0.5 over 20 requests.
	FailureRatio float64
	MinRequests  uint32
	// Interval is how often the closed breaker forgets the counts of
	// FailureRatio. Default 60s.
	Interval time.Duration
	// OpenTimeout is how long the breaker stays open before it lets probe
	// requests through (half-open). Default 10s.
	OpenTimeout time.Duration
	// HalfOpenRequests bounds the probes let through at once while
	// half-open; that many successes close the breaker. Default 1.
	HalfOpenRequests uint32
	// Classify decides what an HTTP outcome means to the breaker, in
	// Transport. Default ServerErrors.
	Classify Classifier
	// OnStateChange is called whenever the breaker changes state.
	OnStateChange func(name, from, to string)
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
	if c.Classify == nil {
		c.Classify = ServerErrors
	}
	return c
}

// Outcome is what one call means to a breaker.
type Outcome int

const (
	Success Outcome = iota // the upstream worked
	Failure                // the upstream failed: counts towards tripping
	Ignored                // says nothing about the upstream: not counted
)

// Classifier turns the result of one HTTP call into an Outcome.
type Classifier func(req *http.Request, resp *http.Response, err error) Outcome

// ServerErrors counts no response and every 5xx as failures: the policy of
// service-to-service clients.
func ServerErrors(req *http.Request, resp *http.Response, err error) Outcome {
	if err != nil {
		return errorOutcome(req, err)
	}
	if passedOn(resp) {
		return Ignored
	}
	if resp.StatusCode >= 500 {
		return Failure
	}
	return Success
}

// Unavailable counts only what says the upstream is unreachable or
// overloaded: no response, a timeout, 502, 503 and 504. The gateway's
// policy: an application's 500 passes through and never opens the route.
func Unavailable(req *http.Request, resp *http.Response, err error) Outcome {
	if err != nil {
		return errorOutcome(req, err)
	}
	if passedOn(resp) {
		return Ignored
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return Failure
	}
	return Success
}

// PassedOnHeader, on a 503, says that the service answering is up but a
// service it needs is not (httpjson.InternalError sets it): the answer
// passes on its dependency's unavailability, and no breaker counts it.
const PassedOnHeader = "X-Msx-Passed-On"

func passedOn(resp *http.Response) bool {
	return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(PassedOnHeader) != ""
}

// ClientSideError marks an error that came from the caller's side of a
// call, such as a request body the client was too slow to send: it is
// never counted against the upstream.
type ClientSideError struct{ Err error }

func (e *ClientSideError) Error() string { return "client: " + e.Err.Error() }
func (e *ClientSideError) Unwrap() error { return e.Err }

func errorOutcome(req *http.Request, err error) Outcome {
	var tooBig *http.MaxBytesError
	var client *ClientSideError
	var open *OpenError
	switch {
	case errors.As(err, &open):
		return Ignored
	case errors.As(err, &client), errors.As(err, &tooBig):
		return Ignored // the client sent too much, too slowly, or broke off
	case errors.Is(err, context.Canceled):
		return Ignored // the caller gave up; the upstream may be fine
	case req != nil && errors.Is(req.Context().Err(), context.Canceled):
		return Ignored
	}
	// A timeout, or no answer at all: refused, reset, DNS.
	return Failure
}

// OpenError is returned, without calling the upstream, while a breaker is
// open or its half-open probes are all in flight.
type OpenError struct {
	Name string // the breaker's name, usually the upstream's
	// RetryAfter is about how long until the breaker lets a probe through.
	RetryAfter time.Duration
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("circuit breaker %q is open", e.Name)
}

// Breaker is one circuit breaker, usually one per upstream.
type Breaker struct {
	cb  *gobreaker.TwoStepCircuitBreaker[struct{}]
	cfg Config

	mu       sync.Mutex
	openedAt time.Time
	// The counts ReadyToTrip reads, kept here rather than by gobreaker:
	// gobreaker clears its counts every Interval and drops the outcome of
	// a call that began before, so an upstream that hangs until each call
	// times out, called one request at a time, would never trip it.
	row         uint32    // failures in a row
	windowStart time.Time // of the FailureRatio counts
	requests    uint32
	failures    uint32
}

// New returns a closed breaker.
func New(name string, cfg Config) *Breaker {
	cfg = cfg.withDefaults()
	b := &Breaker{cfg: cfg}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: cfg.HalfOpenRequests,
		Timeout:     cfg.OpenTimeout,
		// No Interval: the closed breaker's counts are the Breaker's own.
		ReadyToTrip: func(gobreaker.Counts) bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.row >= cfg.ConsecutiveFailures {
				return true
			}
			return b.requests >= cfg.MinRequests &&
				float64(b.failures)/float64(b.requests) >= cfg.FailureRatio
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errIgnored) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			b.mu.Lock()
			if to == gobreaker.StateOpen {
				b.openedAt = time.Now()
			}
			b.row, b.requests, b.failures = 0, 0, 0 // a new state counts anew
			b.mu.Unlock()
			if cfg.OnStateChange != nil {
				cfg.OnStateChange(name, from.String(), to.String())
			}
		},
	})
	return b
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.cb.Name() }

// State returns "closed", "open" or "half-open".
func (b *Breaker) State() string { return b.cb.State().String() }

// errFailure and errIgnored are the outcomes reported to gobreaker; the
// caller sees the real response or error.
var (
	errFailure = errors.New("upstream failure")
	errIgnored = errors.New("outcome not counted")
)

// Allow asks to make one call. When the breaker refuses, it returns an
// *OpenError; otherwise the caller must call done exactly once with the
// call's outcome. One logical call, however many attempts it makes, is
// one Allow and one done.
func (b *Breaker) Allow() (done func(Outcome), err error) {
	report, err := b.cb.Allow()
	if err != nil {
		return nil, b.openError()
	}
	return func(o Outcome) {
		if o != Success && o != Failure {
			report(errIgnored)
			return
		}
		b.count(o == Failure)
		if o == Failure {
			report(errFailure)
		} else {
			report(nil)
		}
	}, nil
}

// count adds one outcome to the counts ReadyToTrip reads. It runs before
// the outcome reaches gobreaker, which calls ReadyToTrip on a failure.
func (b *Breaker) count(failed bool) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.windowStart) >= b.cfg.Interval {
		b.windowStart, b.requests, b.failures = now, 0, 0
	}
	b.requests++
	if failed {
		b.failures++
		b.row++
	} else {
		b.row = 0
	}
}

func (b *Breaker) openError() *OpenError {
	b.mu.Lock()
	wait := b.cfg.OpenTimeout - time.Since(b.openedAt)
	b.mu.Unlock()
	if wait < time.Second {
		wait = time.Second // half-open, or about to be: try again shortly
	}
	return &OpenError{Name: b.Name(), RetryAfter: wait}
}

// Transport returns a RoundTripper that sends requests through next under
// the breaker, classifying each response with the Config's Classify.
// While the breaker is open it returns *OpenError at once.
func (b *Breaker) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripper{b: b, next: next}
}

type roundTripper struct {
	b    *Breaker
	next http.RoundTripper
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	done, err := t.b.Allow()
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	done(t.b.cfg.Classify(req, resp, err))
	return resp, err
}

// Registry collects breakers by name so that their states can be shown,
// logs every state change and counts it in the breaker_state_changes
// metric. It is safe for concurrent use.
type Registry struct {
	changes metric.Int64Counter

	mu       sync.Mutex
	log      *slog.Logger
	breakers map[string]*Breaker
}

// NewRegistry returns an empty registry that logs through slog.Default and
// counts through the global OpenTelemetry meter provider.
func NewRegistry() *Registry {
	return newRegistry(otel.Meter("example.com/shop/platform/breaker"))
}

func newRegistry(meter metric.Meter) *Registry {
	r := &Registry{log: slog.Default(), breakers: make(map[string]*Breaker)}
	r.changes, _ = meter.Int64Counter("breaker_state_changes",
		metric.WithDescription("Circuit breaker state changes, by breaker, old state and new state."))
	// The gauge reads the states when the metrics are collected, so a
	// scrape shows the current state even if no change happened since.
	_, _ = meter.Int64ObservableGauge("breaker_open",
		metric.WithDescription("1 while a circuit breaker is open or half-open, else 0."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			for name, state := range r.States() {
				v := int64(0)
				if state != "closed" {
					v = 1
				}
				o.Observe(v, metric.WithAttributes(attribute.String("breaker", name)))
			}
			return nil
		}))
	return r
}

// SetLogger sets where state changes are logged.
func (r *Registry) SetLogger(l *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = l
}

func (r *Registry) stateChanged(name, from, to string) {
	r.mu.Lock()
	log := r.log
	r.mu.Unlock()
	level := slog.LevelInfo
	if to == "open" {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, "circuit breaker state changed", "breaker", name, "from", from, "to", to)
	if r.changes != nil {
		r.changes.Add(context.Background(), 1, metric.WithAttributes(
			attribute.String("breaker", name), attribute.String("from", from), attribute.String("state", to)))
	}
}

// New creates a breaker whose state changes the registry logs and counts,
// and registers it, replacing any breaker of that name.
func (r *Registry) New(name string, cfg Config) *Breaker {
	user := cfg.OnStateChange
	cfg.OnStateChange = func(name, from, to string) {
		r.stateChanged(name, from, to)
		if user != nil {
			user(name, from, to)
		}
	}
	b := New(name, cfg)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.breakers[name] = b
	return b
}

// States returns each breaker's state by name.
func (r *Registry) States() map[string]string {
	r.mu.Lock()
	list := make([]*Breaker, 0, len(r.breakers))
	for _, b := range r.breakers {
		list = append(list, b)
	}
	r.mu.Unlock()
	out := make(map[string]string, len(list))
	for _, b := range list {
		out[b.Name()] = b.State()
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
