package main

import (
	"net/http"
	"time"

	"example.com/shop/platform/auth"
)

// vouch sets the identity a protected service acts on: a token the gateway
// signs with its Ed25519 key (SECRETS_DIR/identity.key) for this subject,
// this service, this method and path, until the request's deadline. The
// service checks it with the gateway's public key; a container without the
// private key cannot make one, and a token seen once is worth nothing for
// another service, route or, seconds later, at all. The token is never
// logged.
func (g *gateway) vouch(h http.Header, subject, service, method, path string, deadline time.Time) error {
	tok, err := g.auth.identity.Sign(auth.Claims{Subject: subject, Audience: service, Method: method, Path: path}, deadline)
	if err != nil {
		return err
	}
	h.Set(auth.IdentityHeader, tok)
	return nil
}
