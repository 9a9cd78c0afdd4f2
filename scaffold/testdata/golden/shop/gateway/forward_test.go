package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serve runs the gateway on a real listener, for what only a real
// connection shows (streaming, trailers, upgrades, cut answers).
func serve(t *testing.T, g http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func TestForwarderStreamsAnAnswerWithoutLength(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: second\n\n")
	}))
	t.Cleanup(up.Close)
	defer close(release)
	g, _ := newTestGateway(t, routesJSON("orders", up.URL))
	srv := serve(t, g)

	resp, err := http.Get(srv.URL + "/api/orders/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first event must arrive while the upstream still holds the
	// second: a proxy that buffers until the end never delivers it.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first line %q, %v; want the first event before the answer ends", line, err)
	}
}

func TestForwarderPassesTrailers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}))
	t.Cleanup(up.Close)
	g, _ := newTestGateway(t, routesJSON("orders", up.URL))
	srv := serve(t, g)

	resp, err := http.Get(srv.URL + "/api/orders/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "body" || resp.Trailer.Get("X-Checksum") != "abc" || resp.Trailer.Get("X-Late") != "late" {
		t.Fatalf("body %q, trailers %v; want body and both trailers", body, resp.Trailer)
	}
}

func TestForwarderSetsForwardingHeadersAndNoDefaultUserAgent(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL))

	r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
	r.RemoteAddr = "[2001:db8::7]:4321"
	r.Header["X_Forwarded_For"] = []string{"10.0.0.1"} // the underscore spelling some frameworks read
	h := decodeSeen(t, do(g, r)).Header
	if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "2001:db8::7" {
		t.Errorf("X-Forwarded-For %q, want the client's address alone", got)
	}
	if got := h.Get("X_forwarded_for"); got != "" {
		t.Errorf("a client's X_Forwarded_For reached the upstream: %q", got)
	}
	if got := h.Get("User-Agent"); got != "" {
		t.Errorf("User-Agent %q, want none when the client sent none", got)
	}
}

func TestForwarderHandsUpgradesToTheReverseProxy(t *testing.T) {
	// An upstream that switches protocols and then echoes raw bytes.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	t.Cleanup(up.Close)
	g, _ := newTestGateway(t, routesJSON("orders", up.URL))
	srv := serve(t, g)

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /api/orders/ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("answer %v, %v; want 101", resp, err)
	}
	io.WriteString(conn, "hello\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo: hello\n" {
		t.Fatalf("after the upgrade got %q, %v; want the echo", line, err)
	}
}

func TestForwarderCutsAnAnswerTheUpstreamCut(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only part")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(up.Close)
	g, _ := newTestGateway(t, routesJSON("orders", up.URL))
	srv := serve(t, g)

	// Whether the client had the status before the cut or not, it must
	// see the answer fail, never a complete-looking one.
	resp, err := http.Get(srv.URL + "/api/orders/x")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if body, err := io.ReadAll(resp.Body); err == nil {
		t.Fatalf("the client read a cut answer to its end without an error: %d %q", resp.StatusCode, body)
	}
}

func TestNeedsDeadline(t *testing.T) {
	now := time.Now()
	want := now.Add(32 * time.Second) // 1 s of slack
	for _, c := range []struct {
		name string
		set  time.Time
		want time.Time
		move bool
	}{
		{"none set", time.Time{}, want, true},
		{"none wanted", want, time.Time{}, true},
		{"neither", time.Time{}, time.Time{}, false},
		{"set earlier than wanted", want.Add(-time.Millisecond), want, true},
		{"set within the slack", want.Add(500 * time.Millisecond), want, false},
		{"set past the slack", want.Add(2 * time.Second), want, true},
	} {
		if got := needsDeadline(c.set, c.want); got != c.move {
			t.Errorf("%s: needsDeadline = %v, want %v", c.name, got, c.move)
		}
	}
}
