package admin

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"example.com/shop/platform/fault"
	"example.com/shop/platform/health"
	"example.com/shop/platform/metrics"
)

const token = "0123456789abcdef"

func do(h http.Handler, method, host, path, auth, body string) int {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = host
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func newHandler() http.Handler {
	inbox := http.NewServeMux()
	inbox.HandleFunc("GET /inbox", func(w http.ResponseWriter, r *http.Request) {})
	return Handler(Options{Health: health.New("orders", "0.1.0"), Metrics: metrics.New(), Faults: fault.New(),
		Routes: inbox, Token: token, Hosts: []string{"orders"}})
}

func TestAdminEndpoints(t *testing.T) {
	h := newHandler()
	for _, path := range []string{"/healthz", "/readyz", "/debug/breakers", "/metrics", "/debug/fault", "/debug/pprof/", "/inbox"} {
		if code := do(h, "GET", "127.0.0.1:9901", path, "Bearer "+token, ""); code != 200 {
			t.Errorf("GET %s: %d", path, code)
		}
	}
	if code := do(h, "PUT", "localhost:9901", "/debug/fault", "Bearer "+token, `{"errors":0.5}`); code != 200 {
		t.Errorf("PUT /debug/fault: %d", code)
	}
}

func TestTokenGuardsFaultsProfilerAndRoutes(t *testing.T) {
	h := newHandler()
	for _, auth := range []string{"", "Bearer ", "Bearer wrong", token, "Basic " + token, "Bearer " + token + "x"} {
		for _, path := range []string{"/debug/fault", "/debug/pprof/", "/debug/pprof/cmdline", "/inbox"} {
			if code := do(h, "GET", "127.0.0.1", path, auth, ""); code != 401 {
				t.Errorf("GET %s with %q: %d, want 401", path, auth, code)
			}
		}
		if code := do(h, "PUT", "127.0.0.1", "/debug/fault", auth, `{"errors":1}`); code != 401 {
			t.Errorf("PUT /debug/fault with %q: %d, want 401", auth, code)
		}
	}
	// What msx and health checks poll needs no token.
	for _, path := range []string{"/healthz", "/readyz", "/debug/breakers", "/metrics"} {
		if code := do(h, "GET", "[::1]:9901", path, "", ""); code != 200 {
			t.Errorf("GET %s without a token: %d", path, code)
		}
	}
}

func TestHostIsChecked(t *testing.T) {
	h := newHandler()
	for _, host := range []string{"evil.example", "evil.example:9901", "127.0.0.1.nip.io", "localhost.evil.example", "10.1.2.3:9901", ""} {
		for _, path := range []string{"/healthz", "/metrics", "/debug/fault", "/debug/pprof/"} {
			if code := do(h, "GET", host, path, "Bearer "+token, ""); code != http.StatusMisdirectedRequest {
				t.Errorf("GET %s with Host %q: %d, want 421", path, host, code)
			}
		}
	}
	// A pod's own address is what a Kubernetes probe sends.
	own := []string{"127.0.0.1", "LOCALHOST:1234", "[::1]:9901", "orders:9901", "Orders"}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				own = append(own, net.JoinHostPort(p.Addr().String(), "9901"))
			}
		}
	}
	for _, host := range own {
		if code := do(h, "GET", host, "/debug/fault", "Bearer "+token, ""); code != 200 {
			t.Errorf("GET /debug/fault with Host %q: %d, want 200", host, code)
		}
	}
}

func TestNoTokenNoFaultsNorProfiler(t *testing.T) {
	h := Handler(Options{Health: health.New("orders", "0.1.0"), Faults: fault.New()})
	for _, path := range []string{"/debug/fault", "/debug/pprof/", "/debug/pprof/profile"} {
		if code := do(h, "GET", "127.0.0.1", path, "Bearer ", ""); code != 404 {
			t.Errorf("GET %s without a token configured: %d, want 404", path, code)
		}
	}
	if code := do(h, "GET", "127.0.0.1", "/healthz", "", ""); code != 200 {
		t.Errorf("GET /healthz: %d", code)
	}
}
