package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"example.com/shop/platform/breaker"
	"example.com/shop/platform/httpjson"
)

func TestGatheredErrorsNeverNameInternalHosts(t *testing.T) {
	dial := func(err error) error {
		return &url.Error{Op: "Get", URL: "http://orders:8081/items", Err: &net.OpError{Op: "dial", Net: "tcp",
			Addr: &net.TCPAddr{IP: net.IPv4(172, 18, 0, 5), Port: 8081}, Err: err}}
	}
	calls := map[string]error{
		"refused":  dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)),
		"dns":      &url.Error{Op: "Get", URL: "http://orders:8081/items", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "orders", Server: "127.0.0.11:53", IsNotFound: true}}},
		"timeout":  &url.Error{Op: "Get", URL: "http://orders:8081/items", Err: context.DeadlineExceeded},
		"reset":    dial(os.NewSyscallError("read", syscall.ECONNRESET)),
		"other":    dial(errors.New("something else")),
		"wrapped":  fmt.Errorf("GET /items: %w", dial(errors.New("x"))),
		"breaker":  &breaker.OpenError{Name: "orders"},
		"answered": &httpjson.StatusError{Route: "GET /items", Status: 503, Message: "down"},
	}
	want := map[string]string{
		"refused": "connection refused", "dns": "does not resolve", "timeout": "timed out", "reset": "cut",
		"other": "unreachable", "wrapped": "unreachable", "breaker": "open", "answered": "503",
	}
	fns := map[string]func(context.Context) (any, error){}
	for name, err := range calls {
		fns[name] = func(context.Context) (any, error) { return nil, err }
	}
	rec := httptest.NewRecorder()
	Gather(rec, httptest.NewRequest(http.MethodGet, "/upstream", nil), fns)
	var got map[string]httpjson.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if len(got) != len(calls) {
		t.Fatalf("answer %s, want one entry per call", rec.Body)
	}
	for name, v := range got {
		msg := v.Error
		for _, leak := range []string{"172.18.0.5", "8081", "orders:", "127.0.0.11", "http://"} {
			if strings.Contains(msg, leak) {
				t.Errorf("%s: %q names %s", name, msg, leak)
			}
		}
		if !strings.Contains(msg, want[name]) {
			t.Errorf("%s: %q, want it to say %q", name, msg, want[name])
		}
	}
}
