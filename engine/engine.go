// Package engine connects to the Docker Engine API and turns "the engine is
// not there" into one actionable sentence. Everything else talks to the
// engine through narrow interfaces of its own, satisfied by *client.Client.
package engine

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/msxerr"
)

// Connect returns a client for the engine named by the environment
// (DOCKER_HOST and friends) with API-version negotiation, after checking
// that the engine answers.
func Connect(ctx context.Context) (*client.Client, error) {
	return connect(ctx, nil)
}

// ConnectTraced is Connect with every Engine API call written to w as one
// line (method, path, status, time to answer): msx -v.
func ConnectTraced(w io.Writer) func(context.Context) (*client.Client, error) {
	return func(ctx context.Context) (*client.Client, error) { return connect(ctx, w) }
}

func connect(ctx context.Context, trace io.Writer) (*client.Client, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, msxerr.Wrap(err, "check DOCKER_HOST, then run msx doctor", "cannot configure the Docker client: %v", err)
	}
	if trace != nil {
		// The client FromEnv made knows how to reach the engine (socket,
		// TLS); a second one sends through the same transport, traced.
		hc := c.HTTPClient()
		hc.Transport = &tracer{next: hc.Transport, mu: &sync.Mutex{}, w: trace, now: time.Now}
		c, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation(), client.WithHTTPClient(hc))
		if err != nil {
			return nil, msxerr.Wrap(err, "check DOCKER_HOST, then run msx doctor", "cannot configure the Docker client: %v", err)
		}
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Ping(pingCtx); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, msxerr.ErrCancelled
		}
		return nil, NotAnswering(err)
	}
	return c, nil
}

// NotAnswering is the error every command that needs Docker returns when the
// engine does not answer.
func NotAnswering(err error) error {
	return msxerr.Wrap(err, "start Docker, then run msx doctor to check the set-up",
		"Docker is not answering at %s", host())
}

func host() string {
	c, err := client.NewClientWithOpts(client.FromEnv)
	if err != nil {
		return client.DefaultDockerHost
	}
	defer c.Close()
	return c.DaemonHost()
}
