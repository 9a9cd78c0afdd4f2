package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"example.com/shop/platform/auth"
)

// authConfig is how the gateway checks credentials on protected routes.
// Keys come from the environment or from files in SECRETS_DIR: jwt.pem (a
// public key) or jwt.secret (an HMAC secret), and api-keys (one NAME:KEY a
// line). msx up writes them there from the workspace's .msx/secrets/
// gateway-jwt.pem, gateway-jwt.secret and gateway-api-keys, when present,
// and identity.key, the gateway's identity key, always.
type authConfig struct {
	JWTKey        string   // PEM public key or HMAC secret
	JWTAlgorithms []string // allowlist, e.g. RS256,ES256 or HS256
	JWTIssuer     string   // required "iss"
	JWTAudience   string   // required "aud"
	// JWTAnyIssuer and JWTAnyAudience accept tokens whatever their "iss"
	// or "aud": a JWT key without an issuer and an audience to check is
	// refused unless these say so (msx.yaml: gateway.jwt.any_issuer).
	JWTAnyIssuer   bool
	JWTAnyAudience bool
	APIKeys        string // NAME:KEY lines
	// Identity signs the identity tokens protected services act on
	// (identity.key); without it, protected routes answer 503.
	Identity *auth.Keys
}

// authenticator checks a request's credentials and returns the subject.
type authenticator struct {
	jwtKey     any
	jwtParser  *jwt.Parser
	apiKeys    []apiKey
	configured bool
	identity   *auth.Keys
}

type apiKey struct {
	name string
	hash [sha256.Size]byte
}

var errUnauthenticated = errors.New("authentication required")

// newAuthenticator reads the keys. Without any, protected routes fail
// closed: every request to them answers 401.
func newAuthenticator(cfg authConfig) (*authenticator, error) {
	a := &authenticator{identity: cfg.Identity}
	if cfg.JWTKey != "" {
		// A token from another issuer, or for another audience, signed
		// with a shared key is someone else's: both are checked unless
		// msx.yaml says in so many words that any will do.
		if cfg.JWTIssuer == "" && !cfg.JWTAnyIssuer {
			return nil, errors.New("a JWT key is set but no issuer: set gateway.jwt.issuer in msx.yaml (or gateway.jwt.any_issuer: true to accept any)")
		}
		if cfg.JWTAudience == "" && !cfg.JWTAnyAudience {
			return nil, errors.New("a JWT key is set but no audience: set gateway.jwt.audience in msx.yaml (or gateway.jwt.any_audience: true to accept any)")
		}
		algs := cfg.JWTAlgorithms
		key, err := parseKey(cfg.JWTKey)
		if err != nil {
			return nil, err
		}
		if len(algs) == 0 {
			switch key.(type) {
			case []byte:
				algs = []string{"HS256"}
			default:
				algs = []string{"RS256", "ES256", "EdDSA"}
			}
		}
		for _, alg := range algs {
			if strings.EqualFold(alg, "none") {
				return nil, errors.New("JWT_ALGORITHMS: \"none\" is never accepted")
			}
		}
		opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithExpirationRequired(), jwt.WithLeeway(0)}
		if cfg.JWTIssuer != "" {
			opts = append(opts, jwt.WithIssuer(cfg.JWTIssuer))
		}
		if cfg.JWTAudience != "" {
			opts = append(opts, jwt.WithAudience(cfg.JWTAudience))
		}
		a.jwtKey, a.jwtParser, a.configured = key, jwt.NewParser(opts...), true
	}
	for i, line := range strings.Split(cfg.APIKeys, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, key, ok := strings.Cut(line, ":")
		if !ok || name == "" || len(key) < 16 {
			return nil, fmt.Errorf("API keys line %d: want NAME:KEY with a key of at least 16 characters", i+1)
		}
		a.apiKeys = append(a.apiKeys, apiKey{name: name, hash: sha256.Sum256([]byte(key))})
		a.configured = true
	}
	return a, nil
}

// parseKey reads a PEM public key, or else takes the bytes as an HMAC secret.
func parseKey(s string) (any, error) {
	if !strings.Contains(s, "-----BEGIN") {
		if len(s) < 32 {
			return nil, errors.New("JWT key: an HMAC secret must be at least 32 bytes")
		}
		return []byte(s), nil
	}
	for _, parse := range []func([]byte) (any, error){
		func(b []byte) (any, error) { return jwt.ParseRSAPublicKeyFromPEM(b) },
		func(b []byte) (any, error) { return jwt.ParseECPublicKeyFromPEM(b) },
		func(b []byte) (any, error) { return jwt.ParseEdPublicKeyFromPEM(b) },
	} {
		if k, err := parse([]byte(s)); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("JWT key: not a PEM RSA, EC or Ed25519 public key")
}

// authenticate returns the subject of the request's credentials: a bearer
// JWT, or an API key in X-Api-Key.
func (a *authenticator) authenticate(r *http.Request) (string, error) {
	if a == nil || !a.configured {
		return "", errUnauthenticated
	}
	if key := r.Header.Get("X-Api-Key"); key != "" && len(a.apiKeys) > 0 {
		h := sha256.Sum256([]byte(key))
		name := ""
		// Compare with every key, in constant time, so that timing says
		// nothing about how close a guess was or which key matched.
		for _, k := range a.apiKeys {
			if subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1 {
				name = k.name
			}
		}
		if name != "" {
			return "apikey:" + name, nil
		}
		return "", errUnauthenticated
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || a.jwtParser == nil {
		return "", errUnauthenticated
	}
	var claims jwt.RegisteredClaims
	if _, err := a.jwtParser.ParseWithClaims(strings.TrimSpace(tok), &claims, func(*jwt.Token) (any, error) {
		return a.jwtKey, nil
	}); err != nil {
		return "", errUnauthenticated
	}
	if claims.Subject == "" {
		return "", errUnauthenticated
	}
	return claims.Subject, nil
}

// readSecret returns the value of the environment variable name, or else
// the contents of the file its _FILE variant names, or else of the default
// file under dir, or "".
func readSecret(name, dir, file string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	path := os.Getenv(name + "_FILE")
	if path == "" && dir != "" {
		path = dir + "/" + file
		if _, err := os.Stat(path); err != nil {
			return "", nil
		}
	}
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}
