package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// project is a gateway and two services, orders calling ledger, with keys
// as msx hands them out: the gateway's public key to both, orders' public
// key to ledger, each private key to its owner alone.
type project struct {
	gateway, orders, ledger *Keys
	now                     time.Time
}

func newProject(t *testing.T) *project {
	t.Helper()
	pub := map[string]ed25519.PublicKey{}
	priv := map[string]ed25519.PrivateKey{}
	for _, n := range []string{Gateway, "orders", "ledger"} {
		pk, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub[n], priv[n] = pk, sk
	}
	// Outgoing signs with the real clock: the verifiers' starts there.
	start := time.Now()
	p := &project{now: start}
	p.gateway = NewKeys(Gateway, priv[Gateway], nil)
	p.orders = NewKeys("orders", priv["orders"], map[string]ed25519.PublicKey{Gateway: pub[Gateway]})
	p.ledger = NewKeys("ledger", priv["ledger"], map[string]ed25519.PublicKey{Gateway: pub[Gateway], "orders": pub["orders"]})
	for _, k := range []*Keys{p.gateway, p.orders, p.ledger} {
		k.now = func() time.Time { return p.now }
	}
	return p
}

// userToken is what the gateway mints for alice's GET of orders' /items.
func (p *project) userToken(t *testing.T, aud, path string) string {
	t.Helper()
	tok, err := p.gateway.Sign(Claims{Subject: "alice", Audience: aud, Method: "GET", Path: path}, p.now.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// serve sends a request with tok to a protected service holding keys, and
// returns the status and what the handler saw.
func serve(keys *Keys, method, path, tok string) (code int, user, service string) {
	h := Middleware(true, keys)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, service = Identity(r.Context()), Caller(r.Context())
	}))
	r := httptest.NewRequest(method, path, nil)
	if tok != "" {
		r.Header.Set(IdentityHeader, tok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		var body map[string]string
		if rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
			return -1, "", "" // not the platform's JSON error
		}
	}
	return rec.Code, user, service
}

func TestGatewayTokenIsTheUser(t *testing.T) {
	p := newProject(t)
	code, user, service := serve(p.orders, "GET", "/items", p.userToken(t, "orders", "/items"))
	if code != 200 || user != "alice" || service != "" {
		t.Errorf("got %d %q %q, want 200 alice from the gateway", code, user, service)
	}
}

func TestBadTokensAreRefused(t *testing.T) {
	p := newProject(t)
	start := p.now
	good := p.userToken(t, "orders", "/items")
	stranger := NewKeys(Gateway, ed25519.NewKeyFromSeed(make([]byte, 32)), nil)
	forged, _ := stranger.Sign(Claims{Subject: "alice", Audience: "orders", Method: "GET", Path: "/items"}, p.now.Add(time.Second))
	// orders' own key cannot speak for a user: only the gateway's can.
	selfMade, _ := p.orders.Sign(Claims{Subject: "alice", Audience: "ledger", Method: "GET", Path: "/items"}, p.now.Add(time.Second))
	tampered := []byte(good)
	tampered[10] ^= 1
	for _, tt := range []struct {
		name, method, path, tok string
		keys                    *Keys
		advance                 time.Duration
	}{
		{"missing", "GET", "/items", "", p.orders, 0},
		{"plain subject, as before", "GET", "/items", "alice", p.orders, 0},
		{"forged with another key", "GET", "/items", forged, p.orders, 0},
		{"tampered", "GET", "/items", string(tampered), p.orders, 0},
		{"expired", "GET", "/items", good, p.orders, 5 * time.Second},
		{"wrong path", "GET", "/items/1", good, p.orders, 0},
		{"wrong method", "DELETE", "/items", good, p.orders, 0},
		{"replayed to another service", "GET", "/items", good, p.ledger, 0},
		{"user minted by a service", "GET", "/items", selfMade, p.ledger, 0},
		{"no keys", "GET", "/items", good, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p.now = start.Add(tt.advance)
			if code, user, _ := serve(tt.keys, tt.method, tt.path, tt.tok); code != http.StatusUnauthorized {
				t.Errorf("got %d (user %q), want a JSON 401", code, user)
			}
		})
	}
	p.now = start
	if code, _, _ := serve(p.orders, "GET", "/healthz", ""); code != 200 {
		t.Errorf("health probe: %d, want 200", code)
	}
}

// call is orders serving a request that came with in, and calling ledger
// from its handler: what the typed client sends.
func (p *project) call(t *testing.T, in, method, path string) string {
	t.Helper()
	var out string
	h := Middleware(false, p.orders)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		var err error
		if out, err = Outgoing(ctx, "ledger", method, path); err != nil {
			t.Fatal(err)
		}
	}))
	r := httptest.NewRequest("GET", "/items", nil)
	if in != "" {
		r.Header.Set(IdentityHeader, in)
	}
	h.ServeHTTP(httptest.NewRecorder(), r)
	return out
}

