// Command proxyfloor is the least a reverse proxy built on the standard
// net/http server can do per request, as a reference in bench/gateway.sh:
// the std server, pooled keep-alive upstream connections, the request
// written and its answer read in the handler's goroutine, the answer's
// headers and body copied back. No request IDs, spans, metrics, logs,
// breaker, header hygiene or timeouts: what the generated gateway does
// beyond this is what its middleware costs, and the gap from this to nginx
// is what net/http itself costs.
//
// Usage: proxyfloor LISTEN UPSTREAM STRIP, e.g.
// proxyfloor 127.0.0.1:19184 127.0.0.1:19181 /api/orders
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
)

type upConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

type proxy struct {
	upstream, strip string

	mu   sync.Mutex
	idle []*upConn
	bufs sync.Pool
}

func (p *proxy) get() (*upConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return nil, err
	}
	return &upConn{c: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}, nil
}

func (p *proxy) put(c *upConn) {
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, p.strip+"/") {
		http.NotFound(w, r)
		return
	}
	c, err := p.get()
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	r.URL.Scheme, r.URL.Host, r.URL.Path, r.URL.RawPath = "http", p.upstream, r.URL.Path[len(p.strip):], ""
	r.Host, r.RequestURI = p.upstream, ""
	err = r.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(c.br, r)
	}
	if err != nil {
		c.c.Close()
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	buf, _ := p.bufs.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, 32<<10)
		buf = &b
	}
	_, err = io.CopyBuffer(w, resp.Body, *buf)
	p.bufs.Put(buf)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.c.Close()
		return
	}
	p.put(c)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: proxyfloor LISTEN UPSTREAM STRIP")
		os.Exit(2)
	}
	p := &proxy{upstream: os.Args[2], strip: os.Args[3]}
	if err := http.ListenAndServe(os.Args[1], p); err != nil {
		fmt.Fprintln(os.Stderr, "proxyfloor:", err)
		os.Exit(1)
	}
}
