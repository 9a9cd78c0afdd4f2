package httpjson

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/shop/platform/breaker"
)

func TestDecodeIsStrict(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	for _, tt := range []struct{ name, ct, in, wantErr string }{
		{"ok", "application/json", `{"name":"a"}`, ""},
		{"unknown field", "application/json", `{"nam":"a"}`, "unknown field"},
		{"trailing data", "application/json", `{"name":"a"} {}`, "after the JSON object"},
		{"empty", "application/json", ``, "empty"},
		{"form", "application/x-www-form-urlencoded", `name=a`, "Content-Type"},
		{"too large", "", `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.in))
			r.Header.Set("Content-Type", tt.ct)
			var b body
			err := Decode(httptest.NewRecorder(), r, &b)
			if tt.wantErr == "" && (err != nil || b.Name != "a") {
				t.Fatalf("Decode = %v, %+v", err, b)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Decode error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestCallFillsParamsAndTypesErrors(t *testing.T) {
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.EscapedPath()
		if strings.HasSuffix(r.URL.Path, "/boom") {
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("not json"))
			return
		}
		Error(w, http.StatusConflict, "taken")
	}))
	defer srv.Close()

	err := Call(context.Background(), srv.Client(), srv.URL+"/", "PUT /a/{x}/b/{y}", map[string]int{"n": 1}, nil, "1/2", "z")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusConflict || se.Message != "taken" {
		t.Fatalf("Call = %v, want a 409 StatusError saying taken", err)
	}
	if gotPath != "/a/1%2F2/b/z" {
		t.Errorf("path = %s, want the parameters escaped into place", gotPath)
	}
	err = Call(context.Background(), srv.Client(), srv.URL, "GET /boom", nil, nil)
	if !IsStatus(err, http.StatusBadGateway) || !strings.Contains(err.Error(), "not json") {
		t.Errorf("Call = %v, want a 502 StatusError quoting the body", err)
	}
	if err := Call(context.Background(), srv.Client(), srv.URL, "GET /a/{x}", nil, nil, "1", "2"); err == nil {
		t.Error("Call with more arguments than parameters succeeded")
	}
}

// TestInternalErrorPassesUnavailabilityOn: a dependency that cannot answer
// for now makes the caller answer 503 with Retry-After, marked for the
// breakers; its 404 is a 404; anything else stays a 500.
func TestInternalErrorPassesUnavailabilityOn(t *testing.T) {
	for _, tt := range []struct {
		name       string
		err        error
		code       int
		retryAfter string
	}{
		{"open breaker", fmt.Errorf("list: %w", &breaker.OpenError{Name: "orders", RetryAfter: 2500 * time.Millisecond}), 503, "3"},
		{"503 with Retry-After", &StatusError{Route: "GET /items", Status: 503, RetryAfter: 7 * time.Second}, 503, "7"},
		{"504", &StatusError{Route: "GET /items", Status: 504}, 503, "1"},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, 503, "1"},
		{"404", &StatusError{Route: "GET /items/{id}", Status: 404, Message: "item not found"}, 404, ""},
		{"500", &StatusError{Route: "GET /items", Status: 500}, 500, ""},
		{"a bug", errors.New("nil map"), 500, ""},
	} {
		rec := httptest.NewRecorder()
		InternalError(rec, httptest.NewRequest("GET", "/x", nil), tt.err)
		if rec.Code != tt.code || rec.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("%s: %d Retry-After %q, want %d %q", tt.name, rec.Code, rec.Header().Get("Retry-After"), tt.code, tt.retryAfter)
		}
		if passed := rec.Header().Get(breaker.PassedOnHeader) != ""; passed != (tt.code == 503) {
			t.Errorf("%s: %s set %v", tt.name, breaker.PassedOnHeader, passed)
		}
	}
}

// TestCallReadsRetryAfter: the callee's Retry-After reaches the caller's
// answer through the StatusError.
func TestCallReadsRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "12")
		Error(w, http.StatusServiceUnavailable, "busy")
	}))
	defer srv.Close()
	err := Call(context.Background(), srv.Client(), srv.URL, "GET /items", nil, nil)
	if wait, ok := Unavailable(err); !ok || wait != 12*time.Second {
		t.Errorf("Unavailable(%v) = %v %v, want 12s true", err, wait, ok)
	}
}
