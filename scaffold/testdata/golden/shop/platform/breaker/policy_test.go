package breaker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func response(code int) *http.Response { return &http.Response{StatusCode: code} }

func TestWhichOutcomesCount(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://orders/items", nil)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	reqCancelled := req.WithContext(cancelled)
	tests := []struct {
		name    string
		req     *http.Request
		resp    *http.Response
		err     error
		server  Outcome // ServerErrors, for clients
		gateway Outcome // Unavailable, for the gateway
	}{
		{"200", req, response(200), nil, Success, Success},
		{"404", req, response(404), nil, Success, Success},
		{"500", req, response(500), nil, Failure, Success},
		{"501", req, response(501), nil, Failure, Success},
		{"502", req, response(502), nil, Failure, Failure},
		{"503", req, response(503), nil, Failure, Failure},
		{"504", req, response(504), nil, Failure, Failure},
		{"503 passed on", req, &http.Response{StatusCode: 503, Header: http.Header{PassedOnHeader: {"1"}}}, nil, Ignored, Ignored},
		{"500 claiming to pass on", req, &http.Response{StatusCode: 500, Header: http.Header{PassedOnHeader: {"1"}}}, nil, Failure, Success},
		{"refused", req, nil, errors.New("connection refused"), Failure, Failure},
		{"timeout", req, nil, context.DeadlineExceeded, Failure, Failure},
		{"caller cancelled", req, nil, context.Canceled, Ignored, Ignored},
		{"request context cancelled", reqCancelled, nil, errors.New("read: broken"), Ignored, Ignored},
		{"slow client", req, nil, &ClientSideError{Err: context.DeadlineExceeded}, Ignored, Ignored},
		{"body too large", req, nil, &http.MaxBytesError{Limit: 1}, Ignored, Ignored},
	}
	for _, tt := range tests {
		if got := ServerErrors(tt.req, tt.resp, tt.err); got != tt.server {
			t.Errorf("%s: ServerErrors = %v, want %v", tt.name, got, tt.server)
		}
		if got := Unavailable(tt.req, tt.resp, tt.err); got != tt.gateway {
			t.Errorf("%s: Unavailable = %v, want %v", tt.name, got, tt.gateway)
		}
	}
}

func TestHalfOpenProbesAreBoundedUnderConcurrency(t *testing.T) {
	b := New("orders", Config{ConsecutiveFailures: 1, OpenTimeout: time.Millisecond, HalfOpenRequests: 3})
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	done(Failure)
	waitFor(t, "half-open", func() bool { return b.State() == "half-open" })

	var admitted atomic.Int32
	var held []func(Outcome)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if done, err := b.Allow(); err == nil {
				admitted.Add(1)
				mu.Lock()
				held = append(held, done)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 3 {
		t.Fatalf("%d probes admitted at once, want 3", admitted.Load())
	}
	for _, d := range held {
		d(Success)
	}
	if b.State() != "closed" {
		t.Errorf("state = %s after 3 successful probes, want closed", b.State())
	}
}

func TestOpenErrorSaysWhenToRetry(t *testing.T) {
	b := New("orders", Config{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second})
	done, _ := b.Allow()
	done(Failure)
	_, err := b.Allow()
	var open *OpenError
	if !errors.As(err, &open) || open.RetryAfter < 25*time.Second || open.RetryAfter > 30*time.Second {
		t.Fatalf("err = %#v, want an OpenError with RetryAfter near 30s", err)
	}
}

func TestStateChangesAreLoggedAndCounted(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	var logs bytes.Buffer
	reg := newRegistry(mp.Meter("test"))
	reg.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	b := reg.New("ledger", Config{ConsecutiveFailures: 1})
	done, _ := b.Allow()
	done(Failure)

	if !strings.Contains(logs.String(), "breaker=ledger from=closed to=open") {
		t.Errorf("log = %q, want the change to open", logs.String())
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	found := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value("breaker"); v.AsString() == "ledger" {
						found[m.Name] += p.Value
						from, _ := p.Attributes.Value("from")
						to, _ := p.Attributes.Value("state")
						if from.AsString() != "closed" || to.AsString() != "open" {
							t.Errorf("state change counted from %q to %q, want closed to open", from.AsString(), to.AsString())
						}
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value("breaker"); v.AsString() == "ledger" {
						found[m.Name] += p.Value
					}
				}
			}
		}
	}
	if found["breaker_state_changes"] != 1 || found["breaker_open"] != 1 {
		t.Errorf("metrics = %v, want one state change and one open breaker", found)
	}
}
