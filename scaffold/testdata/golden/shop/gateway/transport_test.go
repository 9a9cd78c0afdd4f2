package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingUpstream counts the connections the transport opens to it.
func countingUpstream(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func newTestTransport(fallback http.RoundTripper) *directTransport {
	d := &net.Dialer{Timeout: time.Second}
	return newDirectTransport(fallback, d.DialContext, 8, time.Minute)
}

func get(t *testing.T, rt http.RoundTripper, ctx context.Context, method, url string, body io.Reader) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

func TestTransportReusesConnections(t *testing.T) {
	srv, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush() // no Content-Length: chunked
			w.Write([]byte("part two"))
			return
		}
		io.Copy(w, r.Body)
	})
	tr := newTestTransport(http.DefaultTransport)
	for i := 0; i < 20; i++ {
		resp, body, err := get(t, tr, context.Background(), http.MethodPost, srv.URL+"/echo", strings.NewReader("hello"))
		if err != nil || resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("request %d: %v %v %q", i, err, resp, body)
		}
		_, body, err = get(t, tr, context.Background(), http.MethodGet, srv.URL+"/chunked", nil)
		if err != nil || body != "part one, part two" {
			t.Fatalf("chunked %d: %v %q", i, err, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("40 sequential requests opened %d connections, want 1", n)
	}
}

func TestTransportRetriesAConnectionClosedWhileIdle(t *testing.T) {
	srv, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := newTestTransport(http.DefaultTransport)
	if _, _, err := get(t, tr, context.Background(), http.MethodGet, srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections() // the upstream drops the idle connection
	if _, body, err := get(t, tr, context.Background(), http.MethodGet, srv.URL, nil); err != nil || body != "ok" {
		t.Fatalf("GET after the upstream closed the idle connection: %v %q", err, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestTransportCancellationAndDeadline(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := newTestTransport(http.DefaultTransport)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if _, _, err := get(t, tr, ctx, http.MethodGet, srv.URL, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: err %v, want context.Canceled", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if _, _, err := get(t, tr, ctx, http.MethodGet, srv.URL, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request past its deadline: err %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestTransportBodyClosedEarlyIsNotReused(t *testing.T) {
	srv, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	tr := newTestTransport(http.DefaultTransport)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	done := make(chan struct{})
	go func() { resp.Body.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("closing a body half read blocked")
	}
	if _, body, err := get(t, tr, context.Background(), http.MethodGet, srv.URL, nil); err != nil || len(body) != 1<<20 {
		t.Fatalf("next request: %v, %d bytes", err, len(body))
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: a half-read connection must not be reused", n)
	}
}

func TestTransportSkipsInterimAnswers(t *testing.T) {
	srv, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made")
	})
	resp, body, err := get(t, newTestTransport(http.DefaultTransport), context.Background(), http.MethodPost, srv.URL, nil)
	if err != nil || resp.StatusCode != http.StatusCreated || body != "made" {
		t.Errorf("got %v %v %q, want 201 made", err, resp, body)
	}
}

type recordingTransport struct{ calls atomic.Int32 }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.calls.Add(1)
	return &http.Response{StatusCode: http.StatusSwitchingProtocols, Body: http.NoBody, Request: req}, nil
}

func TestTransportUpgradesGoToTheFallback(t *testing.T) {
	fb := &recordingTransport{}
	tr := newTestTransport(fb)
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/socket", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	if resp, err := tr.RoundTrip(req); err != nil || resp.StatusCode != http.StatusSwitchingProtocols || fb.calls.Load() != 1 {
		t.Errorf("upgrade: %v %v, fallback calls %d", resp, err, fb.calls.Load())
	}
	req, _ = http.NewRequest(http.MethodGet, "https://127.0.0.1:1/", nil)
	tr.RoundTrip(req)
	if fb.calls.Load() != 2 {
		t.Error("an https request did not go to the fallback")
	}
}

func TestTransportGivesAnEarlyAnswer(t *testing.T) {
	srv, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		r.Body.Read(make([]byte, 10))
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large")
	})
	body := strings.NewReader(strings.Repeat("x", 8<<20))
	resp, got, err := get(t, newTestTransport(http.DefaultTransport), context.Background(), http.MethodPost, srv.URL, body)
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || got != "too large" {
		t.Errorf("got %v %v %q, want the upstream's early 413", err, resp, got)
	}
}
