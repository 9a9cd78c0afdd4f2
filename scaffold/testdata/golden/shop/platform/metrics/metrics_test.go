package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestPrometheusText(t *testing.T) {
	m := New()
	meter := m.Provider().Meter("test")
	c, _ := meter.Int64Counter("breaker_state_changes")
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("breaker", "orders"), attribute.String("state", "open")))
	h, _ := meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 1))
	h.Record(context.Background(), 0.05)
	h.Record(context.Background(), 0.5)

	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"# TYPE breaker_state_changes_total counter\n",
		`breaker_state_changes_total{breaker="orders",state="open"} 2` + "\n",
		"# TYPE http_server_request_duration_seconds histogram\n",
		`http_server_request_duration_seconds_bucket{le="0.1"} 1` + "\n",
		`http_server_request_duration_seconds_bucket{le="1"} 2` + "\n",
		`http_server_request_duration_seconds_bucket{le="+Inf"} 2` + "\n",
		"http_server_request_duration_seconds_count 2\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
}
