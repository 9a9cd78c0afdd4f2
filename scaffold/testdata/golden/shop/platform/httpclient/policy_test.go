package httpclient

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"example.com/shop/platform/auth"
	"example.com/shop/platform/breaker"
	"example.com/shop/platform/deadline"
)

// fakeSleep records the waits between attempts instead of sleeping.
type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	return ctx.Err()
}

func TestOneBreakerOutcomePerLogicalCall(t *testing.T) {
	var calls atomic.Int32
	srv := statuses(t, &calls, 503)
	opts := fast("orders")
	opts.Retries = 2
	opts.Breaker = breaker.Config{ConsecutiveFailures: 2}
	c := New(opts, nil)
	c.sleep = (&fakeSleep{}).sleep

	resp, err := c.Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if calls.Load() != 3 {
		t.Fatalf("upstream saw %d attempts, want 3", calls.Load())
	}
	if c.State() != "closed" {
		t.Fatalf("state = %s after one failed call of 3 attempts, want closed: one call is one outcome", c.State())
	}
	resp, err = c.Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c.State() != "open" {
		t.Errorf("state = %s after two failed calls, want open", c.State())
	}
}

func TestBackoffGrowsWithJitterUnderTheCap(t *testing.T) {
	var calls atomic.Int32
	srv := statuses(t, &calls, 503)
	opts := fast("orders")
	opts.Retries = 4
	opts.BaseBackoff = 10 * time.Millisecond
	opts.MaxBackoff = 25 * time.Millisecond
	c := New(opts, nil)
	fs := &fakeSleep{}
	c.sleep = fs.sleep

	resp, err := c.Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	caps := []time.Duration{10, 20, 25, 25}
	if len(fs.waits) != len(caps) {
		t.Fatalf("waited %d times, want %d", len(fs.waits), len(caps))
	}
	for i, w := range fs.waits {
		if w <= 0 || w > caps[i]*time.Millisecond {
			t.Errorf("wait %d = %v, want in (0, %v]", i, w, caps[i]*time.Millisecond)
		}
	}
}

func TestRetryBudgetBoundsRetries(t *testing.T) {
	var calls atomic.Int32
	srv := statuses(t, &calls, 503)
	opts := fast("orders")
	opts.Retries = 1
	opts.RetryReserve = 3
	opts.RetryRatio = 0.01
	c := New(opts, nil)
	c.sleep = (&fakeSleep{}).sleep

	for i := 0; i < 10; i++ {
		resp, err := c.Get(context.Background(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// 10 calls, and the reserve of 3 retries (plus 0.1 earned): 13 attempts.
	if n := calls.Load(); n != 13 {
		t.Errorf("upstream saw %d attempts, want 13: retries beyond the budget", n)
	}
}

func TestNoRetryPastTheCallersDeadline(t *testing.T) {
	var calls atomic.Int32
	srv := statuses(t, &calls, 503)
	opts := fast("orders")
	// Full jitter draws each backoff from (0, 10,000 h]: one under the
	// minute left is a chance of about 1 in 600,000 per retry. With an
	// hour, as before, it was 1 in 60, and the test failed now and then
	// for a retry that did fit.
	opts.BaseBackoff = 10000 * time.Hour
	opts.MaxBackoff = 10000 * time.Hour
	c := New(opts, nil)
	c.sleep = (&fakeSleep{}).sleep

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Get(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if calls.Load() != 1 {
		t.Errorf("upstream saw %d attempts, want 1: the backoff outlasts the deadline", calls.Load())
	}
}

func TestDeadlineAndIdentityArePassedOn(t *testing.T) {
	// The caller signs as "web"; the callee, orders, holds web's public key.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	callee := auth.NewKeys("orders", nil, map[string]ed25519.PublicKey{"web": pub})
	var gotDeadline, gotIdentity string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotDeadline = r.Header.Get(deadline.Header)
		_, gotIdentity, _ = callee.Verify(r.Header.Get(auth.IdentityHeader), r.Method, r.URL.Path)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(auth.WithKeys(context.Background(), auth.NewKeys("web", priv, nil)), 900*time.Millisecond)
	defer cancel()
	resp, err := New(fast("orders"), nil).Get(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ms, err := strconv.Atoi(gotDeadline)
	if err != nil || ms <= 0 || ms > 900 {
		t.Errorf("%s = %q, want the remaining budget in (0, 900] ms", deadline.Header, gotDeadline)
	}
	if gotIdentity != "web" {
		t.Errorf("%s verified as %q, want a token signed by web", auth.IdentityHeader, gotIdentity)
	}
}

func TestRefusedCallHasAnErrorSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	var calls atomic.Int32
	srv := statuses(t, &calls, 503)
	opts := fast("payments")
	opts.Retries = -1
	opts.Breaker = breaker.Config{ConsecutiveFailures: 1}
	c := New(opts, nil)
	resp, err := c.Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	_, err = c.Get(context.Background(), srv.URL)
	var open *breaker.OpenError
	if !errors.As(err, &open) {
		t.Fatalf("err = %v, want *breaker.OpenError", err)
	}
	spans := rec.Ended()
	last := spans[len(spans)-1]
	if last.Name() != "payments GET" || last.Status().Code != codes.Error || len(last.Events()) == 0 {
		t.Errorf("last span %q status %v events %d, want payments GET with an error", last.Name(), last.Status(), len(last.Events()))
	}
}
