package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func statusUpstream(t *testing.T, code int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestApplication500sNeverOpenTheBreaker(t *testing.T) {
	srv, calls := statusUpstream(t, http.StatusInternalServerError)
	g, reg := newTestGateway(t, routesJSON("orders", srv.URL))
	for i := 0; i < 50; i++ {
		if rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/boom", nil)); rec.Code != 500 {
			t.Fatalf("call %d: got %d, want the upstream's 500", i, rec.Code)
		}
	}
	if s := reg.States()["orders"]; s != "closed" || calls.Load() != 50 {
		t.Errorf("breaker %s after 50 application errors (%d forwarded), want closed and all forwarded", s, calls.Load())
	}
}

// stalledBody sends a little, then nothing, until the server's read
// deadline ends the read, as http.Server's ReadTimeout does.
type stalledBody struct {
	sent bool
}

func (b *stalledBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, `{"name":`), nil
	}
	<-time.After(50 * time.Millisecond)
	return 0, os.ErrDeadlineExceeded
}

func TestSlowClientIs408AndNotCounted(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // waits for the whole body, as handlers do
	}))
	defer upstream.Close()
	g, reg := newTestGateway(t, routesJSON("orders", upstream.URL))
	g.timeout = 30 * time.Millisecond

	for i := 0; i < 8; i++ {
		r := httptest.NewRequest(http.MethodPost, "/api/orders/items", &stalledBody{})
		r.ContentLength = 100
		rec := do(g, r)
		if rec.Code != http.StatusRequestTimeout {
			t.Fatalf("slow client %d: got %d %s, want 408", i, rec.Code, rec.Body)
		}
	}
	if s := reg.States()["orders"]; s != "closed" {
		t.Errorf("breaker %s after slow clients, want closed: they are not the upstream's fault", s)
	}
}

// A POST whose upstream refuses the connection is the upstream's failure
// (502), not a slow client's (408), though its body was never read.
func TestUnreachableUpstreamIsNotASlowClient(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close() // connections refused
	g, _ := newTestGateway(t, routesJSON("orders", url))
	rec := do(g, httptest.NewRequest(http.MethodPost, "/api/orders/items", strings.NewReader(`{"name":"x"}`)))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("POST to a refused upstream: %d %s, want 502", rec.Code, rec.Body)
	}
}

func TestEncodedSlashIsRefused(t *testing.T) {
	orders, calls := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL))
	for _, target := range []string{"/api/orders/items%2F1", "/api%2forders/items"} {
		if rec := do(g, httptest.NewRequest(http.MethodGet, target, nil)); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400", target, rec.Code)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("upstream saw %d calls, want none", calls.Load())
	}
}

func TestConnectAndTraceAreRefused(t *testing.T) {
	orders, calls := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL))
	for _, m := range []string{http.MethodConnect, http.MethodTrace} {
		if rec := do(g, httptest.NewRequest(m, "/api/orders/items", nil)); rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: got %d, want 405", m, rec.Code)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("upstream saw %d calls, want none", calls.Load())
	}
}

func TestHostAllowlist(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGatewayWith(t, routesJSON("orders", orders.URL), func(c *gatewayConfig) {
		c.Edge.AllowedHosts = []string{"localhost", "*.localhost", "127.0.0.1", "::1"}
	})
	for host, want := range map[string]int{
		"localhost:8080":    200,
		"api.localhost":     200,
		"127.0.0.1:8080":    200,
		"[::1]:8080":        200,
		"evil.example:8080": http.StatusMisdirectedRequest,
		"localhost.evil":    http.StatusMisdirectedRequest,
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
		r.Host = host
		if rec := do(g, r); rec.Code != want {
			t.Errorf("Host %s: got %d, want %d", host, rec.Code, want)
		}
	}
}

