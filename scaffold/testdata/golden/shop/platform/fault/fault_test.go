package fault

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func put(t *testing.T, f *Injector, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/debug/fault", strings.NewReader(body)))
	return rec
}

func TestLatencyAndErrors(t *testing.T) {
	f := New()
	var slept time.Duration
	f.sleep = func(_ context.Context, d time.Duration) { slept += d }
	rolls := []float64{0.1, 0.9}
	f.roll = func() float64 { r := rolls[0]; rolls = rolls[1:]; return r }
	h := f.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	if rec := put(t, f, `{"latency":"300ms","errors":0.5}`); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"latency":"300ms"`) {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	codes := []int{}
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/items", nil))
		codes = append(codes, rec.Code)
	}
	if codes[0] != 500 || codes[1] != 200 || slept != 600*time.Millisecond {
		t.Errorf("codes %v, slept %v; want [500 200] and 600ms", codes, slept)
	}

	// The health probes are never faulted, so msx still sees the truth.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 200 {
		t.Errorf("/healthz: %d", rec.Code)
	}

	put(t, f, `{}`)
	if f.Get() != (Faults{}) {
		t.Errorf("after clear: %+v", f.Get())
	}
}

func TestBadFaultsAreRefused(t *testing.T) {
	f := New()
	for _, body := range []string{`{"latency":"soon"}`, `{"latency":"2h"}`, `{"errors":1.5}`, `{"errors":-1}`, `{"other":1}`, `[`} {
		if rec := put(t, f, body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", body, rec.Code)
		}
	}
}

func TestNilInjectorIsNoMiddleware(t *testing.T) {
	var f *Injector
	next := http.NotFoundHandler()
	if h := f.Middleware(next); h == nil {
		t.Fatal("nil handler")
	}
}
