// Package tracebench measures the trace collector: ingestion in spans per
// second (run with -cpu 1 for a figure per core), and msx trace's list and
// waterfall on a store of a million spans. Run by bench/trace.sh; it has
// no tests, so the test suite only compiles it.
package tracebench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/msx-dev/msx/templates/collector/spans"
	"github.com/msx-dev/msx/trace"
)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func num(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// batch is one export request of a service as the Go SDK's batcher sends
// it: 512 spans (its default batch size) with the attributes otelhttp sets,
// traces numbered from first.
func batch(service string, first, spansPerTrace int) []byte {
	var list []*tracepb.Span
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; len(list) < 512; i++ {
		tid := make([]byte, 16)
		n := first + i
		tid[0], tid[1], tid[2], tid[3], tid[15] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n), 1
		for j := 0; j < spansPerTrace && len(list) < 512; j++ {
			s := &tracepb.Span{
				TraceId: tid, SpanId: []byte{byte(j + 1), byte(n), byte(n >> 8), byte(n >> 16), 0, 0, 0, 1},
				Name: "GET /items/{id}", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: uint64(start.Add(time.Duration(n)*time.Millisecond + time.Duration(j)*time.Microsecond).UnixNano()),
				EndTimeUnixNano:   uint64(start.Add(time.Duration(n)*time.Millisecond + 800*time.Microsecond).UnixNano()),
				Attributes: []*commonpb.KeyValue{
					str("http.request.method", "GET"), str("url.path", "/items/42"), str("url.scheme", "http"),
					str("server.address", service), num("server.port", 8081), str("network.peer.address", "172.18.0.5"),
					num("network.peer.port", 40112), str("user_agent.original", "Go-http-client/1.1"),
					num("http.response.status_code", 200), str("network.protocol.version", "1.1"),
				},
				Status: &tracepb.Status{},
			}
			if j > 0 {
				s.ParentSpanId = []byte{1, byte(n), byte(n >> 8), byte(n >> 16), 0, 0, 0, 1}
			}
			list = append(list, s)
		}
	}
	td := &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", service), str("service.version", "0.1.0"), str("telemetry.sdk.language", "go")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "otelhttp", Version: "0.72.0"}, Spans: list}},
	}}}
	b, err := proto.Marshal(td)
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkIngest posts SDK-sized protobuf requests to the collector's
// handler (decode, store with its segment file on disk, answer), without
// the network in between.
func BenchmarkIngest(b *testing.B) {
	store, err := spans.Open(spans.Options{Dir: b.TempDir(), MaxSpans: 1_000_000})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := spans.NewHandler(store, nil, nil)
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = batch([]string{"gateway", "orders", "payments"}[i%3], i*200, 5)
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Content-Type", spans.ContentProtobuf)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	// On a shared machine the wall clock counts other programs' time too;
	// the CPU time of this process (every thread, the GC's included) is
	// the cost of ingestion itself: spans per CPU second is per core.
	b.ReportMetric(float64(b.N*512)/time.Since(start).Seconds(), "spans/s")
	b.ReportMetric(float64(b.N*512)/(cpuTime()-cpu0).Seconds(), "spans/cpu-s")
}

// cpuTime is the user and system time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var (
	fullOnce   sync.Once
	fullClient *trace.Client
)

// full returns a collector over HTTP holding a million spans (200,000
// traces of 5), filled once for all the benchmarks of a run: the
// framework calls a benchmark more than once.
func full(b *testing.B) (*trace.Client, func()) {
	fullOnce.Do(func() {
		// A bound above the fill, so that no segment is dropped while
		// filling.
		store, err := spans.Open(spans.Options{MaxSpans: 1_100_000})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; store.Len() < 1_000_000; n += 512 / 5 {
			td, err := spans.DecodeProtobuf(batch("orders", n, 5))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := store.Add(td, nil); err != nil {
				b.Fatal(err)
			}
		}
		srv := httptest.NewServer(spans.NewHandler(store, nil, nil))
		fullClient = &trace.Client{BaseURL: srv.URL}
	})
	return fullClient, func() {}
}

// BenchmarkList1M is msx trace: the query for the 20 most recent traces
// over loopback HTTP, and the table drawn.
func BenchmarkList1M(b *testing.B) {
	c, stop := full(b)
	defer stop()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list, err := c.List(ctx, trace.Query{Limit: 20})
		if err != nil || len(list) != 20 {
			b.Fatal(err, len(list))
		}
		_ = trace.List(list, trace.Style{Width: 120})
	}
}

// BenchmarkListFiltered1M lists traces of a service that none has: the
// store's index of traces by service has no entry for it.
func BenchmarkListFiltered1M(b *testing.B) {
	benchList(b, trace.Query{Service: "nobody", Limit: 20}, 0)
}

// BenchmarkListErrors1M lists the traces of a service that every trace
// has, with --errors, which none has: the index of traces in error is
// empty.
func BenchmarkListErrors1M(b *testing.B) {
	benchList(b, trace.Query{Service: "orders", Errors: true, Limit: 20}, 0)
}

// BenchmarkListSlow1M lists traces lasting a second or more, which none
// does: no index serves a duration, every trace is looked at.
func BenchmarkListSlow1M(b *testing.B) {
	benchList(b, trace.Query{MinDuration: time.Second, Limit: 20}, 0)
}

// BenchmarkListService1M lists the 20 most recent traces of a service
// that every trace has.
func BenchmarkListService1M(b *testing.B) {
	benchList(b, trace.Query{Service: "orders", Limit: 20}, 20)
}

func benchList(b *testing.B, q trace.Query, want int) {
	c, stop := full(b)
	defer stop()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list, err := c.List(ctx, q)
		if err != nil || len(list) != want {
			b.Fatal(err, len(list))
		}
		_ = trace.List(list, trace.Style{Width: 120})
	}
}

// BenchmarkWaterfall1M is msx trace ID with an 8-digit prefix (every
// trace ID is compared with it) and the waterfall drawn.
func BenchmarkWaterfall1M(b *testing.B) {
	c, stop := full(b)
	defer stop()
	ctx := context.Background()
	list, err := c.List(ctx, trace.Query{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	id := list[0].TraceID[:8]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, err := c.Get(ctx, id)
		if err != nil {
			b.Fatal(fmt.Errorf("%s: %w", id, err))
		}
		_ = trace.Waterfall(t, trace.Style{Width: 120})
	}
}
