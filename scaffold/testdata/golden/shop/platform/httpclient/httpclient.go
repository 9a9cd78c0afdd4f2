// Package httpclient is the HTTP client services use to call each other.
// Each logical call goes through a circuit breaker once, however many
// attempts it makes; each attempt has a timeout and carries the trace
// context, the caller's identity, its remaining deadline and the request
// id.
//
// Retries happen only for idempotent methods (GET, HEAD, OPTIONS, PUT,
// DELETE), where sending a request twice does no harm, and only when the
// upstream did not answer or answered 502, 503 or 504, which say the
// request was probably not handled. A POST is never retried: the caller
// must decide, knowing its semantics. Retries wait with exponential
// backoff and full jitter, never past the caller's deadline, and draw on a
// retry budget: when an upstream fails for everyone, retries stop at a
// small share of the traffic instead of multiplying it.
package httpclient

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"example.com/shop/platform/auth"
	"example.com/shop/platform/breaker"
	"example.com/shop/platform/deadline"
	"example.com/shop/platform/requestid"
)

// Options configures a Client. The zero value of a field means its default.
type Options struct {
	// Name names the client's breaker, usually after the upstream service.
	Name string
	// Timeout bounds each attempt, from sending the request to reading the
	// whole response body. Default 5s.
	Timeout time.Duration
	// Retries is how many times a failed idempotent call is tried again.
	// Default 2; a negative value disables retries.
	Retries int
	// BaseBackoff and MaxBackoff bound the wait before a retry: it doubles
	// from BaseBackoff with every attempt, up to MaxBackoff, and a random
	// part of it is taken (full jitter) so that clients do not retry in
	// lockstep. Defaults 50ms and 1s.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// RetryRatio is the retry budget: retries may add at most this share
	// of the calls made, beyond a reserve of RetryReserve retries.
	// Defaults 0.1 and 10.
	RetryRatio   float64
	RetryReserve float64
	// Breaker configures the circuit breaker.
	Breaker breaker.Config
	// Transport sends the requests. Default: a transport shared by all
	// clients, tuned for many calls to few hosts.
	Transport http.RoundTripper
}

// Client sends requests to one upstream. It is safe for concurrent use.
type Client struct {
	opts    Options
	breaker *breaker.Breaker
	http    *http.Client
	budget  *budget
	tracer  trace.Tracer
	// sleep waits between attempts; tests replace it.
	sleep func(context.Context, time.Duration) error
	// retrySent and retryDenied label the retries counted, made once.
	retrySent, retryDenied metric.AddOption
}

// retryCount counts the retries of calls, by upstream and outcome: sent, or
// denied by the retry budget. The upstream is the client's name, one of
// the service's dependencies, never anything a request carries.
var retryCount, _ = otel.Meter("example.com/shop/platform/httpclient").Int64Counter("http.client.retries",
	metric.WithDescription("Retries of idempotent calls, by upstream and outcome: sent, or denied by the retry budget."))

// New returns a Client. When registry is not nil, the client's breaker is
// registered in it, so that its state changes are logged and counted and
// its state shows on the admin listener.
func New(opts Options, registry *breaker.Registry) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Retries == 0 {
		opts.Retries = 2
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = 50 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Second
	}
	if opts.RetryRatio <= 0 {
		opts.RetryRatio = 0.1
	}
	if opts.RetryReserve <= 0 {
		opts.RetryReserve = 10
	}
	if opts.Transport == nil {
		opts.Transport = sharedTransport()
	}
	var b *breaker.Breaker
	if registry != nil {
		b = registry.New(opts.Name, opts.Breaker)
	} else {
		b = breaker.New(opts.Name, opts.Breaker)
	}
	return &Client{
		opts:    opts,
		breaker: b,
		// Every attempt that reaches the network is one span, a child of
		// the call's span.
		http:   &http.Client{Transport: otelhttp.NewTransport(opts.Transport)},
		budget: newBudget(opts.RetryRatio, opts.RetryReserve),
		tracer: otel.Tracer("example.com/shop/platform/httpclient"),
		sleep:  sleep,
		retrySent: metric.WithAttributeSet(attribute.NewSet(
			attribute.String("upstream", opts.Name), attribute.String("outcome", "sent"))),
		retryDenied: metric.WithAttributeSet(attribute.NewSet(
			attribute.String("upstream", opts.Name), attribute.String("outcome", "denied"))),
	}
}

