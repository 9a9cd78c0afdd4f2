package main

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// edgeConfig is the gateway's policy towards clients, from msx.yaml.
type edgeConfig struct {
	// AllowedHosts are the Host names the gateway answers; a request for
	// another name is refused, so that a page on another site cannot reach
	// it through DNS rebinding. "*.example.com" matches subdomains.
	AllowedHosts []string
	// CORSOrigins may call the API from a browser; "*" allows any origin
	// (without credentials). Empty: no CORS headers, browsers refuse.
	CORSOrigins []string
	// RateLimit is the requests per second allowed to one client (its
	// verified identity on a protected route, else its address), with
	// bursts of RateBurst. 0 turns it off.
	RateLimit float64
	RateBurst int
	// TrustedProxies are the addresses of proxies in front of the gateway
	// whose X-Forwarded-For names the real client.
	TrustedProxies []netip.Prefix
}

// refuseMethods answers CONNECT and TRACE with 405: a gateway tunnels
// nothing, and TRACE echoes headers such as cookies back to scripts.
func refuseMethods(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect || r.Method == http.MethodTrace {
			w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowHosts refuses requests whose Host is not on the list.
func allowHosts(hosts []string, next http.Handler) http.Handler {
	if len(hosts) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(hosts, r.Host) {
			writeError(w, http.StatusMisdirectedRequest, "this gateway does not serve that host name")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hostAllowed(hosts []string, hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	for _, h := range hosts {
		switch {
		case h == host:
			return true
		case strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]):
			return true
		}
	}
	return false
}

// identityHeaders are headers that some framework or proxy may trust as
// the name of an authenticated user. Only the gateway says who a caller
// is; a client's copies are dropped before anything else runs.
var identityHeaders = []string{
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username",
	"Remote-User", "X-Remote-User", "X-Remote-Group", "X-User", "X-User-Id", "X-Forwarded-Uri",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
}

// stripped is every header a client may not send upstream, identity-style
// and spoofable forwarding headers alike, for one pass over a request's
// headers.
var stripped = func() map[string]bool {
	m := map[string]bool{}
	for _, h := range append(identityHeaders, spoofable...) {
		m[http.CanonicalHeaderKey(h)] = true
	}
	return m
}()

// stripIdentity drops every identity-style header a client sent (those
// above, and any under the reserved X-Msx- and X-Auth- prefixes) and the
// spoofable forwarding headers, in one pass over the request's headers.
// A name spelt with underscores (X_Msx_Identity) counts as the same
// header: some frameworks read both spellings as one.
func stripIdentity(h http.Header) {
	for k := range h {
		name := k
		if strings.Contains(name, "_") {
			name = http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
		}
		if stripped[name] || strings.HasPrefix(name, "X-Msx-") || strings.HasPrefix(name, "X-Auth-") {
			delete(h, k)
		}
	}
}

// cors answers preflight requests at the gateway and marks responses to
// allowed origins. Upstreams never see a preflight.
func cors(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	any := false
	allowed := map[string]bool{}
	for _, o := range origins {
		if o == "*" {
			any = true
		}
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		ok := any || allowed[origin]
		h := w.Header()
		h.Add("Vary", "Origin")
		if ok {
			if any {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if ok {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limiter is a token bucket per client: a verified identity (an API key's
// name, a token's subject) on a protected route, else the client's address.
// Never a credential as sent: junk keys would each get a fresh budget and a
// bucket of their own. The buckets are a list in order of last use; a
// bucket idle long enough to be full again is the same as none and is
// dropped, and past maxBuckets the least recently used goes, so memory is
// bounded whatever keys arrive.
type limiter struct {
	rate       float64
	burst      float64
	trusted    []netip.Prefix
	now        func() time.Time
	refill     time.Duration // from empty to full: idle longer, a bucket is fresh
	maxBuckets int

	mu      sync.Mutex
	buckets map[string]*bucket
	lru     bucket // sentinel of the list: lru.next is the least recently used
}

type bucket struct {
	key        string
	tokens     float64
	last       time.Time
	prev, next *bucket
}

// defaultMaxBuckets bounds the limiter to a few MB at most.
const defaultMaxBuckets = 1 << 16

func newLimiter(rate float64, burst int, trusted []netip.Prefix) *limiter {
	if burst < 1 {
		burst = int(rate) + 1
	}
	l := &limiter{rate: rate, burst: float64(burst), trusted: trusted, now: time.Now,
		refill: time.Duration(float64(burst) / rate * float64(time.Second)), maxBuckets: defaultMaxBuckets,
		buckets: map[string]*bucket{}}
	l.lru.prev, l.lru.next = &l.lru, &l.lru
	return l
}

// allow takes a token for key, or says how long until one is there.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// The least recently used first: drop those idle long enough to be
	// full again (nothing is lost), and the oldest when the table is full.
	for b := l.lru.next; b != &l.lru && now.Sub(b.last) >= l.refill; b = l.lru.next {
		l.drop(b)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxBuckets {
			l.drop(l.lru.next)
		}
		b = &bucket{key: key, tokens: l.burst, last: now}
		l.buckets[key] = b
	} else {
		l.unlink(b)
	}
	// Most recently used last.
	b.prev, b.next = l.lru.prev, &l.lru
	l.lru.prev.next, l.lru.prev = b, b
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

func (l *limiter) drop(b *bucket) {
	l.unlink(b)
	delete(l.buckets, b.key)
}

func (l *limiter) unlink(b *bucket) {
	b.prev.next, b.next.prev = b.next, b.prev
	b.prev, b.next = nil, nil
}

// limited answers 429 with Retry-After, and reports true, when the
// client is over its rate. subject is the caller's verified identity,
// or "" to count the request against the client's address. A nil
// limiter limits nothing.
func (l *limiter) limited(w http.ResponseWriter, r *http.Request, subject string) bool {
	if l == nil {
		return false
	}
	key := "id:" + subject
	if subject == "" {
		key = "ip:" + clientAddr(r, l.trusted)
	}
	ok, wait := l.allow(key)
	if ok {
		return false
	}
	secs := int(wait/time.Second) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "too many requests")
	return true
}

// clientAddr is the client's address as the rate limit counts it: an IPv6
// client by its /64, which one machine usually holds whole, so that it
// cannot take a fresh budget from each of its addresses.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	ip := clientIP(r, trusted)
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return ip
}

// clientIP is the peer's address, or, when the peer is a trusted proxy,
// the right-most address of X-Forwarded-For that is not a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !isTrusted(a, trusted) {
			return a.String()
		}
	}
	return host
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
