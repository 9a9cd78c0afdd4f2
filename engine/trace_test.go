package engine

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTracerWritesEachCall(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := &tracer{mu: &sync.Mutex{}, w: &out, now: func() time.Time { clock = clock.Add(1500 * time.Microsecond); return clock }}
	tr.next = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/v1.47/fail" {
			return nil, errors.New("connection refused")
		}
		return &http.Response{StatusCode: 200, Status: "200 OK", Body: http.NoBody}, nil
	})
	if _, err := tr.RoundTrip(httptest.NewRequest("GET", "http://docker/v1.47/containers/json?all=1", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.RoundTrip(httptest.NewRequest("POST", "http://docker/v1.47/fail", nil)); err == nil {
		t.Fatal("the error was lost")
	}
	want := "msx: engine: GET /containers/json 200 OK in 1.5ms\nmsx: engine: POST /fail error: connection refused in 1.5ms\n"
	if out.String() != want {
		t.Errorf("trace:\n%s\nwant:\n%s", out.String(), want)
	}
	if got := apiPath("/_ping"); got != "/_ping" {
		t.Errorf("apiPath(/_ping) = %q", got)
	}
	if strings.Contains(apiPath("/v1.47/images/json"), "v1.") {
		t.Error("version prefix kept")
	}
}
