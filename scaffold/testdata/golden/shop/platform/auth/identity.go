// Package auth carries the authenticated identity of a request from the
// gateway, which checks credentials, to the services behind it, which
// trust it on the project's private network.
//
// The gateway strips every client-supplied identity-style header and sets
// IdentityHeader to the subject it verified. A service reads it into the
// request's context with Middleware; its typed clients forward it to the
// services it calls (see httpclient), so a protected service can refuse a
// read that came in unauthenticated through a public one.
package auth

import (
	"context"
	"encoding/json"
	"net/http"
)

// IdentityHeader holds the authenticated subject, set only by the gateway.
// The X-Msx- prefix is reserved: the gateway drops a client's copies.
const IdentityHeader = "X-Msx-Identity"

type identityKey struct{}

// WithIdentity returns ctx carrying the authenticated subject.
func WithIdentity(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, identityKey{}, subject)
}

// Identity returns the authenticated subject of ctx, or "".
func Identity(ctx context.Context) string {
	s, _ := ctx.Value(identityKey{}).(string)
	return s
}

// Middleware puts the caller's identity into each request's context. When
// protected, a request without one is refused with 401, except the health
// probes /healthz and /readyz, which carry no data.
func Middleware(protected bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(IdentityHeader)
			if id != "" {
				r = r.WithContext(WithIdentity(r.Context(), id))
			} else if protected && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(map[string]string{"error": "authentication required"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
