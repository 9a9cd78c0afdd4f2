package inbound

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	return Wrap(mux, Options{MaxBodyBytes: 64})
}

func TestRouterErrorsAreJSONWithoutThePath(t *testing.T) {
	h := newHandler()
	long := "/" + strings.Repeat("a", 16<<10)
	for _, tt := range []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, long, 404},
		{http.MethodDelete, "/items", 405},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
		var body map[string]string
		if rec.Code != tt.want || rec.Header().Get("Content-Type") != "application/json" ||
			json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
			t.Errorf("%s %.20s: %d %q %q, want %d JSON", tt.method, tt.target, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tt.want)
		}
		if rec.Body.Len() > 100 {
			t.Errorf("%s: body of %d bytes echoes the request", tt.method, rec.Body.Len())
		}
	}
}

func TestBodiesMustBeJSON(t *testing.T) {
	h := newHandler()
	for _, tt := range []struct {
		ct, body string
		want     int
	}{
		{"application/json", `{"name":"a"}`, 201},
		{"application/json; charset=utf-8", `{"name":"a"}`, 201},
		{"", `{"name":"a"}`, 415},
		{"application/jsonfoo", `{"name":"a"}`, 415},
		{"text/plain", `{"name":"a"}`, 415},
		{"application/json", `{"name":"` + strings.Repeat("a", 100) + `"}`, 413},
	} {
		r := httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(tt.body))
		if tt.ct != "" {
			r.Header.Set("Content-Type", tt.ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tt.want {
			t.Errorf("Content-Type %q: %d, want %d", tt.ct, rec.Code, tt.want)
		}
	}
}
