package deadline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestMiddlewareHonoursTheCallersBudget(t *testing.T) {
	tests := []struct {
		header string
		want   bool // whether the handler sees a deadline
		max    time.Duration
	}{
		{"", false, 0},
		{"250", true, 250 * time.Millisecond},
		{"999999999", true, max},
		{"-5", false, 0},
		{"soon", false, 0},
	}
	for _, tt := range tests {
		var left time.Duration
		var has bool
		h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var d time.Time
			d, has = r.Context().Deadline()
			left = time.Until(d)
		}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tt.header != "" {
			r.Header.Set(Header, tt.header)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if has != tt.want || (has && (left <= 0 || left > tt.max)) {
			t.Errorf("%s=%q: deadline %v in %v, want %v within %v", Header, tt.header, has, left, tt.want, tt.max)
		}
	}
}

func TestSetWritesTheRemainingBudget(t *testing.T) {
	h := http.Header{}
	Set(context.Background(), h)
	if h.Get(Header) != "" {
		t.Errorf("no deadline: header %q, want none", h.Get(Header))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	Set(ctx, h)
	if ms, err := strconv.Atoi(h.Get(Header)); err != nil || ms <= 0 || ms > 2000 {
		t.Errorf("header %q, want (0, 2000]", h.Get(Header))
	}
}
