//go:build !unix

package main

// watchIdle does nothing where the socket cannot be peeked at: an idle
// connection is checked only for bytes already buffered.
func (pc *upConn) watchIdle() {}
