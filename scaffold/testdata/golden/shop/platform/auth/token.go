package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Why Ed25519 and not one shared HMAC key: with a shared key every service
// that can check a token can also make one, so one compromised service
// could call any other as any user. Here only the gateway holds the key
// that says who the user is; a service holds the gateway's public key (to
// check) and its own private key, which can only say "this service calls",
// optionally carrying a user token the service was itself given.

// Gateway is the issuer name of the tokens the gateway signs.
const Gateway = "gateway"

// maxChain bounds how many services a user token may travel through.
const maxChain = 8

// maxLifetime bounds a token signed without a deadline in its context.
const maxLifetime = 10 * time.Second

// Claims are what a token says. The issuer signs it; it holds for one
// audience, one method and one path, until Expiry.
type Claims struct {
	Issuer   string `json:"iss"`           // "gateway" or the calling service
	Subject  string `json:"sub,omitempty"` // the end user, in the gateway's tokens only
	Audience string `json:"aud"`           // the service the call is for
	Expiry   int64  `json:"exp"`           // Unix milliseconds
	Method   string `json:"m"`
	Path     string `json:"p"`
	// User, in a service's token, is the token the service received for
	// the request it is serving: the callee checks that it was for the
	// caller (its audience is the issuer of this one) and still valid.
	User string `json:"usr,omitempty"`
}

// Keys are one program's keys: its own private key, to sign, and the
// public keys of the programs it accepts tokens from, by name.
type Keys struct {
	name    string
	private ed25519.PrivateKey
	public  map[string]ed25519.PublicKey
	now     func() time.Time
}

// NewKeys returns the keys of the program name. private may be nil (a
// program that only verifies), public too (one that only signs).
func NewKeys(name string, private ed25519.PrivateKey, public map[string]ed25519.PublicKey) *Keys {
	return &Keys{name: name, private: private, public: public, now: time.Now}
}

// LoadKeys reads the keys of the program name from dir, as msx writes them:
// identity.key (this program's private key, PKCS #8 PEM) and one
// identity-NAME.pub (PKIX PEM) for each program it accepts tokens from.
// Missing files are no error: the program then signs or accepts nothing.
func LoadKeys(name, dir string) (*Keys, error) {
	k := NewKeys(name, nil, map[string]ed25519.PublicKey{})
	b, err := os.ReadFile(filepath.Join(dir, "identity.key"))
	switch {
	case err == nil:
		key, err := parsePEM(b, "PRIVATE KEY")
		if err != nil {
			return nil, fmt.Errorf("%s/identity.key: %w", dir, err)
		}
		priv, ok := key.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s/identity.key: not an Ed25519 private key", dir)
		}
		k.private = priv
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "identity-*.pub"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		key, err := parsePEM(b, "PUBLIC KEY")
		pub, ok := key.(ed25519.PublicKey)
		if err != nil || !ok {
			return nil, fmt.Errorf("%s: not an Ed25519 public key in PEM", f)
		}
		k.public[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "identity-"), ".pub")] = pub
	}
	return k, nil
}

func parsePEM(b []byte, typ string) (any, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return nil, errors.New("not a PEM " + typ)
	}
	if typ == "PUBLIC KEY" {
		return x509.ParsePKIXPublicKey(blk.Bytes)
	}
	return x509.ParsePKCS8PrivateKey(blk.Bytes)
}

// Sign returns a token of c, issued by this program, valid until exp.
func (k *Keys) Sign(c Claims, exp time.Time) (string, error) {
	if k == nil || k.private == nil {
		return "", errors.New("no private key to sign with")
	}
	c.Issuer, c.Expiry = k.name, exp.UnixMilli()
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(k.private, []byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

var errInvalid = errors.New("invalid identity token")

// Verify checks a token sent to this program for method and path, and
// returns the end user it vouches for (or "") and the service that signed
// it (or "" for the gateway). A service's token that carries a user token
// is believed only if that token was for the signing service, is still
// valid, and is itself vouched for the same way, back to the gateway.
func (k *Keys) Verify(tok, method, path string) (user, service string, err error) {
	if k == nil {
		return "", "", errInvalid
	}
	c, err := k.open(tok, k.name)
	if err != nil {
		return "", "", err
	}
	if c.Method != method || c.Path != path {
		return "", "", errInvalid // replayed to another route
	}
	if c.Issuer == Gateway {
		return c.Subject, "", nil
	}
	// The user's token, back through each service that passed it on.
	for hop, inner := 0, c; inner.User != ""; hop++ {
		if hop == maxChain {
			return "", "", errInvalid
		}
		if inner, err = k.open(inner.User, inner.Issuer); err != nil {
			return "", "", err
		}
		if inner.Issuer == Gateway {
			return inner.Subject, c.Issuer, nil
		}
	}
	return "", c.Issuer, nil
}

// open checks a token's signature, audience and expiry.
func (k *Keys) open(tok, audience string) (Claims, error) {
	var c Claims
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 8<<10 {
		return c, errInvalid
	}
	body, err1 := base64.RawURLEncoding.DecodeString(payload)
	s, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || json.Unmarshal(body, &c) != nil {
		return c, errInvalid
	}
	pub := k.public[c.Issuer]
	if pub == nil || !ed25519.Verify(pub, []byte(payload), s) {
		return c, errInvalid
	}
	// The gateway alone speaks for users; a service only for itself.
	if c.Audience != audience || k.now().UnixMilli() >= c.Expiry || (c.Issuer == Gateway) != (c.Subject != "") {
		return c, errInvalid
	}
	return c, nil
}

// expiry is when a token for a call under ctx ends: the call's deadline,
// and never more than maxLifetime away.
func expiry(ctx context.Context) time.Time {
	exp := time.Now().Add(maxLifetime)
	if d, ok := ctx.Deadline(); ok && d.Before(exp) {
		return d
	}
	return exp
}