var (
	transportOnce sync.Once
	transport     *http.Transport
)

// sharedTransport is one connection pool for all clients of a process.
// http.DefaultTransport keeps 2 idle connections per host, so a service
// under load would open and close a connection for most calls.
func sharedTransport() *http.Transport {
	transportOnce.Do(func() {
		transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
		}
	})
	return transport
}

// State returns the state of the client's breaker: closed, open or half-open.
func (c *Client) State() string { return c.breaker.State() }

// Get sends a GET request to url.
func (c *Client) Get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// Do sends req, retrying as the package documentation says. An open breaker
// returns *breaker.OpenError at once, and the call's span records it. As
// with http.Client, the caller must close the response body; the attempt's
// timeout runs until it does.
func (c *Client) Do(req *http.Request) (resp *http.Response, err error) {
	ctx, span := c.tracer.Start(req.Context(), c.opts.Name+" "+req.Method,
		trace.WithAttributes(attribute.String("peer.service", c.opts.Name)))
	defer func() {
		switch {
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		case resp.StatusCode >= 500:
			span.SetStatus(codes.Error, resp.Status)
		}
		span.End()
	}()
	req = req.WithContext(ctx)

	done, err := c.breaker.Allow()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	c.budget.deposit()
	resp, err = c.attempts(req)
	done(breaker.ServerErrors(req, resp, err))
	return resp, err
}

// attempts makes the first attempt and the retries the rules allow.
func (c *Client) attempts(req *http.Request) (*http.Response, error) {
	retries := c.opts.Retries
	if !idempotent(req.Method) || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		retries = 0 // unsafe, or the body cannot be sent twice
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.try(req, attempt)
		if attempt >= retries || !retryable(resp, err) || req.Context().Err() != nil {
			return resp, err
		}
		wait := c.backoff(attempt)
		if d, ok := req.Context().Deadline(); ok && time.Until(d) <= wait {
			return resp, err // no time left for another attempt
		}
		if !c.budget.withdraw() {
			retryCount.Add(req.Context(), 1, c.retryDenied)
			return resp, err // the upstream fails for everyone: do not pile on
		}
		retryCount.Add(req.Context(), 1, c.retrySent)
		if resp != nil {
			// Drain a little so the connection can be reused, then drop it.
			io.CopyN(io.Discard, resp.Body, 4<<10)
			resp.Body.Close()
		}
		if err := c.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// try makes one attempt under its own timeout, within the caller's.
func (c *Client) try(req *http.Request, attempt int) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), c.opts.Timeout)
	r := req.Clone(ctx)
	if attempt > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, err
		}
		r.Body = body
	}
	deadline.Set(ctx, r.Header)
	requestid.Set(ctx, r.Header)
	// Signed as this service, for this callee, method, path and attempt's
	// deadline, carrying the end user's token if the call serves one.
	tok, err := auth.Outgoing(ctx, c.opts.Name, r.Method, r.URL.Path)
	if err != nil {
		cancel()
		return nil, err
	}
	if tok != "" {
		r.Header.Set(auth.IdentityHeader, tok)
	}
	resp, err := c.http.Do(r)
	if err != nil {
		cancel()
		return nil, err
	}
	// Cancelling now would cut the body short: cancel when it is closed.
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// backoff returns the wait before retry number attempt+1.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BaseBackoff << attempt
	if d > c.opts.MaxBackoff || d <= 0 {
		d = c.opts.MaxBackoff
	}
	return rand.N(d) + 1
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// retryable reports whether an attempt's outcome is worth another try.
func retryable(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled)
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// budget is a token bucket of retries: every call adds ratio of a token,
// every retry takes one, and it holds at most reserve tokens (it starts
// full, so that a quiet client can still retry).
type budget struct {
	mu      sync.Mutex
	tokens  float64
	ratio   float64
	reserve float64
}

func newBudget(ratio, reserve float64) *budget {
	return &budget{tokens: reserve, ratio: ratio, reserve: reserve}
}

func (b *budget) deposit() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.tokens+b.ratio, b.reserve)
}

func (b *budget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
