package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"example.com/shop/platform/breaker"
)

// directTransport sends plain HTTP/1.1 requests to upstreams over pooled
// keep-alive connections, writing the request and reading the answer in
// the goroutine that asks: no goroutine per connection, no hand-off per
// request, which is most of what a proxy pays in http.Transport. Anything
// else (https, protocol upgrades such as WebSocket) goes to fallback.
//
// A request's context bounds it: its deadline becomes the connection's,
// and its cancellation closes the connection. A reused connection that the
// upstream had closed while idle is retried once on a new one, when the
// request has no body (nothing was lost).
type directTransport struct {
	fallback    http.RoundTripper
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int           // per upstream
	idleTimeout time.Duration // an idle connection older than this is closed, not reused

	mu   sync.Mutex
	idle map[string][]*upConn // by host:port, most recently used last
}

// upConn is one keep-alive connection to an upstream.
type upConn struct {
	t     *directTransport
	key   string
	conn  net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	since time.Time // when it went idle
	// deadline is the one set on conn, so that a request with the same
	// (or none) does not pay for setting it again.
	deadline time.Time
	// peek, when the platform has one, reports whether the socket has
	// bytes or an EOF waiting, without blocking (transport_idle_*.go).
	peek func() bool
}

// unsolicited reports whether the upstream sent anything, or closed its
// side, while the connection was idle.
func (pc *upConn) unsolicited() bool {
	return pc.br.Buffered() > 0 || (pc.peek != nil && pc.peek())
}

func newDirectTransport(fallback http.RoundTripper, dial func(ctx context.Context, network, addr string) (net.Conn, error), maxIdle int, idleTimeout time.Duration) *directTransport {
	return &directTransport{fallback: fallback, dial: dial, maxIdle: maxIdle, idleTimeout: idleTimeout, idle: map[string][]*upConn{}}
}

func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" || req.ProtoMajor == 2 {
		return t.roundTripFallback(req)
	}
	key := req.URL.Host
	if req.URL.Port() == "" {
		key += ":80"
	}
	ctx := req.Context()
	retryable := replayable(req)
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.get(ctx, key)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := pc.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		if err := contextErr(ctx, err); err != nil {
			closeBody(req)
			return nil, err
		}
		// A connection the upstream closed while it sat idle fails at
		// once, before any answer: try once more on a new one.
		if reused && retryable && attempt == 0 && isStale(err) {
			continue
		}
		closeBody(req)
		return nil, err
	}
}

// roundTripFallback sends req through the fallback, under the call's
// deadline when the gateway set one (its context has none).
func (t *directTransport) roundTripFallback(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if _, ok := ctx.Deadline(); ok {
		return t.fallback.RoundTrip(req)
	}
	d, ok := callDeadline(ctx)
	if !ok {
		return t.fallback.RoundTrip(req)
	}
	ctx, cancel := context.WithDeadline(ctx, d)
	resp, err := t.fallback.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases its context when closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Write lets a switched-protocols body (a WebSocket) be written to.
func (b *cancelBody) Write(p []byte) (int, error) {
	if w, ok := b.ReadCloser.(io.Writer); ok {
		return w.Write(p)
	}
	return 0, errors.New("body is not writable")
}

// contextErr is the context's error when the request failed because of
// it: cancelled, or past its deadline (the connection's deadline may fire
// a moment before the context's own timer).
func contextErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if d, ok := callDeadline(ctx); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// replayable reports whether a request may be sent twice: it has no body
// and its method is idempotent (or it carries an idempotency key), as
// http.Transport decides.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

var (
	errConnReset  = syscall.ECONNRESET
	errBrokenPipe = syscall.EPIPE
)

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// isStale reports whether err is what a write to, or a read from, a
// connection the peer closed gives.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, errConnReset) || errors.Is(err, errBrokenPipe)
}

