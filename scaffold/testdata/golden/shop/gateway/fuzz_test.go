package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRouting checks that the routing decision matches what the upstream
// receives: a request routed to orders reaches it as the clean rest of the
// path under /api/orders/, never with a "..", and nothing else does.
func FuzzRouting(f *testing.F) {
	for _, seed := range []string{"/api/orders/items/1", "/api/orders/../payments/x", "/api/orders/%2e%2e/x",
		"//api//orders/./items", "/api/orders", "/api/ordersx/1", "/api/orders/a%2Fb", "/%00", "/api/orders/\\..\\x"} {
		f.Add(seed)
	}
	orders, _ := echoFuzz(f)
	g, _ := newFuzzGateway(f, routesJSON("orders", orders.URL))
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \t\r\n#?") {
			return
		}
		r, err := http.NewRequest(http.MethodGet, "http://gateway"+target, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, r)
		clean := cleanPath(r.URL.Path)
		rest, routed := match("/api/orders/", clean)
		if rec.Code != 200 {
			if routed && rec.Code != 400 {
				t.Fatalf("%q: routable as %q, got %d", target, rest, rec.Code)
			}
			return
		}
		if !routed {
			t.Fatalf("%q: answered 200 but does not match the route", target)
		}
		got := rec.Header().Get("X-Seen-Path")
		want := (&url.URL{Path: rest}).EscapedPath()
		if got != want || strings.Contains("/"+got+"/", "/../") {
			t.Fatalf("%q: upstream received %q, routing decided %q", target, got, want)
		}
		if cleanPath(clean) != clean {
			t.Fatalf("cleanPath is not idempotent on %q", clean)
		}
	})
}
