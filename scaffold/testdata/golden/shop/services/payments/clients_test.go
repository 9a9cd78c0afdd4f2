package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"example.com/shop/platform/breaker"
	"example.com/shop/platform/httpclient"
)

// testOptions returns client options with tiny timings and no retries, so
// that counting calls is exact.
func testOptions(name string) httpclient.Options {
	return httpclient.Options{
		Name:    name,
		Timeout: 2 * time.Second,
		Retries: -1,
		Breaker: breaker.Config{ConsecutiveFailures: 3},
	}
}

// fakeService answers GET /items with items, or with status when it is not 200.
func fakeService(t *testing.T, status *atomic.Int32, items []Item) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/items" {
			http.NotFound(w, r)
			return
		}
		if s := int(status.Load()); s != http.StatusOK {
			w.WriteHeader(s)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"items": items})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestCatalogClientListItems(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv, _ := fakeService(t, &status, []Item{{ID: 1, Name: "a"}})
	c := NewCatalogClient(srv.URL+"/", httpclient.New(testOptions("catalog"), nil))

	items, err := c.ListItems(context.Background())
	if err != nil || len(items) != 1 || items[0].Name != "a" {
		t.Fatalf("ListItems = %v, %v", items, err)
	}
}

func TestCatalogClientBreakerOpens(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusInternalServerError)
	srv, calls := fakeService(t, &status, nil)
	reg := breaker.NewRegistry()
	c := NewCatalogClient(srv.URL, httpclient.New(testOptions("catalog"), reg))

	for i := 0; i < 3; i++ {
		if _, err := c.ListItems(context.Background()); err == nil {
			t.Fatalf("call %d: want an error from a failing upstream", i)
		}
	}
	if s := reg.States()["catalog"]; s != "open" {
		t.Fatalf("breaker is %s after 3 failures, want open", s)
	}
	_, err := c.ListItems(context.Background())
	var open *breaker.OpenError
	if !errors.As(err, &open) {
		t.Fatalf("err = %v, want *breaker.OpenError", err)
	}
	if calls.Load() != 3 {
		t.Errorf("upstream saw %d calls, want 3: an open breaker must fail fast", calls.Load())
	}
}

func TestOrdersClientListItems(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv, _ := fakeService(t, &status, []Item{{ID: 1, Name: "a"}})
	c := NewOrdersClient(srv.URL+"/", httpclient.New(testOptions("orders"), nil))

	items, err := c.ListItems(context.Background())
	if err != nil || len(items) != 1 || items[0].Name != "a" {
		t.Fatalf("ListItems = %v, %v", items, err)
	}
}

func TestOrdersClientBreakerOpens(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusInternalServerError)
	srv, calls := fakeService(t, &status, nil)
	reg := breaker.NewRegistry()
	c := NewOrdersClient(srv.URL, httpclient.New(testOptions("orders"), reg))

	for i := 0; i < 3; i++ {
		if _, err := c.ListItems(context.Background()); err == nil {
			t.Fatalf("call %d: want an error from a failing upstream", i)
		}
	}
	if s := reg.States()["orders"]; s != "open" {
		t.Fatalf("breaker is %s after 3 failures, want open", s)
	}
	_, err := c.ListItems(context.Background())
	var open *breaker.OpenError
	if !errors.As(err, &open) {
		t.Fatalf("err = %v, want *breaker.OpenError", err)
	}
	if calls.Load() != 3 {
		t.Errorf("upstream saw %d calls, want 3: an open breaker must fail fast", calls.Load())
	}
}

func TestUpstream(t *testing.T) {
	var ok, failing atomic.Int32
	ok.Store(http.StatusOK)
	failing.Store(http.StatusServiceUnavailable)

	tests := []struct {
		name      string
		status    *atomic.Int32
		wantError bool
	}{
		{"dependencies answer", &ok, false},
		{"dependencies fail", &failing, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeService(t, tt.status, []Item{{ID: 7, Name: "x"}})
			a := &api{
				store: NewMemoryStore(),
				log:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
				deps: &dependencies{
					catalog: NewCatalogClient(srv.URL, httpclient.New(testOptions("catalog"), nil)),
					orders:  NewOrdersClient(srv.URL, httpclient.New(testOptions("orders"), nil)),
				},
			}
			mux := http.NewServeMux()
			a.register(mux)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/upstream", nil))

			// 200 either way: failures are reported per dependency.
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
			}
			var body map[string]upstreamResult
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"catalog", "orders"} {
				res, found := body[name]
				switch {
				case !found:
					t.Errorf("no %s key in %s", name, rec.Body)
				case !tt.wantError && (len(res.Items) != 1 || res.Error != ""):
					t.Errorf("%s = %+v, want one item", name, res)
				case tt.wantError && (res.Error == "" || res.Items != nil):
					t.Errorf("%s = %+v, want an error", name, res)
				}
			}
		})
	}
}
