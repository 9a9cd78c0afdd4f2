// Package engine connects to the Docker Engine API the docker CLI would use
// (DOCKER_HOST, else the Docker context) and turns "the engine is not
// there" into one actionable sentence. Everything else talks to the engine
// through narrow interfaces of its own, satisfied by *client.Client.
package engine

import (
	"context"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/msxerr"
)

// Connect returns a client for the engine the docker CLI would use (see
// Resolve) with API-version negotiation, after checking that the engine
// answers.
func Connect(ctx context.Context) (*client.Client, error) {
	return connect(ctx, os.Getenv, nil)
}

// ConnectTraced is Connect with every Engine API call written to w as one
// line (method, path, status, time to answer): msx -v.
func ConnectTraced(w io.Writer) func(context.Context) (*client.Client, error) {
	return func(ctx context.Context) (*client.Client, error) { return connect(ctx, os.Getenv, w) }
}

// NewClient returns a client for the engine the docker CLI would use,
// without checking that it answers: for tests and tools that wait on their
// own.
func NewClient() (*client.Client, error) {
	e, err := Resolve(os.Getenv)
	if err != nil {
		return nil, err
	}
	return newClient(e, nil)
}

func connect(ctx context.Context, getenv func(string) string, trace io.Writer) (*client.Client, error) {
	e, err := Resolve(getenv)
	if err != nil {
		return nil, err
	}
	c, err := newClient(e, trace)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Ping(pingCtx); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, msxerr.ErrCancelled
		}
		return nil, e.NotAnswering(err)
	}
	return c, nil
}

func newClient(e Endpoint, trace io.Writer) (*client.Client, error) {
	fail := func(err error) error {
		return msxerr.Wrap(err, "check DOCKER_HOST or the Docker context (docker context inspect), then run msx doctor",
			"cannot configure the Docker client for %s: %v", e, err)
	}
	opts, err := e.clientOpts()
	if err != nil {
		return nil, fail(err)
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fail(err)
	}
	if trace == nil && !e.redialable() {
		return c, nil
	}
	return wrapTransport(c, e, func(next http.RoundTripper) http.RoundTripper {
		if trace != nil {
			next = &tracer{next: next, mu: &sync.Mutex{}, w: trace, now: time.Now}
		}
		if e.redialable() {
			// Podman's health checks (podman.go); on Docker, a look at
			// each answer's path and headers.
			next = newPodmanHealth(next)
		}
		return next
	})
}

// wrapTransport returns a client that sends through c's transport wrapped
// by wrap. The first client knows how to reach the engine (socket, TLS,
// ssh); the second sends through the same transport, wrapped. Wrapped, the
// transport no longer shows its TLS settings, so the scheme is set; nor
// its dialer, which the streams that take over the connection (exec,
// attach) then dial again from the address: right for a socket or plain
// TCP, wrong for ssh:// and TLS (see redialable).
func wrapTransport(c *client.Client, e Endpoint, wrap func(http.RoundTripper) http.RoundTripper) (*client.Client, error) {
	hc := c.HTTPClient()
	hc.Transport = wrap(hc.Transport)
	scheme := "http"
	if e.tls {
		scheme = "https"
	}
	// Not the endpoint's options again: the first client wrapped the
	// *http.Client they hold.
	w, err := client.NewClientWithOpts(client.WithHost(c.DaemonHost()), client.WithHTTPClient(hc),
		client.WithScheme(scheme), client.WithVersionFromEnv(), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, msxerr.Wrap(err, "check DOCKER_HOST or the Docker context (docker context inspect), then run msx doctor",
			"cannot configure the Docker client for %s: %v", e, err)
	}
	return w, nil
}