// get returns an idle connection to key, or a new one.
func (t *directTransport) get(ctx context.Context, key string) (*upConn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	for list := t.idle[key]; len(list) > 0; list = t.idle[key] {
		pc := list[len(list)-1]
		t.idle[key] = list[:len(list)-1]
		if now.Sub(pc.since) >= t.idleTimeout {
			pc.conn.Close()
			continue
		}
		t.mu.Unlock()
		// Bytes (or an EOF) that arrived while the connection sat idle
		// answer no request of ours: reading them as the next answer would
		// give one client another's, or a stale one. Such a connection is
		// closed, as http.Transport's idle read does.
		if pc.unsolicited() {
			pc.conn.Close()
			t.mu.Lock()
			continue
		}
		return pc, true, nil
	}
	t.mu.Unlock()
	conn, err := t.dial(ctx, "tcp", key)
	if err != nil {
		return nil, false, err
	}
	pc := &upConn{t: t, key: key, conn: conn, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(conn, 8<<10)}
	pc.watchIdle()
	return pc, false, nil
}

// put keeps a connection for the next request, or closes it when the pool
// is full.
func (t *directTransport) put(pc *upConn) {
	pc.since = time.Now()
	t.mu.Lock()
	if len(t.idle[pc.key]) < t.maxIdle {
		t.idle[pc.key] = append(t.idle[pc.key], pc)
		pc = nil
	}
	t.mu.Unlock()
	if pc != nil {
		pc.conn.Close()
	}
}

// CloseIdleConnections closes the connections in the pool.
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*upConn{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, pc := range list {
			pc.conn.Close()
		}
	}
	if c, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// roundTrip writes req and reads its answer. On an error the connection
// is closed; on success it goes back to the pool once the body is read to
// its end and the answer allows keep-alive.
func (pc *upConn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if d, _ := callDeadline(ctx); needsDeadline(pc.deadline, d) {
		// A little later than the call's (1/32 of the time it has left),
		// so that the calls that follow on this connection within that
		// slack need not move the deadline again: setting one costs timer
		// work on every request otherwise.
		if left := time.Until(d); !d.IsZero() && left > 0 {
			d = d.Add(left / 32)
		}
		pc.conn.SetDeadline(d)
		pc.deadline = d
	}
	// Cancelling the request (the client went away) unblocks any read or
	// write at once.
	stop := context.AfterFunc(ctx, func() { pc.conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		pc.conn.Close()
		return nil, err
	}
	werr := req.Write(pc.bw)
	if werr == nil {
		werr = pc.bw.Flush()
	}
	var clientErr *breaker.ClientSideError
	if werr != nil && (ctx.Err() != nil || errors.As(werr, &clientErr)) {
		return fail(werr)
	}
	// A write that failed may have failed because the upstream answered
	// early and closed (413 to a body too large): that answer is the one
	// to give, when it is there.
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			if werr != nil {
				return fail(werr)
			}
			return fail(err)
		}
		// An interim answer (100 Continue, 103 Early Hints) is followed
		// by the real one.
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		break
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Never asked for (upgrades go to the fallback): not reusable.
		return fail(errors.New("upstream switched protocols unasked"))
	}
	reuse := !resp.Close && !req.Close && werr == nil
	resp.Body = &upBody{ReadCloser: resp.Body, pc: pc, stop: stop, reuse: reuse}
	return resp, nil
}

// needsDeadline reports whether a connection whose deadline is set must
// have it moved for a call due by want: unless the one set falls between
// want and want plus its slack, 1/32 of the time left (so a call never
// fails early, and at worst about 3% late).
func needsDeadline(set, want time.Time) bool {
	if set.IsZero() || want.IsZero() {
		return !set.Equal(want)
	}
	if set.Before(want) {
		return true
	}
	return set.Sub(want) > time.Until(want)/32
}

// upBody is an answer's body; when it has been read to its end it gives
// its connection back to the pool, and closing it early closes the
// connection.
type upBody struct {
	io.ReadCloser
	pc    *upConn
	stop  func() bool
	reuse bool
	done  bool
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

func (b *upBody) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish releases the connection: back to the pool after a whole body of
// a keep-alive answer, closed otherwise.
func (b *upBody) finish(whole bool) {
	b.done = true
	stopped := b.stop() // false: the request was cancelled meanwhile
	// A keep-alive answer read whole goes back to the pool, unless bytes
	// past its end are buffered already: an answer to no request, which
	// the next request would read as its own.
	if whole && b.reuse && stopped && b.pc.br.Buffered() == 0 {
		b.ReadCloser.Close()
		b.pc.t.put(b.pc)
		return
	}
	// Closed first: closing a body that was not read to its end would
	// otherwise read the rest.
	b.pc.conn.Close()
	b.ReadCloser.Close()
}
