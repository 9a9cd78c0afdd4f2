package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream is an upstream that speaks HTTP/1.1 by hand, so that it can
// misbehave as no net/http server would: answer requests nobody sent,
// answer before the body arrives, half-close. Each connection runs serve.
func rawUpstream(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

// answer is a keep-alive response whose body is body.
func answer(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// whose sends requests one after another, each with its own id, and
// fails the test when one gets an answer that is not its own. A request
// may fail (the upstream misbehaves), but never with another's answer.
func whose(t *testing.T, tr http.RoundTripper, url string, n int, method string, body func(id int) string) (ok int) {
	t.Helper()
	for id := range n {
		var rd io.Reader
		if body != nil {
			rd = strings.NewReader(body(id))
		}
		resp, got, err := get(t, tr, context.Background(), method, fmt.Sprintf("%s/?id=%d", url, id), rd)
		if err != nil {
			continue
		}
		if want := fmt.Sprint("answer-", id); resp.StatusCode != 200 || got != want {
			t.Fatalf("request %d got %d %q, want its own %q", id, resp.StatusCode, got, want)
		}
		ok++
	}
	return ok
}

func idOf(r *http.Request) string { return r.URL.Query().Get("id") }

func TestTransportNeverGivesAnExtraAnswerToTheNextRequest(t *testing.T) {
	// Each answer is followed at once by one more, to no request: it is
	// in the gateway's buffer by the time the first is read.
	url, conns := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, answer("answer-"+idOf(r))+answer("extra-after-"+idOf(r)))
		}
	})
	if ok := whose(t, newTestTransport(http.DefaultTransport), url, 20, http.MethodGet, nil); ok != 20 {
		t.Errorf("%d of 20 requests answered, want all (a fresh connection each)", ok)
	}
	if n := conns.Load(); n != 20 {
		t.Errorf("%d connections for 20 requests, want 20: none with an answer too many goes back to the pool", n)
	}
}

func TestTransportClosesAnIdleConnectionThatReceivesBytes(t *testing.T) {
	// The extra answer comes a moment later, once the connection is idle
	// in the pool.
	sent := make(chan struct{}, 1)
	url, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, answer("answer-"+idOf(r)))
			time.Sleep(20 * time.Millisecond)
			io.WriteString(c, answer("late-extra-after-"+idOf(r)))
			sent <- struct{}{}
		}
	})
	tr := newTestTransport(http.DefaultTransport)
	for id := range 10 {
		resp, got, err := get(t, tr, context.Background(), http.MethodGet, fmt.Sprintf("%s/?id=%d", url, id), nil)
		if err != nil || resp.StatusCode != 200 || got != fmt.Sprint("answer-", id) {
			t.Fatalf("request %d: %v %v %q, want its own answer", id, err, resp, got)
		}
		<-sent
		// The extra bytes are on the socket now; the next request must not
		// read them as its answer.
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTransportEarlyAnswerBeforeTheBody(t *testing.T) {
	// The upstream answers as soon as it has the headers, never reads the
	// body, and reads the body's bytes as the next request: a body that
	// is a request itself gets an answer of its own, to nobody.
	url, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, answer("answer-"+idOf(r)))
		}
	})
	tr := newTestTransport(http.DefaultTransport)
	smuggled := "GET /?id=smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for id := 0; id < 20; id += 2 {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/?id=%d", url, id), strings.NewReader(smuggled))
		if resp, err := tr.RoundTrip(req); err == nil {
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != fmt.Sprint("answer-", id) {
				t.Fatalf("POST %d got %q, want its own answer", id, got)
			}
		}
		// The answer to the smuggled request is on the connection (or on
		// its way): the next request must never take it for its own.
		time.Sleep(5 * time.Millisecond)
		resp, got, err := get(t, tr, context.Background(), http.MethodGet, fmt.Sprintf("%s/?id=%d", url, id+1), nil)
		if err == nil && (resp.StatusCode != 200 || got != fmt.Sprint("answer-", id+1)) {
			t.Fatalf("GET %d got %d %q, want its own answer", id+1, resp.StatusCode, got)
		}
	}
}

