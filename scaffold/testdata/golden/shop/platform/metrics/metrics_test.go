package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	_ "modernc.org/sqlite"
)

// scrape reads m's /metrics as a Prometheus server would, and returns the
// text and its metric families by name.
func scrape(t *testing.T, m *Metrics) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q, want the Prometheus text format", ct)
	}
	body := rec.Body.String()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not valid Prometheus text: %v\n%s", err, body)
	}
	return body, families
}

// labels returns a sample's labels by name.
func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestOpenTelemetryInstrumentsAreServedWithPrometheusNames(t *testing.T) {
	m := New()
	meter := m.Provider().Meter("test")
	c, _ := meter.Int64Counter("breaker_state_changes")
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("breaker", "orders"), attribute.String("state", "open")))
	h, _ := meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 1))
	h.Record(context.Background(), 0.05, metric.WithAttributes(attribute.String("http.route", "/api/orders/")))
	h.Record(context.Background(), 0.5, metric.WithAttributes(attribute.String("http.route", "/api/orders/")))

	body, families := scrape(t, m)
	for _, want := range []string{
		"# TYPE breaker_state_changes_total counter\n",
		`breaker_state_changes_total{breaker="orders",state="open"} 2` + "\n",
		"# TYPE http_server_request_duration_seconds histogram\n",
		`http_server_request_duration_seconds_bucket{http_route="/api/orders/",le="0.1"} 1` + "\n",
		`http_server_request_duration_seconds_bucket{http_route="/api/orders/",le="1"} 2` + "\n",
		`http_server_request_duration_seconds_bucket{http_route="/api/orders/",le="+Inf"} 2` + "\n",
		`http_server_request_duration_seconds_count{http_route="/api/orders/"} 2` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	// The scope and the resource are not labels or metrics of their own.
	if strings.Contains(body, "otel_scope_") || families["target_info"] != nil {
		t.Errorf("/metrics shows the scope or target_info:\n%s", body)
	}
}

func TestLabelValuesAreEscapedAsPrometheusSays(t *testing.T) {
	m := New()
	c, _ := m.Provider().Meter("test").Int64Counter("odd")
	// Go's %q would write \t and \u00e9 escapes, which Prometheus reads
	// literally; its format escapes only \, " and newline.
	odd := "a \"quoted\" \\ back\nslash\tand é"
	c.Add(context.Background(), 1, metric.WithAttributes(attribute.String("v", odd)))

	body, families := scrape(t, m)
	if want := `odd_total{v="a \"quoted\" \\ back\nslash` + "\t" + `and é"} 1`; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %q:\n%s", want, body)
	}
	f := families["odd_total"]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("odd_total = %v", f)
	}
	if got := labels(f.GetMetric()[0])["v"]; got != odd {
		t.Errorf("label read back = %q, want %q", got, odd)
	}
}

func TestRuntimeAndProcessMetrics(t *testing.T) {
	_, families := scrape(t, New())
	want := []string{"go_goroutines", "go_gc_duration_seconds", "go_memstats_heap_alloc_bytes", "go_info"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds")
	}
	for _, name := range want {
		if families[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestDBShowsThePoolOfTheInstalledMetrics(t *testing.T) {
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	// Without Setup there is nowhere to show it, and no error.
	installed.Store(nil)
	if err := DB("orders", open()); err != nil {
		t.Fatal(err)
	}
	m := Setup()
	t.Cleanup(func() { installed.Store(nil) })
	if err := DB("orders", open()); err != nil {
		t.Fatal(err)
	}
	// Opened again, as tests and restarts of a store do, it replaces
	// the first: one series, the new pool's.
	db := open()
	db.SetMaxOpenConns(3)
	if err := DB("orders", db); err != nil {
		t.Fatalf("registering a reopened database: %v", err)
	}
	_, families := scrape(t, m)
	f := families["go_sql_max_open_connections"]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("go_sql_max_open_connections = %v, want one series", f)
	}
	if got := f.GetMetric()[0]; labels(got)["db_name"] != "orders" || got.GetGauge().GetValue() != 3 {
		t.Errorf("go_sql_max_open_connections = %v, want db_name orders and 3", got)
	}
	for _, name := range []string{"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_wait_count_total", "go_sql_wait_duration_seconds_total"} {
		if families[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestRequestsAreLabelledByRouteNotByWhatTheClientSends: a request's Host
// header and path are not labels; its route's pattern is.
func TestRequestsAreLabelledByRouteNotByWhatTheClientSends(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := otelhttp.NewHandler(mux, "orders", otelhttp.WithMeterProvider(m.Provider()))
	for _, host := range []string{"a.example:4444", "b.example:5555"} {
		req := httptest.NewRequest(http.MethodGet, "http://"+host+"/items/42", nil)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	body, families := scrape(t, m)
	if strings.Contains(body, "example") || strings.Contains(body, "4444") || strings.Contains(body, "/items/42") {
		t.Errorf("/metrics shows the Host header or the path:\n%s", body)
	}
	f := families["http_server_request_duration_seconds"]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("http_server_request_duration_seconds = %v, want one series for both hosts", f)
	}
	if got := labels(f.GetMetric()[0]); got["http_route"] != "/items/{id}" || got["http_request_method"] != "GET" || got["http_response_status_code"] != "200" {
		t.Errorf("labels = %v, want the route's pattern, the method and the status", got)
	}
}
