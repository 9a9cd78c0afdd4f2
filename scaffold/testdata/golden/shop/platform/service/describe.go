package service

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"

	"example.com/shop/platform/breaker"
	"example.com/shop/platform/httpjson"
)

// Describe says how a call to a dependency failed, in words fit for a
// client: the status and message the dependency answered, or what went
// wrong on the way (timed out, refused, its name not found, its breaker
// open), never the address dialled. Go's network errors name it
// (dial tcp 172.18.0.5:8081), and it maps the project's insides.
func Describe(err error) string {
	var status *httpjson.StatusError
	var open *breaker.OpenError
	var dns *net.DNSError
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &status):
		return status.Error()
	case errors.As(err, &open):
		return open.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &dns):
		return "unreachable: its name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "unreachable: connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "failed: the connection was cut"
	}
	var u *url.Error
	var op *net.OpError
	if errors.As(err, &u) || errors.As(err, &op) {
		return "unreachable"
	}
	return err.Error()
}