func TestNotFoundDoesNotEchoThePath(t *testing.T) {
	g, _ := newTestGateway(t, "[]")
	rec := do(g, httptest.NewRequest(http.MethodGet, "/"+strings.Repeat("x", 16<<10), nil))
	if rec.Code != 404 || rec.Body.Len() > 100 {
		t.Errorf("got %d with %d bytes, want a short 404", rec.Code, rec.Body.Len())
	}
}

func TestAccessLogRecordsTheFinalStatus(t *testing.T) {
	var logs bytes.Buffer
	h := newObserver(&gateway{}, false, slog.New(slog.NewJSONHandler(&logs, nil)), nil).middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusContinue)
		w.WriteHeader(http.StatusCreated)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/x", nil))
	var line struct{ Status int }
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Status != 201 {
		t.Errorf("logged %s, want status 201", logs.String())
	}
}

const testSecret = "0123456789abcdef0123456789abcdef"

func token(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func protectedGateway(t *testing.T, upstream string) *gateway {
	t.Helper()
	g, _ := newTestGatewayWith(t, `[{"name":"orders","prefix":"/api/orders/","upstream":"`+upstream+`","protected":true}]`, func(c *gatewayConfig) {
		c.Auth = authConfig{JWTKey: testSecret, JWTIssuer: "https://issuer.test", JWTAudience: "shop",
			APIKeys: "ci:key-0123456789abcdef\n", Identity: testIdentity.gateway}
	})
	return g
}

func TestJWTOnProtectedRoutes(t *testing.T) {
	orders, _ := echo(t)
	g := protectedGateway(t, orders.URL)
	now := time.Now()
	good := jwt.MapClaims{"sub": "alice", "iss": "https://issuer.test", "aud": "shop", "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range good {
			c[k] = v
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"valid", token(t, jwt.SigningMethodHS256, []byte(testSecret), good), 200},
		{"alg none", unsigned, 401},
		{"alg not allowed", token(t, jwt.SigningMethodHS512, []byte(testSecret), good), 401},
		{"wrong key", token(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), good), 401},
		{"expired", token(t, jwt.SigningMethodHS256, []byte(testSecret), with("exp", now.Add(-time.Minute).Unix())), 401},
		{"no exp", token(t, jwt.SigningMethodHS256, []byte(testSecret), with("exp", nil)), 401},
		{"not yet valid", token(t, jwt.SigningMethodHS256, []byte(testSecret), with("nbf", now.Add(time.Hour).Unix())), 401},
		{"wrong issuer", token(t, jwt.SigningMethodHS256, []byte(testSecret), with("iss", "https://evil.test")), 401},
		{"wrong audience", token(t, jwt.SigningMethodHS256, []byte(testSecret), with("aud", "other")), 401},
		{"no token", "", 401},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
		if tt.token != "" {
			r.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := do(g, r)
		if rec.Code != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, rec.Code, tt.want)
		}
		if tt.want == 200 {
			if id := vouchedFor(t, decodeSeen(t, rec), "orders", "GET", "/items"); id != "alice" {
				t.Errorf("%s: upstream identity %q, want alice", tt.name, id)
			}
		}
	}
}

func TestAPIKeys(t *testing.T) {
	orders, _ := echo(t)
	g := protectedGateway(t, orders.URL)
	for key, want := range map[string]int{"key-0123456789abcdef": 200, "key-0123456789abcdeX": 401, "k": 401} {
		r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
		r.Header.Set("X-Api-Key", key)
		rec := do(g, r)
		if rec.Code != want {
			t.Errorf("key %q: got %d, want %d", key, rec.Code, want)
		}
		if want == 200 && vouchedFor(t, decodeSeen(t, rec), "orders", "GET", "/items") != "apikey:ci" {
			t.Errorf("key %q: identity not set", key)
		}
	}
}

func TestNoneIsNeverAnAllowedAlgorithm(t *testing.T) {
	if _, err := newAuthenticator(authConfig{JWTKey: testSecret, JWTAnyIssuer: true, JWTAnyAudience: true, JWTAlgorithms: []string{"HS256", "none"}}); err == nil {
		t.Error("JWT_ALGORITHMS with none was accepted")
	}
}

