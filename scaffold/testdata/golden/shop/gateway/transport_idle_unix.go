//go:build unix

package main

import (
	"errors"
	"syscall"
)

// watchIdle lets the pool look at an idle connection's socket: one
// non-blocking peek when the connection is taken from the pool, instead of
// a goroutine per connection reading while it is idle (http.Transport's
// way, which this transport exists to avoid).
func (pc *upConn) watchIdle() {
	sc, ok := pc.conn.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	var buf [1]byte
	var waiting bool
	// The socket is non-blocking (the runtime's poller owns it): a peek
	// with nothing there fails with EAGAIN at once.
	check := func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK)
		waiting = n > 0 || (n == 0 && err == nil) || (err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR))
		return true
	}
	pc.peek = func() bool {
		if err := raw.Read(check); err != nil {
			return true
		}
		return waiting
	}
}
