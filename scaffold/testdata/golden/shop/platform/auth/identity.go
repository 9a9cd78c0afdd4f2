// Package auth carries the authenticated identity of a request from the
// gateway, which checks credentials, to the services behind it, and from
// service to service, as a short-lived token signed with Ed25519 that a
// service verifies before it believes a word of it (see token.go).
//
// The gateway strips every client-supplied identity-style header and sets
// IdentityHeader to a token it signs for one service, one method, one
// path, until the request's deadline. A service verifies it with
// Middleware; its typed clients sign each call with the service's own key
// and pass the end user's token inside (see httpclient), so the callee
// sees the end user, and a service with no user acts only as itself (which
// a protected service refuses: it serves end users).
package auth

import (
	"context"
	"encoding/json"
	"net/http"
)

// IdentityHeader holds the signed identity token of a call. The X-Msx-
// prefix is reserved: the gateway drops a client's copies.
const IdentityHeader = "X-Msx-Identity"

type identityKey struct{}

// caller is what a verified token says about a call.
type caller struct {
	user    string // the end user's subject, or ""
	service string // the service that signed the call, or "" for the gateway
	token   string // the token as received, passed on inside the next call's
	keys    *Keys  // this program's keys, to sign the calls it makes
}

// WithIdentity returns ctx carrying subject as the authenticated end user,
// with no token to pass on: for tests and code that calls no service.
func WithIdentity(ctx context.Context, subject string) context.Context {
	c, _ := ctx.Value(identityKey{}).(caller)
	c.user, c.token = subject, ""
	return context.WithValue(ctx, identityKey{}, c)
}

// WithKeys returns ctx carrying this program's keys, so that the calls
// made under it are signed as this service. Middleware does it for every
// request; work that starts on its own (a consumer, a timer) does it
// itself, and then acts only as itself.
func WithKeys(ctx context.Context, k *Keys) context.Context {
	c, _ := ctx.Value(identityKey{}).(caller)
	c.keys = k
	return context.WithValue(ctx, identityKey{}, c)
}

// Identity returns the authenticated end user of ctx, or "".
func Identity(ctx context.Context) string {
	c, _ := ctx.Value(identityKey{}).(caller)
	return c.user
}

// Caller returns the service that signed the request of ctx, or "" when
// the gateway did (or nobody).
func Caller(ctx context.Context) string {
	c, _ := ctx.Value(identityKey{}).(caller)
	return c.service
}

// Middleware verifies each request's identity token and puts what it says
// into the request's context, with keys to sign the calls the handler
// makes. When protected, a request is refused with 401 unless its token
// verifies (not missing, forged, expired, nor for another service, method
// or path) and vouches for an end user: a service acting as itself, with
// no user, reads no protected data, so that an anonymous call through a
// public service cannot either. The health probes /healthz and /readyz,
// which carry no data, are exempt. A public service serves a request whose
// token does not verify as anonymous. keys may be nil (no key files): no
// token verifies then.
func Middleware(protected bool, keys *Keys) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := caller{keys: keys}
			tok := r.Header.Get(IdentityHeader)
			user, service, err := keys.Verify(tok, r.Method, r.URL.Path)
			if err == nil {
				c.user, c.service, c.token = user, service, tok
			}
			if protected && c.user == "" && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
				msg := "authentication required"
				if err != nil && tok != "" {
					msg = "invalid identity token"
				}
				writeError(w, http.StatusUnauthorized, msg)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, c)))
		})
	}
}

// Outgoing returns the token for a call from this service to the service
// audience: signed with this service's key, carrying the end user's token
// it received, if any. It returns "" when ctx holds no key: the call then
// goes out anonymous.
func Outgoing(ctx context.Context, audience, method, path string) (string, error) {
	c, _ := ctx.Value(identityKey{}).(caller)
	if c.keys == nil || c.keys.private == nil {
		return "", nil
	}
	if path == "" {
		path = "/" // what the callee's server sees
	}
	claims := Claims{Audience: audience, Method: method, Path: path}
	if c.user != "" {
		claims.User = c.token // the end user's, passed on
	}
	return c.keys.Sign(claims, expiry(ctx))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("WWW-Authenticate", `Bearer realm="msx"`)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
