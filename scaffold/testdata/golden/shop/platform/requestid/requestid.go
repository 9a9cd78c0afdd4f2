// Package requestid carries the id the gateway gives each request (or
// kept from its client) through the services that serve it: the service
// middleware puts the incoming X-Request-Id into the request's context,
// and platform/httpclient sends it on, so that every access log line of
// one request carries the same request_id.
package requestid

import (
	"context"
	"net/http"
)

// Header is where the id travels.
const Header = "X-Request-Id"

type key struct{}

// With returns ctx carrying id; an empty id leaves ctx as it is.
func With(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, key{}, id)
}

// From returns the id ctx carries, "" when none.
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Set writes ctx's id into h, unless h has one already.
func Set(ctx context.Context, h http.Header) {
	if id := From(ctx); id != "" && h.Get(Header) == "" {
		h.Set(Header, id)
	}
}
