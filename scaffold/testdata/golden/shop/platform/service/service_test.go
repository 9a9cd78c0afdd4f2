package service

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/shop/platform/inbound"
	"example.com/shop/platform/requestid"
)

func TestHandlerAnswersJSONRecoversAndLogs(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) })
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	var inContext string
	mux.HandleFunc("GET /id", func(w http.ResponseWriter, r *http.Request) { inContext = requestid.From(r.Context()) })
	var logs bytes.Buffer
	h := Handler(mux, "test", slog.New(slog.NewJSONHandler(&logs, nil)), inbound.Options{})

	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/nope", http.StatusNotFound},
		{"POST", "/ok", http.StatusMethodNotAllowed},
		{"GET", "/panic", http.StatusInternalServerError},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		var body map[string]string
		if rec.Code != tt.want || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
			t.Errorf("%s %s: %d %q, want %d with a JSON error", tt.method, tt.path, rec.Code, rec.Body, tt.want)
		}
		if tt.want == http.StatusMethodNotAllowed && !strings.Contains(rec.Header().Get("Allow"), "GET") {
			t.Errorf("405 without the Allow header: %v", rec.Header())
		}
	}

	req := httptest.NewRequest("GET", "/ok", nil)
	req.Header.Set("X-Request-Id", "req-42")
	logs.Reset()
	h.ServeHTTP(httptest.NewRecorder(), req)
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line["request_id"] != "req-42" || line["status"] != float64(200) {
		t.Errorf("access log line %q, want one JSON line with request_id req-42 and status 200", logs.String())
	}
	// The handler's context carries the id, for the calls it makes.
	req = httptest.NewRequest("GET", "/id", nil)
	req.Header.Set("X-Request-Id", "req-43")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if inContext != "req-43" {
		t.Errorf("handler's context carries request id %q, want req-43", inContext)
	}
}

// TestRunDrains starts a service, cancels it, and checks that /readyz turns
// unready while requests are still served during the drain delay.
func TestRunDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("LISTEN_ADDR", addr)
	t.Setenv("DRAIN_DELAY", "2s")
	t.Setenv("LOG_LEVEL", "error")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Name: "test", Version: "1"}, func(context.Context, *Service) error { return nil })
	}()
	readyz := func() int {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, func() bool { return readyz() == http.StatusOK })
	cancel()
	waitFor(t, func() bool { return readyz() == http.StatusServiceUnavailable })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

// TestHealthyWhileSettingUp: while setup waits (for a database, say), the
// admin listener already answers /healthz, so that a liveness probe never
// kills a slow start, and /readyz says unready until setup returns.
func TestHealthyWhileSettingUp(t *testing.T) {
	admin := freeAddr(t)
	t.Setenv("ADMIN_ADDR", admin)
	t.Setenv("LISTEN_ADDR", freeAddr(t))
	t.Setenv("DRAIN_DELAY", "0s")
	t.Setenv("LOG_LEVEL", "error")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Name: "test", Version: "1"}, func(context.Context, *Service) error {
			<-release
			return nil
		})
	}()
	status := func(path string) int {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, func() bool { return status("/healthz") == http.StatusOK })
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz during setup = %d, want 503", got)
	}
	close(release)
	waitFor(t, func() bool { return status("/readyz") == http.StatusOK })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met before the deadline")
}
