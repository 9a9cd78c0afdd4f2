// Package metrics serves a program's metrics in the Prometheus text
// format, on the admin listener's /metrics.
//
// The program records through the OpenTelemetry metrics API: otelhttp
// (requests served and sent), the gateway's request durations, breakers,
// retries, the outbox and the consumer all use the global meter provider
// that Setup installs. The OpenTelemetry Prometheus exporter turns those
// into Prometheus metrics, with Prometheus's naming rules (units and
// _total suffixes), and prometheus/client_golang writes them out, with its
// escaping and content negotiation, next to its collectors of the Go
// runtime, the process and database pools. One library for the recording
// (the one otelhttp speaks) and one for the exposition: nothing here
// formats the text by hand.
//
// No label comes from a request header or path: requests are labelled by
// route template, method and status only, so that a client cannot grow the
// number of series.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Metrics is a program's meter provider and the registry /metrics shows.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	handler  http.Handler
}

// installed is the Metrics Setup installed, which Register adds to.
var installed atomic.Pointer[Metrics]

// Setup installs a meter provider as the global one and returns it; its
// registry is the one Register adds to.
func Setup() *Metrics {
	m := New()
	otel.SetMeterProvider(m.provider)
	installed.Store(m)
	return m
}

// New returns a Metrics that is not installed globally, for tests: the Go
// runtime and process collectors, and what its Provider records.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		// http.server.request.duration in s is
		// http_server_request_duration_seconds, a counter ends in _total.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		// The scope (the instrumenting package) would be two more labels
		// on every series, and the resource a target_info metric: the
		// scraper knows which program it scrapes.
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		// It fails only when its collector is already registered, and
		// the registry is new.
		panic("metrics: " + err.Error())
	}
	return &Metrics{
		registry: reg,
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(serverRequests)),
		// A collector that fails (a database pool closed under it) costs
		// its own metrics, not the scrape.
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}),
	}
}

// serverRequests keeps, of the attributes of the requests a program
// serves, those the program decides: otelhttp would also label them with
// the name and port of the request's Host header, which a client chooses,
// one series per value.
var serverRequests = sdkmetric.NewView(
	sdkmetric.Instrument{Name: "http.server.*"},
	sdkmetric.Stream{AttributeFilter: attribute.NewAllowKeysFilter(
		"http.request.method", "http.response.status_code", "http.route", "error.type",
		"url.scheme", "network.protocol.name", "network.protocol.version")},
)

// Provider returns the meter provider.
func (m *Metrics) Provider() *sdkmetric.MeterProvider { return m.provider }

// Registry returns the Prometheus registry /metrics shows.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Shutdown stops the provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// ServeHTTP writes the metrics in the Prometheus text exposition format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// Register adds c to the registry, replacing a collector of the same
// metrics: a database opened again (as tests do) shows its new pool.
func (m *Metrics) Register(c prometheus.Collector) error {
	m.registry.Unregister(c)
	return m.registry.Register(c)
}

// Register adds c to the Metrics Setup installed; without one (in tests)
// it does nothing.
func Register(c prometheus.Collector) error {
	if m := installed.Load(); m != nil {
		return m.Register(c)
	}
	return nil
}

// DB shows the connection pool statistics of db (open, in use and idle
// connections, waits for one) as the go_sql_* metrics, labelled
// db_name=name.
func DB(name string, db *sql.DB) error {
	return Register(collectors.NewDBStatsCollector(db, name))
}
