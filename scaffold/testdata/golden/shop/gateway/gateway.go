package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"example.com/shop/platform/breaker"
	"example.com/shop/platform/deadline"
)

// gateway routes requests to upstreams through its middleware chain.
type gateway struct {
	upstreams []*upstream // longest prefix first
	timeout   time.Duration
	budget    []string // deadline.Header's value: timeout in ms, one slice for all
	log       *slog.Logger
	handler   http.Handler // the middleware chain around route

	// auth checks credentials on protected routes. Without keys, protected
	// routes answer 401: they fail closed.
	auth *authenticator
	// limit is the rate limit, nil when off. It runs after auth, so that
	// it counts verified identities, never credentials as sent.
	limit *limiter
}

// upstream is one route and the proxy that serves it.
type upstream struct {
	Route
	fwd       *forwarder
	proxy     *httputil.ReverseProxy // the forwarder's fallback, and its transport
	spanNames map[string]string      // by method, see routeOf
}

func newGateway(cfg gatewayConfig, breakers *breaker.Registry, logger *slog.Logger) (*gateway, error) {
	g := &gateway{timeout: cfg.UpstreamTimeout, log: logger}
	g.budget = []string{strconv.FormatInt(max(g.timeout.Milliseconds(), 1), 10)}

	// One transport shared by all upstreams, so idle connections are pooled;
	// its limits are sized for a gateway, not for a client: every request
	// in flight to an upstream can keep its connection for the next.
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	base := newDirectTransport(&http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}, dialer.DialContext, 1024, 90*time.Second)
	// The bodies are copied through pooled buffers, not a new 32 KiB
	// buffer per request.
	buffers := &bufferPool{}

	for _, rt := range cfg.Routes {
		target, err := url.Parse(rt.Upstream)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", rt.Name, err)
		}
		// Only unavailability counts: an upstream's own 500s pass through
		// and never take its route offline.
		b := breakers.New(rt.Name, breaker.Config{Classify: classify})
		u := &upstream{
			Route:     rt,
			spanNames: spanNames(rt.Prefix),
			proxy: &httputil.ReverseProxy{
				Rewrite: func(pr *httputil.ProxyRequest) {
					// Before Rewrite, the proxy has already dropped hop-by-hop
					// headers and the client's X-Forwarded-*, and route the
					// other forwarding headers a client could spoof; set ours.
					pr.SetURL(target)
					pr.SetXForwarded()
					injectTrace(pr.Out.Context(), pr.Out.Header)
				},
				Transport:    b.Transport(spread(base, rt.Replicas)),
				BufferPool:   buffers,
				ErrorHandler: g.proxyError(rt.Name),
				ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			},
		}
		u.fwd = newForwarder(u.proxy, target, buffers, logger)
		u.fwd.keepAuthorization = rt.ForwardAuthorization
		g.upstreams = append(g.upstreams, u)
	}

	auth, err := newAuthenticator(cfg.Auth)
	if err != nil {
		return nil, err
	}
	g.auth = auth
	if cfg.Edge.RateLimit > 0 {
		g.limit = newLimiter(cfg.Edge.RateLimit, cfg.Edge.RateBurst, cfg.Edge.TrustedProxies)
	}
	g.handler = chain(http.HandlerFunc(g.route), g.middleware(cfg)...)
	return g, nil
}

// middleware is the chain every proxied request goes through, outermost
// first. Authentication and rate limiting come after it, in route, once
// the route says whether the caller must say who they are.
func (g *gateway) middleware(cfg gatewayConfig) []func(http.Handler) http.Handler {
	mws := []func(http.Handler) http.Handler{
		recoverPanics(g.log),
		requestID,
		newObserver(g, cfg.TrustTraceparent, g.log, cfg.AccessLog).middleware,
		refuseMethods,
		func(h http.Handler) http.Handler { return allowHosts(cfg.Edge.AllowedHosts, h) },
		func(h http.Handler) http.Handler { return cors(cfg.Edge.CORSOrigins, h) },
	}
	return append(mws, limitBody(cfg.MaxBodyBytes))
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.handler.ServeHTTP(w, r)
}

// route finds the upstream of a request and proxies it there with the
// route's prefix stripped. The path is cleaned first, and the clean path is
// the one matched, authorised and forwarded: /api/orders/../payments/x is
// payments' /x, never orders' /../payments/x. An encoded slash is refused:
// decoding it would route /a%2Fb as /a/b, which the upstream sees
// differently.
func (g *gateway) route(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(strings.ToLower(r.URL.RawPath), "%2f") {
		writeError(w, http.StatusBadRequest, "encoded / in the path is not allowed")
		return
	}
	// Whatever a client says about who it is or where it came from, only
	// the gateway decides.
	stripIdentity(r.Header)
	p := cleanPath(r.URL.Path)
	for _, u := range g.upstreams {
		rest, ok := match(u.Prefix, p)
		if !ok {
			continue
		}
		// The upstream timeout travels as a deadline in the call's state,
		// which the direct transport puts on the connection: no timer and
		// no cancellable context per request.
		call := &proxyCall{deadline: time.Now().Add(g.timeout)}
		if u.Protected {
			subject, err := g.auth.authenticate(r)
			// A failed guess counts against the client's address.
			if g.limit.limited(w, r, subject) {
				return
			}
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
				writeError(w, http.StatusUnauthorized, "authentication required")
				return
			}
			if err := g.vouch(r.Header, subject, u.Name, r.Method, rest, call.deadline); err != nil {
				writeError(w, http.StatusServiceUnavailable, "the gateway has no identity key to vouch for the caller")
				return
			}
		} else if g.limit.limited(w, r, "") {
			return
		}
		// The upstream learns the budget too (replacing any the client
		// sent), so that it stops, and its own calls stop, when nobody
		// waits any more.
		r.Header[deadline.Header] = g.budget
		out := r.WithContext(context.WithValue(r.Context(), proxyCallKey{}, call))
		if r.Body != nil && r.Body != http.NoBody {
			call.body = &clientBody{ReadCloser: r.Body}
			out.Body = call.body
		}
		u2 := *r.URL
		u2.Path, u2.RawPath = rest, ""
		out.URL = &u2
		u.fwd.ServeHTTP(w, out)
		return
	}
	writeError(w, http.StatusNotFound, "no route for this path")
}

