package breaker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// upstream answers with the status in *status and counts its calls.
func upstream(t *testing.T, status *atomic.Int32, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, url string) (int, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestTripsOnConsecutiveFailures(t *testing.T) {
	var status, calls atomic.Int32
	status.Store(http.StatusInternalServerError)
	srv := upstream(t, &status, &calls)
	b := New("orders", Config{ConsecutiveFailures: 3})
	c := &http.Client{Transport: b.Transport(http.DefaultTransport)}

	for i := 0; i < 3; i++ {
		if code, err := get(t, c, srv.URL); err != nil || code != 500 {
			t.Fatalf("call %d: %d, %v; want 500", i, code, err)
		}
	}
	if b.State() != "open" {
		t.Fatalf("state = %s after 3 failures, want open", b.State())
	}

	_, err := get(t, c, srv.URL)
	var open *OpenError
	if !errors.As(err, &open) || open.Name != "orders" {
		t.Fatalf("err = %v, want *OpenError for orders", err)
	}
	if calls.Load() != 3 {
		t.Errorf("upstream saw %d calls, want 3: an open breaker must not call it", calls.Load())
	}
}

// A hung upstream called one request at a time fails slower than Interval
// clears gobreaker's counts: the failures in a row must still trip it.
func TestConsecutiveFailuresOutliveTheInterval(t *testing.T) {
	b := New("orders", Config{ConsecutiveFailures: 3, Interval: time.Millisecond})
	for i := 0; i < 3; i++ {
		done, err := b.Allow()
		if err != nil {
			t.Fatalf("call %d refused: %v", i, err)
		}
		// Longer than Interval, as each call that waits for its timeout is.
		time.Sleep(3 * time.Millisecond)
		done(Failure)
	}
	if b.State() != "open" {
		t.Fatalf("state = %s after 3 failures in a row, each longer than Interval; want open", b.State())
	}
}

// Only a success ends a row: an ignored outcome (a cancelled call) neither
// counts nor resets it, and a success does.
func TestASuccessEndsTheRow(t *testing.T) {
	b := New("orders", Config{ConsecutiveFailures: 3})
	for _, o := range []Outcome{Failure, Failure, Success, Failure, Ignored, Failure} {
		done, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		done(o)
	}
	if b.State() != "closed" {
		t.Fatalf("state = %s after failure, failure, success, failure, ignored, failure; want closed", b.State())
	}
	done, _ := b.Allow()
	done(Failure)
	if b.State() != "open" {
		t.Fatalf("state = %s after a third failure in a row; want open", b.State())
	}
}

func TestTripsOnFailureRatio(t *testing.T) {
	var status, calls atomic.Int32
	srv := upstream(t, &status, &calls)
	b := New("orders", Config{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 4})
	c := &http.Client{Transport: b.Transport(http.DefaultTransport)}

	// ok, fail, ok, fail: never two failures in a row, but half failed.
	for i, s := range []int32{200, 503, 200, 503} {
		status.Store(s)
		if _, err := get(t, c, srv.URL); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if b.State() != "open" {
		t.Fatalf("state = %s, want open at a 50%% failure ratio", b.State())
	}
}

func TestClientErrorsAndCancellationDoNotCount(t *testing.T) {
	var status, calls atomic.Int32
	status.Store(http.StatusNotFound)
	srv := upstream(t, &status, &calls)
	b := New("orders", Config{ConsecutiveFailures: 2})
	c := &http.Client{Transport: b.Transport(http.DefaultTransport)}

	for i := 0; i < 5; i++ {
		if code, err := get(t, c, srv.URL); err != nil || code != 404 {
			t.Fatalf("call %d: %d, %v", i, code, err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call %d: err = %v, want context.Canceled", i, err)
		}
	}
	if b.State() != "closed" {
		t.Errorf("state = %s, want closed: 4xx and cancellations are not failures", b.State())
	}
}

func TestNetworkErrorsCount(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more

	b := New("orders", Config{ConsecutiveFailures: 2})
	c := &http.Client{Transport: b.Transport(http.DefaultTransport)}
	for i := 0; i < 2; i++ {
		if _, err := get(t, c, url); err == nil {
			t.Fatalf("call %d: want a connection error", i)
		}
	}
	if b.State() != "open" {
		t.Errorf("state = %s, want open", b.State())
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHalfOpenLetsOneProbeThrough(t *testing.T) {
	var status, calls atomic.Int32
	status.Store(http.StatusInternalServerError)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if status.Load() == http.StatusOK {
			<-release // hold the probe in flight
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	b := New("orders", Config{ConsecutiveFailures: 1, OpenTimeout: time.Millisecond, HalfOpenRequests: 1})
	c := &http.Client{Transport: b.Transport(http.DefaultTransport)}

	if code, err := get(t, c, srv.URL); err != nil || code != 500 {
		t.Fatalf("first call: %d, %v", code, err)
	}
	waitFor(t, "half-open", func() bool { return b.State() == "half-open" })

	status.Store(http.StatusOK)
	probe := make(chan error, 1)
	go func() {
		_, err := get(t, c, srv.URL)
		probe <- err
	}()
	waitFor(t, "the probe to reach the upstream", func() bool { return calls.Load() == 2 })

	// While the one allowed probe is in flight, others fail fast.
	var open *OpenError
	if _, err := get(t, c, srv.URL); !errors.As(err, &open) {
		t.Errorf("second request while half-open: err = %v, want *OpenError", err)
	}
	close(release)
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if b.State() != "closed" {
		t.Errorf("state = %s after a successful probe, want closed", b.State())
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	r.New("payments", Config{})
	r.New("orders", Config{})
	got := r.States()
	if len(got) != 2 || got["orders"] != "closed" || got["payments"] != "closed" {
		t.Errorf("States() = %v", got)
	}
	if names := r.Names(); len(names) != 2 || names[0] != "orders" {
		t.Errorf("Names() = %v, want sorted", names)
	}
}
