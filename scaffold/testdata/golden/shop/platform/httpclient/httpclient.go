// Package httpclient is the HTTP client services use to call each other:
// each call has a timeout, goes through a circuit breaker, carries the
// trace context, and is retried with backoff when that is safe.
//
// Retries happen only for idempotent methods (GET, HEAD, OPTIONS, PUT,
// DELETE), where sending a request twice does no harm, and only when the
// upstream did not answer or answered 502, 503 or 504, which say the
// request was probably not handled. A POST is never retried: the caller
// must decide, knowing its semantics.
package httpclient

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"example.com/shop/platform/breaker"
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
	// Breaker configures the circuit breaker.
	Breaker breaker.Config
	// Transport sends the requests. Default http.DefaultTransport.
	Transport http.RoundTripper
}

// Client sends requests to one upstream. It is safe for concurrent use.
type Client struct {
	opts    Options
	breaker *breaker.Breaker
	http    *http.Client
}

// New returns a Client. When registry is not nil, the client's breaker is
// registered in it so that its state shows in /debug/breakers.
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
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport
	}
	b := breaker.New(opts.Name, opts.Breaker)
	if registry != nil {
		registry.Add(b)
	}
	return &Client{
		opts:    opts,
		breaker: b,
		// The breaker wraps the traced transport, so every attempt that
		// reaches the network is one span, and one breaker count.
		http: &http.Client{Transport: b.Transport(otelhttp.NewTransport(opts.Transport))},
	}
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
// returns *breaker.OpenError at once. As with http.Client, the caller must
// close the response body; the attempt's timeout runs until it does.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	retries := c.opts.Retries
	if !idempotent(req.Method) || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		retries = 0 // unsafe, or the body cannot be sent twice
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.try(req, attempt)
		if attempt >= retries || !retryable(resp, err) || req.Context().Err() != nil {
			return resp, err
		}
		if resp != nil {
			// Drain a little so the connection can be reused, then drop it.
			io.CopyN(io.Discard, resp.Body, 4<<10)
			resp.Body.Close()
		}
		if err := sleep(req.Context(), c.backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

// try makes one attempt under its own timeout.
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
	var open *breaker.OpenError
	switch {
	case errors.As(err, &open):
		return false // the breaker's whole point is not to call
	case err != nil:
		return true // no answer: connection refused, reset, timeout
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
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