// bufferPool lends the proxies their copy buffers: get and put for the
// forwarder, Get and Put for the ReverseProxy (which pays for a pointer
// on each Put).
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) get() *[]byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return v
	}
	buf := make([]byte, 32<<10)
	return &buf
}

func (b *bufferPool) put(buf *[]byte) { b.p.Put(buf) }

func (b *bufferPool) Get() []byte { return *b.get() }

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// clientBody is a request body on its way upstream. It notes whether the
// client finished sending it, so that a client too slow to send its body
// is answered 408 and never counted against the upstream.
type clientBody struct {
	io.ReadCloser
	done atomic.Bool
}

// proxyCall is the gateway's state of one request to an upstream: its
// deadline (the upstream timeout) and its body, if any.
type proxyCall struct {
	deadline time.Time
	body     *clientBody
}

type proxyCallKey struct{}

// callDeadline is the deadline of a request to an upstream: its
// context's, else the one the gateway set for the call.
func callDeadline(ctx context.Context) (time.Time, bool) {
	if d, ok := ctx.Deadline(); ok {
		return d, true
	}
	if c, _ := ctx.Value(proxyCallKey{}).(*proxyCall); c != nil && !c.deadline.IsZero() {
		return c.deadline, true
	}
	return time.Time{}, false
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.done.Store(true)
	case err != nil:
		return n, &breaker.ClientSideError{Err: err}
	}
	return n, err
}

// clientStalled reports whether the request's body was still arriving
// from the client when the call ended: the client's fault, unless the
// upstream could not even be dialled (refused, no route, not resolved),
// which is the upstream's whatever the body's state.
func clientStalled(r *http.Request, err error) bool {
	c, _ := r.Context().Value(proxyCallKey{}).(*proxyCall)
	if c == nil || c.body == nil || c.body.done.Load() {
		return false
	}
	var op *net.OpError
	return !errors.As(err, &op) || op.Op != "dial"
}

// classify is the gateway's breaker policy: breaker.Unavailable, except
// that a call whose client had not finished sending is the client's fault.
func classify(req *http.Request, resp *http.Response, err error) breaker.Outcome {
	if err != nil && clientStalled(req, err) {
		return breaker.Ignored
	}
	return breaker.Unavailable(req, resp, err)
}

// spoofable are headers that upstreams or their frameworks may trust as
// facts about the client or the original URL. Only the gateway may set
// them; a client's copies are dropped (X-Forwarded-For, -Host and -Proto
// are then set by the gateway, to what it saw).
var spoofable = []string{
	"Forwarded",
	"X-Forwarded-For",
	"X-Forwarded-Host",
	"X-Forwarded-Proto",
	"X-Real-Ip",
	"X-Client-Ip",
	"True-Client-Ip",
	"Cf-Connecting-Ip",
	"X-Cluster-Client-Ip",
	"X-Forwarded-Prefix",
	"X-Forwarded-Port",
	"X-Forwarded-Server",
	"X-Original-Url",
	"X-Rewrite-Url",
	"X-Original-Forwarded-For",
}

// statusClientClosedRequest is logged when the client went away first.
const statusClientClosedRequest = 499

// proxyError answers for an upstream that gave no response.
func (g *gateway) proxyError(name string) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		var open *breaker.OpenError
		var tooBig *http.MaxBytesError
		var client *breaker.ClientSideError
		switch {
		case errors.As(err, &open):
			w.Header().Set("Retry-After", strconv.Itoa(int((open.RetryAfter+time.Second-1)/time.Second)))
			writeError(w, http.StatusServiceUnavailable, "upstream "+name+" is unavailable (circuit breaker open)")
		case errors.As(err, &tooBig):
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		case errors.As(err, &client), clientStalled(r, err):
			writeError(w, http.StatusRequestTimeout, "the request body did not arrive in time")
		case errors.Is(err, context.Canceled):
			w.WriteHeader(statusClientClosedRequest)
		case errors.Is(err, context.DeadlineExceeded):
			g.log.WarnContext(r.Context(), "upstream timed out", "upstream", name, "timeout", g.timeout.String())
			writeError(w, http.StatusGatewayTimeout, "upstream "+name+" timed out")
		default:
			g.log.WarnContext(r.Context(), "upstream failed", "upstream", name, "error", err.Error())
			writeError(w, http.StatusBadGateway, "upstream "+name+" is unreachable")
		}
	}
}

// writeError answers with a JSON error: {"error":"..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
