package httpclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"example.com/shop/platform/breaker"
	"example.com/shop/platform/requestid"
)

// fast are options with tiny timings, so retries do not slow the tests.
func fast(name string) Options {
	return Options{
		Name:        name,
		Timeout:     2 * time.Second,
		Retries:     2,
		BaseBackoff: time.Millisecond,
		MaxBackoff:  2 * time.Millisecond,
		Breaker:     breaker.Config{ConsecutiveFailures: 100},
	}
}

// statuses answers each call with the next status of the list, then the last.
func statuses(t *testing.T, calls *atomic.Int32, codes ...int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if n >= len(codes) {
			n = len(codes) - 1
		}
		w.WriteHeader(codes[n])
		io.WriteString(w, r.Method)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		codes     []int
		wantCode  int
		wantCalls int32
	}{
		{"GET retried on 503 until ok", http.MethodGet, []int{503, 502, 200}, 200, 3},
		{"GET gives up after retries", http.MethodGet, []int{504}, 504, 3},
		{"GET not retried on 500", http.MethodGet, []int{500, 200}, 500, 1},
		{"GET not retried on 4xx", http.MethodGet, []int{404, 200}, 404, 1},
		{"PUT retried", http.MethodPut, []int{503, 200}, 200, 2},
		{"DELETE retried", http.MethodDelete, []int{503, 200}, 200, 2},
		{"POST never retried", http.MethodPost, []int{503, 200}, 503, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := statuses(t, &calls, tt.codes...)
			c := New(fast("up"), nil)
			req, _ := http.NewRequest(tt.method, srv.URL, strings.NewReader("body"))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || calls.Load() != tt.wantCalls {
				t.Errorf("got %d after %d calls, want %d after %d", resp.StatusCode, calls.Load(), tt.wantCode, tt.wantCalls)
			}
		})
	}
}

func TestRetryResendsBody(t *testing.T) {
	var calls atomic.Int32
	var last atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		last.Store(string(b))
		if calls.Add(1) == 1 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader(`{"name":"a"}`))
	resp, err := New(fast("up"), nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := last.Load(); got != `{"name":"a"}` {
		t.Errorf("retried body = %q", got)
	}
}

func TestBodyReadableAfterDo(t *testing.T) {
	var calls atomic.Int32
	srv := statuses(t, &calls, 200)
	resp, err := New(fast("up"), nil).Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "GET" {
		t.Errorf("body = %q, %v", b, err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	opts := fast("up")
	opts.Timeout = 20 * time.Millisecond
	opts.Retries = -1
	_, err := New(opts, nil).Get(context.Background(), srv.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
}

func TestBreakerOpensAndFailsFast(t *testing.T) {
	var calls atomic.Int32
	srv := statuses(t, &calls, 503)
	opts := fast("payments")
	opts.Retries = -1
	opts.Breaker = breaker.Config{ConsecutiveFailures: 3}
	reg := breaker.NewRegistry()
	c := New(opts, reg)

	for i := 0; i < 3; i++ {
		resp, err := c.Get(context.Background(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if c.State() != "open" || reg.States()["payments"] != "open" {
		t.Fatalf("state = %s, registry %v; want open", c.State(), reg.States())
	}
	_, err := c.Get(context.Background(), srv.URL)
	var open *breaker.OpenError
	if !errors.As(err, &open) {
		t.Fatalf("err = %v, want *breaker.OpenError", err)
	}
	if calls.Load() != 3 {
		t.Errorf("upstream saw %d calls, want 3", calls.Load())
	}
}

func TestCancelledCallIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := statuses(t, &calls, 503)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(fast("up"), nil).Get(ctx, srv.URL)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if calls.Load() != 0 {
		t.Errorf("upstream saw %d calls, want 0", calls.Load())
	}
}

// A call made while serving a request carries that request's id, so that
// the callee's access log line names the same request.
func TestCallCarriesTheRequestID(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get(requestid.Header))
	}))
	t.Cleanup(srv.Close)
	c := New(fast("ids"), breaker.NewRegistry())
	resp, err := c.Get(requestid.With(context.Background(), "req-7"), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Load() != "req-7" {
		t.Errorf("callee saw request id %q, want req-7", got.Load())
	}
}
