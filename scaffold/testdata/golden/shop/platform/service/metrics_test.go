package service

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"example.com/shop/platform/inbound"
	"example.com/shop/platform/metrics"
)

// TestRequestMetricsAreByRoute: a service's requests are counted on
// /metrics by route pattern, method and status, never by path or Host,
// which a client chooses.
func TestRequestMetricsAreByRoute(t *testing.T) {
	m := metrics.Setup() // before Handler, whose otelhttp takes the global provider
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := Handler(mux, "orders", slog.New(slog.NewTextHandler(io.Discard, nil)), inbound.Options{})
	for _, target := range []string{"http://a.example:4444/items/1", "http://b.example:5555/items/2", "http://c.example/nothing/here"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/items/{id}",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 2`,
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="404",network_protocol_name="http",network_protocol_version="1.1",url_scheme="http"} 1`,
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	for _, leak := range []string{"example", "4444", "/items/1", "/nothing"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics shows %q, which the client chose", leak)
		}
	}
}
