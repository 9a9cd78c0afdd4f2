package httpclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"example.com/shop/platform/metrics"
)

// TestRetriesAreCounted: /metrics counts the retries sent and those the
// retry budget refused, by upstream.
func TestRetriesAreCounted(t *testing.T) {
	// The package's instruments record to the global meter provider.
	m := metrics.Setup()

	var calls atomic.Int32
	srv := statuses(t, &calls, 503, 503, 200)
	resp, err := New(fast("ledger"), nil).Get(context.Background(), srv.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	resp.Body.Close()

	// A budget of one retry: the second is refused.
	opts := fast("payments")
	opts.RetryReserve, opts.RetryRatio = 1, 0.001
	var calls2 atomic.Int32
	srv2 := statuses(t, &calls2, 503)
	resp, err = New(opts, nil).Get(context.Background(), srv2.URL)
	if err != nil || resp.StatusCode != 503 || calls2.Load() != 2 {
		t.Fatalf("GET with one retry in the budget: %v %v after %d calls, want 503 after 2", resp, err, calls2.Load())
	}
	resp.Body.Close()

	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		"# TYPE http_client_retries_total counter",
		`http_client_retries_total{outcome="sent",upstream="ledger"} 2`,
		`http_client_retries_total{outcome="sent",upstream="payments"} 1`,
		`http_client_retries_total{outcome="denied",upstream="payments"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), "\n"+want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, rec.Body)
		}
	}
}
