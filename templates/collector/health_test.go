package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheckSelf(t *testing.T) {
	healthy := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy {
			http.Error(w, "no", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	if got := checkSelf("0.0.0.0:" + port); got != 0 {
		t.Errorf("healthy collector: exit %d", got)
	}
	healthy = false
	if got := checkSelf("0.0.0.0:" + port); got != 1 {
		t.Errorf("unhealthy collector: exit %d", got)
	}
	srv.Close()
	if got := checkSelf("0.0.0.0:" + port); got != 1 {
		t.Errorf("no collector: exit %d", got)
	}
	if got := checkSelf(":0"); got != 1 {
		t.Errorf("no port: exit %d", got)
	}
}