func TestTransportHalfClosedIdleConnectionIsNotReused(t *testing.T) {
	// The upstream answers with keep-alive, then closes its side: the
	// next request, a POST that cannot be retried, must go on a new
	// connection rather than fail on the dead one.
	url, conns := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(c, answer("answer-"+idOf(r)))
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, br) // until the gateway closes
	})
	tr := newTestTransport(http.DefaultTransport)
	for id := range 5 {
		resp, got, err := get(t, tr, context.Background(), http.MethodPost, fmt.Sprintf("%s/?id=%d", url, id), strings.NewReader("payload"))
		if err != nil || resp.StatusCode != 200 || got != fmt.Sprint("answer-", id) {
			t.Fatalf("POST %d after a half-close: %v %v %q, want its own answer", id, err, resp, got)
		}
		// Let the FIN arrive before the next request takes the connection.
		time.Sleep(5 * time.Millisecond)
	}
	if n := conns.Load(); n != 5 {
		t.Errorf("%d connections, want 5", n)
	}
}

func TestTransportConcurrentClientsGetTheirOwnAnswers(t *testing.T) {
	// An upstream that sometimes answers twice, sometimes half-closes,
	// under concurrent clients: every answer a client gets is its own.
	var seq atomic.Int32
	url, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, r.Body)
			switch seq.Add(1) % 3 {
			case 0:
				io.WriteString(c, answer("answer-"+idOf(r))+answer("extra"))
			case 1:
				io.WriteString(c, answer("answer-"+idOf(r)))
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, br)
				return
			default:
				io.WriteString(c, answer("answer-"+idOf(r)))
			}
		}
	})
	tr := newTestTransport(http.DefaultTransport)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := w*1000 + i
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/?id=%d", url, id), nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					continue
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(got) != fmt.Sprint("answer-", id) {
					t.Errorf("client %d got %q", id, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzUpstreamAnswer sends a request to an upstream that answers it with
// whatever bytes the fuzzer chose, then a second request: whatever the
// first answer was (garbage, truncated, two answers in one, a body until
// EOF), the transport never panics, and the second request gets its own
// answer or an error, never bytes left over from the first.
func FuzzUpstreamAnswer(f *testing.F) {
	for _, seed := range []string{
		answer("first"),
		answer("first") + answer("leftover"),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n0\r\n\r\n" + answer("leftover"),
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nfirst",
		"HTTP/1.1 100 Continue\r\n\r\n" + answer("first"),
		"HTTP/1.1 204 No Content\r\nContent-Length: 8\r\n\r\nleftover",
		"HTTP/1.0 200 OK\r\n\r\nuntil eof",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nfirst!",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"garbage\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8<<10 {
			return // more than the transport's buffer takes in one read
		}
		// The answer to the second request is a random text the fuzzer
		// cannot have written.
		own := rand.Text()
		var wg sync.WaitGroup
		defer wg.Wait()
		// Each connection is a pipe served in memory: the first request
		// (id=1) gets data, the second its own answer. By id, not by
		// arrival: a first request whose 10 ms ran out before it was sent
		// never arrives.
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer server.Close()
				br := bufio.NewReader(server)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, r.Body)
					out := []byte(answer(own))
					if r.URL.Query().Get("id") == "1" {
						out = data
					}
					if _, err := server.Write(out); err != nil {
						return
					}
				}
			}()
			return client, nil
		}
		tr := newDirectTransport(http.DefaultTransport, dial, 8, time.Minute)
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if resp, err := tr.RoundTrip(mustRequest(t, ctx, "http://upstream/?id=1")); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		resp, err := tr.RoundTrip(mustRequest(t, context.Background(), "http://upstream/?id=2"))
		if err != nil {
			return
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != 200 || string(got) != own) {
			t.Fatalf("the second request got %d %q, want its own answer", resp.StatusCode, got)
		}
	})
}

func mustRequest(t *testing.T, ctx context.Context, url string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