func TestTheUserPropagatesAcrossServices(t *testing.T) {
	p := newProject(t)
	tok := p.call(t, p.userToken(t, "orders", "/items"), "GET", "/items/7")
	code, user, service := serve(p.ledger, "GET", "/items/7", tok)
	if code != 200 || user != "alice" || service != "orders" {
		t.Errorf("ledger saw %d %q via %q, want 200 alice via orders", code, user, service)
	}
	// The token holds for that call only.
	if code, _, _ := serve(p.ledger, "DELETE", "/items/7", tok); code != http.StatusUnauthorized {
		t.Errorf("replayed to another route: %d, want 401", code)
	}
	// And no longer than the user's token it carries.
	p.now = p.now.Add(5 * time.Second)
	if code, _, _ := serve(p.ledger, "GET", "/items/7", tok); code != http.StatusUnauthorized {
		t.Errorf("after the user's token expired: %d, want 401", code)
	}
}

func TestAServiceWithoutAUserActsAsItself(t *testing.T) {
	p := newProject(t)
	tok := p.call(t, "", "GET", "/items")
	var user, service string
	h := Middleware(false, p.ledger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, service = Identity(r.Context()), Caller(r.Context())
	}))
	r := httptest.NewRequest("GET", "/items", nil)
	r.Header.Set(IdentityHeader, tok)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if user != "" || service != "orders" {
		t.Errorf("public ledger saw user %q via %q, want no user, orders", user, service)
	}
	// A protected service serves end users: orders alone reads nothing
	// there, so an anonymous call through orders cannot either.
	if code, _, _ := serve(p.ledger, "GET", "/items", tok); code != http.StatusUnauthorized {
		t.Errorf("protected ledger, orders acting as itself: %d, want 401", code)
	}
}

func TestAServiceCannotPassOnATokenThatWasNotForIt(t *testing.T) {
	p := newProject(t)
	// orders got hold of alice's token for ledger (say it was logged) and
	// wraps it in a call of its own: ledger sees it was not orders'.
	stolen := p.userToken(t, "ledger", "/items")
	tok, err := p.orders.Sign(Claims{Audience: "ledger", Method: "GET", Path: "/items", User: stolen}, p.now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if code, user, _ := serve(p.ledger, "GET", "/items", tok); code != http.StatusUnauthorized {
		t.Errorf("got %d (user %q), want 401", code, user)
	}
}

func TestPublicServiceAdmitsAnonymousCalls(t *testing.T) {
	h := Middleware(false, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Identity(r.Context()) != "" {
			t.Error("an unverified identity reached the handler")
		}
	}))
	r := httptest.NewRequest(http.MethodGet, "/items", nil)
	r.Header.Set(IdentityHeader, "alice")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Errorf("got %d, want 200", rec.Code)
	}
}

func TestLoadKeysReadsTheFilesMsxWrites(t *testing.T) {
	dir := t.TempDir()
	gpub, gpriv, _ := ed25519.GenerateKey(rand.Reader)
	_, opriv, _ := ed25519.GenerateKey(rand.Reader)
	write := func(name, typ string, key any) {
		var der []byte
		var err error
		if typ == "PUBLIC KEY" {
			der, err = x509.MarshalPKIXPublicKey(key)
		} else {
			der, err = x509.MarshalPKCS8PrivateKey(key)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("identity.key", "PRIVATE KEY", opriv)
	write("identity-gateway.pub", "PUBLIC KEY", gpub)
	k, err := LoadKeys("orders", dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewKeys(Gateway, gpriv, nil).Sign(Claims{Subject: "bob", Audience: "orders", Method: "GET", Path: "/"}, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if user, _, err := k.Verify(tok, "GET", "/"); err != nil || user != "bob" {
		t.Errorf("Verify = %q, %v; want bob", user, err)
	}
	if _, err := k.Sign(Claims{Audience: "ledger"}, time.Now().Add(time.Second)); err != nil {
		t.Errorf("Sign with the loaded private key: %v", err)
	}
	if k, err := LoadKeys("orders", t.TempDir()); err != nil || k.private != nil {
		t.Errorf("no files: %v, private %v; want no key and no error", err, k.private)
	}
}

func TestTheUserPropagatesDownAChain(t *testing.T) {
	// gateway -> orders -> ledger -> books: books holds the public keys of
	// the gateway and of both services that reach it.
	p := newProject(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ledgerPub := p.ledger.private.Public().(ed25519.PublicKey)
	books := NewKeys("books", priv, map[string]ed25519.PublicKey{
		Gateway: p.orders.public[Gateway], "orders": p.ledger.public["orders"], "ledger": ledgerPub,
	})
	toLedger := p.call(t, p.userToken(t, "orders", "/items"), "GET", "/items")
	var toBooks string
	h := Middleware(true, p.ledger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toBooks, _ = Outgoing(r.Context(), "books", "GET", "/shelves")
	}))
	r := httptest.NewRequest("GET", "/items", nil)
	r.Header.Set(IdentityHeader, toLedger)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if code, user, service := serve(books, "GET", "/shelves", toBooks); code != 200 || user != "alice" || service != "ledger" {
		t.Errorf("books saw %d %q via %q, want 200 alice via ledger", code, user, service)
	}
}
