// Package metrics sets up the OpenTelemetry metrics SDK for a program and
// serves what it collected in the Prometheus text format, on the admin
// listener's /metrics. otelhttp records request counts and durations, and
// the breaker registry its state changes, through the global meter
// provider that Setup installs.
package metrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metrics is a program's meter provider and the reader /metrics collects.
type Metrics struct {
	reader   *sdkmetric.ManualReader
	provider *sdkmetric.MeterProvider
}

// Setup installs a meter provider as the global one and returns it.
func Setup() *Metrics {
	m := New()
	otel.SetMeterProvider(m.provider)
	return m
}

// New returns a Metrics that is not installed globally, for tests.
func New() *Metrics {
	reader := sdkmetric.NewManualReader()
	return &Metrics{reader: reader, provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}
}

// Provider returns the meter provider.
func (m *Metrics) Provider() *sdkmetric.MeterProvider { return m.provider }

// Shutdown stops the provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// ServeHTTP collects the metrics and writes them in the Prometheus text
// exposition format (version 0.0.4).
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(r.Context(), &rm); err != nil {
		http.Error(w, "collecting metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	Write(bw, &rm)
	bw.Flush()
}

// Write renders rm in the Prometheus text format, metrics sorted by name.
func Write(w io.Writer, rm *metricdata.ResourceMetrics) {
	var all []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		all = append(all, sm.Metrics...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	for _, m := range all {
		name := promName(m.Name, m.Unit)
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			writeSum(w, name, m.Description, d.IsMonotonic, d.DataPoints)
		case metricdata.Sum[float64]:
			writeSum(w, name, m.Description, d.IsMonotonic, d.DataPoints)
		case metricdata.Gauge[int64]:
			writeHeader(w, name, m.Description, "gauge")
			for _, p := range d.DataPoints {
				writeSample(w, name, p.Attributes, "", "", float64(p.Value))
			}
		case metricdata.Gauge[float64]:
			writeHeader(w, name, m.Description, "gauge")
			for _, p := range d.DataPoints {
				writeSample(w, name, p.Attributes, "", "", p.Value)
			}
		case metricdata.Histogram[int64]:
			writeHistogram(w, name, m.Description, d.DataPoints)
		case metricdata.Histogram[float64]:
			writeHistogram(w, name, m.Description, d.DataPoints)
		}
	}
}

func writeSum[N int64 | float64](w io.Writer, name, help string, monotonic bool, points []metricdata.DataPoint[N]) {
	kind := "gauge"
	if monotonic {
		kind = "counter"
		if !strings.HasSuffix(name, "_total") {
			name += "_total"
		}
	}
	writeHeader(w, name, help, kind)
	for _, p := range points {
		writeSample(w, name, p.Attributes, "", "", float64(p.Value))
	}
}

func writeHistogram[N int64 | float64](w io.Writer, name, help string, points []metricdata.HistogramDataPoint[N]) {
	writeHeader(w, name, help, "histogram")
	for _, p := range points {
		var cum uint64
		for i, b := range p.Bounds {
			cum += p.BucketCounts[i]
			writeSample(w, name+"_bucket", p.Attributes, "le", formatFloat(b), float64(cum))
		}
		writeSample(w, name+"_bucket", p.Attributes, "le", "+Inf", float64(p.Count))
		writeSample(w, name+"_sum", p.Attributes, "", "", float64(p.Sum))
		writeSample(w, name+"_count", p.Attributes, "", "", float64(p.Count))
	}
}

func writeHeader(w io.Writer, name, help, kind string) {
	if help != "" {
		fmt.Fprintf(w, "# HELP %s %s\n", name, strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help))
	}
	fmt.Fprintf(w, "# TYPE %s %s\n", name, kind)
}

func writeSample(w io.Writer, name string, attrs attribute.Set, extraKey, extraValue string, v float64) {
	io.WriteString(w, name)
	n := attrs.Len()
	if n > 0 || extraKey != "" {
		io.WriteString(w, "{")
		first := true
		iter := attrs.Iter()
		for iter.Next() {
			kv := iter.Attribute()
			if !first {
				io.WriteString(w, ",")
			}
			first = false
			fmt.Fprintf(w, "%s=%q", sanitize(string(kv.Key)), kv.Value.String())
		}
		if extraKey != "" {
			if !first {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, "%s=%q", extraKey, extraValue)
		}
		io.WriteString(w, "}")
	}
	io.WriteString(w, " "+formatFloat(v)+"\n")
}

// promName turns an OpenTelemetry name and unit into a Prometheus name:
// http.server.request.duration in s is http_server_request_duration_seconds.
func promName(name, unit string) string {
	n := sanitize(name)
	suffix := map[string]string{"s": "seconds", "ms": "milliseconds", "By": "bytes"}[unit]
	if suffix != "" && !strings.HasSuffix(n, "_"+suffix) {
		n += "_" + suffix
	}
	return n
}

// sanitize keeps [a-zA-Z0-9_] and turns anything else into _.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