func TestClientIdentityHeadersAreStripped(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL))
	r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
	spoofed := []string{"X-Msx-Identity", "X-Msx-Anything", "X-Forwarded-User", "Remote-User", "X-Remote-User",
		"X-Auth-User", "X-Auth-Request-Email", "X-Forwarded-Uri", "X-Http-Method-Override",
		"X-Real-Ip", "Forwarded", "X_msx_identity", "X_Forwarded_User"}
	for _, h := range spoofed {
		r.Header[h] = []string{"admin"} // as sent, underscores and all
	}
	got := decodeSeen(t, do(g, r)).Header
	for _, h := range spoofed {
		if v := got[h]; v != nil {
			t.Errorf("upstream got %s = %q, want it stripped", h, v)
		}
	}
}

func TestRateLimitPerClient(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGatewayWith(t, routesJSON("orders", orders.URL), func(c *gatewayConfig) {
		c.Edge.RateLimit, c.Edge.RateBurst = 1, 2
	})
	codes := func(addr string) []int {
		var out []int
		for range 3 {
			r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
			r.RemoteAddr = addr
			rec := do(g, r)
			out = append(out, rec.Code)
			if rec.Code == 429 && rec.Header().Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
		return out
	}
	if got := codes("192.0.2.1:1000"); got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Errorf("first client: %v, want [200 200 429]", got)
	}
	if got := codes("192.0.2.2:1000"); got[0] != 200 {
		t.Errorf("second client: %v, want its own budget", got)
	}
}

// rateCodes sends n requests to path from addr, each with the header set
// by key(i) when key is not nil, and returns the statuses.
func rateCodes(t *testing.T, g http.Handler, path, addr string, n int, header string, key func(int) string) []int {
	t.Helper()
	var out []int
	for i := range n {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = addr
		if key != nil {
			r.Header.Set(header, key(i))
		}
		out = append(out, do(g, r).Code)
	}
	return out
}

func TestRateLimitIgnoresUncheckedKeys(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGatewayWith(t, routesJSON("orders", orders.URL), func(c *gatewayConfig) {
		c.Edge.RateLimit, c.Edge.RateBurst = 1, 2
	})
	// A new junk key on every request is still one client: its address.
	got := rateCodes(t, g, "/api/orders/items", "192.0.2.1:1000", 4, "X-Api-Key", func(i int) string { return fmt.Sprint("junk-", i) })
	if fmt.Sprint(got) != "[200 200 429 429]" {
		t.Errorf("junk keys from one address: %v, want [200 200 429 429]", got)
	}
}

func TestRateLimitCountsGuessesAgainstTheAddress(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGatewayWith(t, `[{"name":"orders","prefix":"/api/orders/","upstream":"`+orders.URL+`","protected":true}]`, func(c *gatewayConfig) {
		c.Auth = authConfig{APIKeys: "ci:key-0123456789abcdef\nqa:key-fedcba9876543210\n", Identity: testIdentity.gateway}
		c.Edge.RateLimit, c.Edge.RateBurst = 1, 2
	})
	got := rateCodes(t, g, "/api/orders/items", "192.0.2.1:1000", 4, "X-Api-Key", func(i int) string { return fmt.Sprint("guess-0123456789-", i) })
	if fmt.Sprint(got) != "[401 401 429 429]" {
		t.Errorf("guessed keys: %v, want [401 401 429 429]", got)
	}
	// Verified callers have budgets of their own, whatever address they
	// share with the guesser.
	for _, key := range []string{"key-0123456789abcdef", "key-fedcba9876543210"} {
		got := rateCodes(t, g, "/api/orders/items", "192.0.2.1:1000", 3, "X-Api-Key", func(int) string { return key })
		if fmt.Sprint(got) != "[200 200 429]" {
			t.Errorf("key %s: %v, want [200 200 429]", key, got)
		}
	}
}

func TestLimiterBucketsAreBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(1, 5, nil)
	l.now = func() time.Time { return now }
	l.maxBuckets = 100
	for i := range 10000 {
		l.allow(fmt.Sprint("ip:", i))
	}
	if n := len(l.buckets); n != 100 {
		t.Fatalf("%d buckets after 10000 clients, want the cap of 100", n)
	}
	// The most recent clients keep their budgets: the oldest were evicted.
	if ok, _ := l.allow("ip:9999"); !ok || l.buckets["ip:9999"].tokens != 3 {
		t.Errorf("the latest client lost its bucket")
	}
	// Buckets idle long enough to be full again go, whoever comes next.
	now = now.Add(5 * time.Second)
	l.allow("ip:new")
	if n := len(l.buckets); n != 1 {
		t.Errorf("%d buckets after every client went idle, want 1", n)
	}
}

func TestRateLimitMemoryIsBoundedWhateverKeysArrive(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGatewayWith(t, routesJSON("orders", orders.URL), func(c *gatewayConfig) {
		c.Edge.RateLimit, c.Edge.RateBurst = 1000, 1000
	})
	g.limit.maxBuckets = 64
	junk := strings.Repeat("k", 60<<10)
	for i := range 300 {
		r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
		r.RemoteAddr = fmt.Sprintf("[2001:db8:%x::1]:1000", i)
		r.Header.Set("X-Api-Key", fmt.Sprint(junk, i))
		do(g, r)
	}
	g.limit.mu.Lock()
	n, keyBytes := len(g.limit.buckets), 0
	for k := range g.limit.buckets {
		keyBytes += len(k)
	}
	g.limit.mu.Unlock()
	if n > 64 || keyBytes > 64*64 {
		t.Errorf("%d buckets holding %d bytes of keys after 300 clients with 60 KiB keys, want at most 64 small ones", n, keyBytes)
	}
}

func TestCredentialsAndTrailersStayAtTheGateway(t *testing.T) {
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got = r.Header.Clone()
		for k, v := range r.Trailer {
			got["Trailer-"+k] = v
		}
	}))
	t.Cleanup(up.Close)
	for _, forward := range []bool{false, true} {
		routes := routesJSON("orders", up.URL)
		if forward {
			routes = `[{"name":"orders","prefix":"/api/orders/","upstream":"` + up.URL + `","forward_authorization":true}]`
		}
		g, _ := newTestGateway(t, routes)
		srv := serve(t, g)
		// A chunked body, so that the client can send trailers.
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/orders/x", io.MultiReader(strings.NewReader("body")))
		req.Header.Set("Authorization", "Bearer user-token")
		req.Header.Set("X-Api-Key", "key-0123456789abcdef")
		req.Trailer = http.Header{"X-Msx-Identity": {"admin"}, "X-Checksum": {"abc"}}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("forward_authorization %v: status %d", forward, resp.StatusCode)
		}
		if v := got.Get("X-Api-Key"); v != "" {
			t.Errorf("forward_authorization %v: the service got X-Api-Key %q", forward, v)
		}
		if v, want := got.Get("Authorization"), map[bool]string{false: "", true: "Bearer user-token"}[forward]; v != want {
			t.Errorf("forward_authorization %v: the service got Authorization %q, want %q", forward, v, want)
		}
		for _, k := range []string{"Trailer-X-Msx-Identity", "Trailer-X-Checksum"} {
			if v := got.Get(k); v != "" {
				t.Errorf("forward_authorization %v: the service got the client's trailer %s %q", forward, k, v)
			}
		}
	}
}

func TestLimiterRefillsWithTime(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(2, 1, nil)
	l.now = func() time.Time { return now }
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("first request refused")
	}
	ok, wait := l.allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("second at once: %v, wait %v; want refused for 500ms", ok, wait)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Error("refused after the refill")
	}
}

func TestClientIPBehindTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct{ peer, xff, want string }{
		{"192.0.2.1:1", "203.0.113.9", "192.0.2.1"},                     // untrusted peer: XFF ignored
		{"10.0.0.2:1", "203.0.113.9", "203.0.113.9"},                    // trusted proxy
		{"10.0.0.2:1", "1.1.1.1, 203.0.113.9, 10.0.0.3", "203.0.113.9"}, // right-most untrusted
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.peer
		r.Header.Set("X-Forwarded-For", tt.xff)
		if got := clientIP(r, trusted); got != tt.want {
			t.Errorf("peer %s XFF %q: %s, want %s", tt.peer, tt.xff, got, tt.want)
		}
	}
}

func TestCORSPreflightAnsweredAtTheGateway(t *testing.T) {
	orders, calls := echo(t)
	g, _ := newTestGatewayWith(t, routesJSON("orders", orders.URL), func(c *gatewayConfig) {
		c.Edge.CORSOrigins = []string{"https://app.test"}
	})
	pre := func(origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/api/orders/items", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		return do(g, r)
	}
	if rec := pre("https://app.test"); rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Errorf("allowed origin: %d %v", rec.Code, rec.Header())
	}
	if rec := pre("https://evil.test"); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin allowed: %v", rec.Header())
	}
	if calls.Load() != 0 {
		t.Errorf("upstream saw %d preflights, want none", calls.Load())
	}
}

func TestKeysAndJWTSettingsFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/api-keys", []byte("ci:key-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SECRETS_DIR", dir)
	t.Setenv("JWT_KEY", testSecret)
	t.Setenv("JWT_ALGORITHMS", "HS256, HS384")
	t.Setenv("JWT_ISSUER", "https://issuer.test")
	t.Setenv("JWT_AUDIENCE", "shop")
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Auth.JWTAlgorithms, ",") != "HS256,HS384" || cfg.Auth.JWTIssuer != "https://issuer.test" ||
		cfg.Auth.JWTKey != testSecret || cfg.Auth.APIKeys != "ci:key-0123456789abcdef" {
		t.Fatalf("auth config = %+v", cfg.Auth)
	}
	// The algorithms, as written, accept a token signed with one of them.
	orders, _ := echo(t)
	g, _ := newTestGatewayWith(t, `[{"name":"orders","prefix":"/api/orders/","upstream":"`+orders.URL+`","protected":true}]`,
		func(c *gatewayConfig) { c.Auth, c.Auth.Identity = cfg.Auth, testIdentity.gateway })
	r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
	r.Header.Set("Authorization", "Bearer "+token(t, jwt.SigningMethodHS256, []byte(testSecret),
		jwt.MapClaims{"sub": "ann", "iss": "https://issuer.test", "aud": "shop", "exp": time.Now().Add(time.Minute).Unix()}))
	if rec := do(g, r); rec.Code != 200 {
		t.Errorf("a valid HS256 token with JWT_ALGORITHMS=HS256: %d %s", rec.Code, rec.Body)
	}
}

func TestUpstreamErrorsNeverNameTheUpstreamAddress(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(slow.Close)
	for _, tt := range []struct {
		upstream string
		want     int
	}{
		{"http://127.0.0.1:1", http.StatusBadGateway},
		{slow.URL, http.StatusGatewayTimeout},
	} {
		g, _ := newTestGatewayWith(t, routesJSON("orders", tt.upstream), func(c *gatewayConfig) { c.UpstreamTimeout = 50 * time.Millisecond })
		rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil))
		host := strings.TrimPrefix(tt.upstream, "http://")
		if rec.Code != tt.want || strings.Contains(rec.Body.String(), host) || strings.Contains(rec.Body.String(), "127.0.0.1") ||
			!strings.Contains(rec.Body.String(), "upstream orders") {
			t.Errorf("%s: %d %s, want %d naming the route, not its address", tt.upstream, rec.Code, rec.Body, tt.want)
		}
	}
}
