package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve asks the admin listener's mux; public asks the public one.
func serve(t *testing.T, h *Health, path string) (int, map[string]string) {
	t.Helper()
	mux := http.NewServeMux()
	h.RegisterAdmin(mux)
	return ask(t, mux, path)
}

func public(t *testing.T, h *Health, path string) (int, map[string]string) {
	t.Helper()
	mux := http.NewServeMux()
	h.Register(mux)
	return ask(t, mux, path)
}

func ask(t *testing.T, mux *http.ServeMux, path string) (int, map[string]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type = %q", path, ct)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: body is not a JSON object: %v: %s", path, err, rec.Body)
	}
	return rec.Code, body
}

func TestHealthz(t *testing.T) {
	code, body := serve(t, New("orders", "0.1.0"), "/healthz")
	want := map[string]string{"status": "ok", "service": "orders", "version": "0.1.0"}
	if code != 200 || len(body) != len(want) {
		t.Fatalf("got %d %v, want 200 %v", code, body, want)
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %q, want %q", k, body[k], v)
		}
	}
}

func TestReadyz(t *testing.T) {
	h := New("orders", "0.1.0")
	if code, body := serve(t, h, "/readyz"); code != 200 || body["status"] != "ready" {
		t.Errorf("no checks: got %d %v, want 200 ready", code, body)
	}

	h.AddCheck("cache", func(context.Context) error { return nil })
	h.AddCheck("db", func(context.Context) error { return errors.New("connection refused") })
	code, body := serve(t, h, "/readyz")
	if code != 503 || body["check"] != "db" || body["error"] != "connection refused" {
		t.Errorf("failing check: got %d %v, want 503 naming db", code, body)
	}
	// The public listener does not tell clients what failed, or how.
	code, body = public(t, h, "/readyz")
	if code != 503 || len(body) != 1 || body["status"] != "unready" {
		t.Errorf("public /readyz: got %d %v, want 503 with the status only", code, body)
	}
}

func TestPublicListenerHasNoBreakers(t *testing.T) {
	mux := http.NewServeMux()
	New("orders", "0.1.0").Register(mux)
	if _, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, "/debug/breakers", nil)); pattern != "" {
		t.Errorf("/debug/breakers is on the public listener as %q", pattern)
	}
}

func TestReadyzTimeout(t *testing.T) {
	h := New("orders", "0.1.0")
	h.Timeout = 10 * time.Millisecond
	h.AddCheck("slow", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if code, body := serve(t, h, "/readyz"); code != 503 || body["check"] != "slow" {
		t.Errorf("got %d %v, want 503 naming slow", code, body)
	}
}

type fakeStates map[string]string

func (f fakeStates) States() map[string]string { return f }

func TestDebugBreakers(t *testing.T) {
	h := New("gateway", "0.1.0")
	if code, body := serve(t, h, "/debug/breakers"); code != 200 || len(body) != 0 {
		t.Errorf("no breakers: got %d %v, want 200 {}", code, body)
	}
	h.SetBreakers(fakeStates{"orders": "open"})
	if code, body := serve(t, h, "/debug/breakers"); code != 200 || body["orders"] != "open" {
		t.Errorf("got %d %v, want orders open", code, body)
	}
}

// TestCheckSelfAsksReadiness: the container's health check passes only once
// the program is ready, so that Compose starts what depends on it then.
func TestCheckSelfAsksReadiness(t *testing.T) {
	h := New("orders", "0.1.0")
	var ready atomic.Bool
	h.AddCheck("setup", func(context.Context) error {
		if !ready.Load() {
			return errors.New("starting")
		}
		return nil
	})
	mux := http.NewServeMux()
	h.RegisterAdmin(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	t.Setenv("ADMIN_ADDR", strings.TrimPrefix(srv.URL, "http://"))
	if code := CheckSelf(); code != 1 {
		t.Errorf("CheckSelf while starting = %d, want 1", code)
	}
	ready.Store(true)
	if code := CheckSelf(); code != 0 {
		t.Errorf("CheckSelf when ready = %d, want 0", code)
	}
}
