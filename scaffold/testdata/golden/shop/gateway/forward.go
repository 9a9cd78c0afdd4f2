package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// forwarder proxies a request to its route's upstream. For plain HTTP/1.x
// to an http:// upstream, which is nearly every request, it does what
// httputil.ReverseProxy does, with less per request: the gateway owns the
// request it forwards, so its header map and URL are edited in place
// rather than copied, and the answer's header values are handed to the
// client's response rather than copied one by one. Everything else
// (protocol upgrades such as WebSocket, HTTP/2, a client asking for
// trailers, an upstream URL with a path or query) goes to the
// ReverseProxy, whose Transport, buffers and ErrorHandler both paths
// share.
type forwarder struct {
	rp      *httputil.ReverseProxy
	target  *url.URL
	buffers *bufferPool
	log     *slog.Logger
	fast    bool // target is http://host[:port] with nothing after it
	// keepAuthorization forwards the client's Authorization header (the
	// route's forward_authorization).
	keepAuthorization bool
}

func newForwarder(rp *httputil.ReverseProxy, target *url.URL, buffers *bufferPool, log *slog.Logger) *forwarder {
	fast := target.Scheme == "http" && (target.Path == "" || target.Path == "/") && target.RawQuery == "" && target.User == nil
	return &forwarder{rp: rp, target: target, buffers: buffers, log: log, fast: fast}
}

// hopHeaders are meant for one connection, not for the other side of a
// proxy (RFC 9110, section 7.6.1), in their canonical form.
var hopHeaders = []string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// noUserAgent keeps Go's default User-Agent off a request whose client
// sent none, as ReverseProxy does.
var noUserAgent = []string{""}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The client's credentials stay at the gateway, so that a service
	// cannot replay them elsewhere, unless the route says the service
	// checks them itself. Its trailers stay too: they would arrive after
	// the gateway stripped what a client may not say (X-Msx-Identity).
	delete(r.Header, "X-Api-Key")
	if !f.keepAuthorization {
		delete(r.Header, "Authorization")
	}
	r.Trailer = nil
	if !f.fast || r.ProtoMajor != 1 || r.Header["Upgrade"] != nil || r.Header["Te"] != nil {
		f.rp.ServeHTTP(w, r)
		return
	}
	h := r.Header
	removeHopHeaders(h)
	// The client's forwarding headers were dropped with the other
	// spoofable ones; the gateway states its own.
	fwd := make([]string, 3)
	fwd[0], fwd[1], fwd[2] = peerAddr(r.RemoteAddr), r.Host, "http"
	if r.TLS != nil {
		fwd[2] = "https"
	}
	h["X-Forwarded-For"], h["X-Forwarded-Host"], h["X-Forwarded-Proto"] = fwd[0:1:1], fwd[1:2:2], fwd[2:3:3]
	if fwd[0] == "" {
		delete(h, "X-Forwarded-For")
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noUserAgent
	}
	injectTrace(r.Context(), h)

	r.URL.Scheme, r.URL.Host = f.target.Scheme, f.target.Host
	r.Host, r.RequestURI, r.Close = "", "", false
	if r.ContentLength == 0 {
		r.Body = nil
	}

	res, err := f.rp.Transport.RoundTrip(r)
	if err != nil {
		f.rp.ErrorHandler(w, r, err)
		return
	}
	removeHopHeaders(res.Header)
	dst := w.Header()
	for k, vv := range res.Header {
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv // res is done with after this request
		}
	}
	if len(res.Trailer) > 0 {
		names := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			names = append(names, k)
		}
		dst.Add("Trailer", strings.Join(names, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if len(res.Trailer) > 0 {
		// Chunked, so that the trailers can follow the body.
		http.NewResponseController(w).Flush()
	}
	if err := f.copyBody(w, res); err != nil {
		res.Body.Close()
		// The status is sent: all that is left is to cut the response
		// short, so that the client sees it incomplete.
		panic(http.ErrAbortHandler)
	}
	res.Body.Close()
	for k, vv := range res.Trailer {
		dst[http.TrailerPrefix+k] = vv
	}
}

// copyBody copies the answer's body to the client through a pooled
// buffer. A stream (no length, or server-sent events) is flushed after
// every read, so that each part reaches the client when the upstream
// sends it.
func (f *forwarder) copyBody(w http.ResponseWriter, res *http.Response) error {
	bp := f.buffers.get()
	defer f.buffers.put(bp)
	buf := *bp
	var flush func() error
	if res.ContentLength == -1 || isEventStream(res.Header["Content-Type"]) {
		flush = http.NewResponseController(w).Flush
	}
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if flush != nil {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			if rerr != context.Canceled {
				f.log.Warn("reading the upstream's answer failed", "upstream", f.target.Host, "error", rerr.Error())
			}
			return rerr
		}
	}
}

// removeHopHeaders deletes the hop-by-hop headers and those the
// Connection header names.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				delete(h, http.CanonicalHeaderKey(name))
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// peerAddr is the address part of a RemoteAddr ("192.0.2.1:5678",
// "[2001:db8::1]:5678"), or "" when it has none.
func peerAddr(remote string) string {
	i := strings.LastIndexByte(remote, ':')
	if i <= 0 {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(remote[:i], "["), "]")
}

// isEventStream reports whether a Content-Type is text/event-stream.
func isEventStream(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	base, _, _ := strings.Cut(ct[0], ";")
	return strings.EqualFold(strings.TrimSpace(base), "text/event-stream")
}
