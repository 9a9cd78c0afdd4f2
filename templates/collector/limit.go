package main

import (
	"net"
	"sync"
)

// maxConns bounds the connections the collector serves at once: each may
// hold up to MaxHeaderBytes of headers being read, so their number bounds
// that memory. Services and the gateway keep one or two each.
const maxConns = 256

// limitListener accepts at most n connections at once; the next waits in
// Accept (in the kernel's backlog) until one closes.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &slotConn{Conn: c, release: func() { <-l.slots }}, nil
}

// slotConn gives its slot back when closed, once.
type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
