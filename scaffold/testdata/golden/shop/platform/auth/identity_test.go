package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProtectedServiceRefusesAnonymousCalls(t *testing.T) {
	var seen string
	h := Middleware(true)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = Identity(r.Context())
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/items", nil))
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("anonymous: %d %q, want 401 JSON", rec.Code, rec.Header().Get("Content-Type"))
	}

	r := httptest.NewRequest(http.MethodGet, "/items", nil)
	r.Header.Set(IdentityHeader, "alice")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || seen != "alice" {
		t.Errorf("with identity: %d, identity %q; want 200 alice", rec.Code, seen)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("health probe: %d, want 200", rec.Code)
	}
}

func TestPublicServiceAdmitsAnonymousCalls(t *testing.T) {
	h := Middleware(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/items", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("got %d, want 200", rec.Code)
	}
}
