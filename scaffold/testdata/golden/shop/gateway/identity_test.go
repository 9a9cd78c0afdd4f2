package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/shop/platform/auth"
)

// testIdentity is the gateway's identity key and what two services,
// orders and ledger, verify its tokens with.
var testIdentity = func() (k struct{ gateway, orders, ledger *auth.Keys }) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	k.gateway = auth.NewKeys(auth.Gateway, priv, nil)
	k.orders = auth.NewKeys("orders", nil, map[string]ed25519.PublicKey{auth.Gateway: pub})
	k.ledger = auth.NewKeys("ledger", nil, map[string]ed25519.PublicKey{auth.Gateway: pub})
	return k
}()

// vouchedFor returns the user the upstream's identity token vouches for,
// checked as orders checks it for method and path.
func vouchedFor(t *testing.T, s seen, service, method, path string) string {
	t.Helper()
	keys := map[string]*auth.Keys{"orders": testIdentity.orders, "ledger": testIdentity.ledger}[service]
	user, _, err := keys.Verify(s.Header.Get(auth.IdentityHeader), method, path)
	if err != nil {
		t.Errorf("%s refuses the gateway's identity token: %v", service, err)
	}
	return user
}

func TestGatewayVouchesForOneServiceRouteAndDeadline(t *testing.T) {
	orders, _ := echo(t)
	g := protectedGateway(t, orders.URL)
	r := httptest.NewRequest(http.MethodGet, "/api/orders/items/7", nil)
	r.Header.Set("X-Api-Key", "key-0123456789abcdef")
	r.Header.Set(auth.IdentityHeader, "admin") // a client's word for it
	before := time.Now()
	s := decodeSeen(t, do(g, r))
	if user := vouchedFor(t, s, "orders", "GET", "/items/7"); user != "apikey:ci" {
		t.Errorf("orders sees %q, want apikey:ci", user)
	}
	tok := s.Header.Get(auth.IdentityHeader)
	for _, other := range []struct{ service, method, path string }{
		{"ledger", "GET", "/items/7"},    // replayed to another service
		{"orders", "DELETE", "/items/7"}, // another method
		{"orders", "GET", "/items/8"},    // another path
	} {
		keys := map[string]*auth.Keys{"orders": testIdentity.orders, "ledger": testIdentity.ledger}[other.service]
		if _, _, err := keys.Verify(tok, other.method, other.path); err == nil {
			t.Errorf("the token holds for %s %s %s", other.service, other.method, other.path)
		}
	}
	// It expires with the request's deadline (the upstream timeout, 5s
	// here): seconds, not minutes.
	payload, _, _ := strings.Cut(tok, ".")
	body, _ := base64.RawURLEncoding.DecodeString(payload)
	var c auth.Claims
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if exp := time.UnixMilli(c.Expiry); exp.Before(before) || exp.After(time.Now().Add(5*time.Second)) {
		t.Errorf("token expires %v from now, want within the 5s upstream timeout", time.Until(exp))
	}
}

func TestPublicRoutesCarryNoIdentity(t *testing.T) {
	orders, _ := echo(t)
	g, _ := newTestGateway(t, routesJSON("orders", orders.URL))
	r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
	r.Header.Set(auth.IdentityHeader, "admin")
	if got := decodeSeen(t, do(g, r)).Header.Get(auth.IdentityHeader); got != "" {
		t.Errorf("upstream got identity %q on a public route, want none", got)
	}
}

func TestWithoutAnIdentityKeyProtectedRoutesFailClosed(t *testing.T) {
	orders, calls := echo(t)
	g, _ := newTestGatewayWith(t, `[{"name":"orders","prefix":"/api/orders/","upstream":"`+orders.URL+`","protected":true}]`, func(c *gatewayConfig) {
		c.Auth = authConfig{APIKeys: "ci:key-0123456789abcdef\n"}
	})
	r := httptest.NewRequest(http.MethodGet, "/api/orders/items", nil)
	r.Header.Set("X-Api-Key", "key-0123456789abcdef")
	if rec := do(g, r); rec.Code != http.StatusServiceUnavailable || calls.Load() != 0 {
		t.Errorf("got %d and %d upstream calls, want 503 and none", rec.Code, calls.Load())
	}
}

func TestJWTIssuerAndAudienceAreRequired(t *testing.T) {
	for _, tt := range []struct {
		cfg  authConfig
		want string // in the error; "" for none
	}{
		{authConfig{JWTKey: testSecret, JWTAudience: "shop"}, "gateway.jwt.issuer"},
		{authConfig{JWTKey: testSecret, JWTIssuer: "https://issuer.test"}, "gateway.jwt.audience"},
		{authConfig{JWTKey: testSecret, JWTIssuer: "https://issuer.test", JWTAudience: "shop"}, ""},
		{authConfig{JWTKey: testSecret, JWTAnyIssuer: true, JWTAnyAudience: true}, ""},
		{authConfig{APIKeys: "ci:key-0123456789abcdef\n"}, ""},
	} {
		_, err := newAuthenticator(tt.cfg)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: error %v, want one naming %q", tt.cfg, err, tt.want)
		}
	}
}
