package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"example.com/shop/platform/fault"
	"example.com/shop/platform/health"
	"example.com/shop/platform/metrics"
)

func TestAdminEndpoints(t *testing.T) {
	h := Handler(Options{Health: health.New("orders", "0.1.0"), Metrics: metrics.New(), Faults: fault.New()})
	for _, path := range []string{"/healthz", "/readyz", "/debug/breakers", "/metrics", "/debug/fault", "/debug/pprof/"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 {
			t.Errorf("GET %s: %d", path, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/debug/fault", strings.NewReader(`{"errors":0.5}`)))
	if rec.Code != 200 {
		t.Errorf("PUT /debug/fault: %d %s", rec.Code, rec.Body)
	}
}

func TestNoFaultEndpointWhenOff(t *testing.T) {
	h := Handler(Options{Health: health.New("orders", "0.1.0")})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/fault", nil))
	if rec.Code != 404 {
		t.Errorf("GET /debug/fault with faults off: %d, want 404", rec.Code)
	}
}
