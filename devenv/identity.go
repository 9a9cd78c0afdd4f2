package devenv

import (
	"fmt"
	"slices"
	"strings"
)

// Identity keys: every program msx compiles for the project network (the
// gateway and each service) has an Ed25519 key pair of its own, which msx
// generates into .msx/secrets as IdentityKey(NAME) (the private key) and
// IdentityKey(NAME)+".pub" (its public key). The gateway signs with its
// key who the caller of a protected route is; a service signs the calls it
// makes, passing on the user's token it received. Each program gets its own
// private key as SecretsDir/identity.key, and the public keys of those
// whose tokens it accepts, never another's private key: a container without
// a key mints nothing, and a compromised service can act only as itself.
// See docs/how-it-works.md, "Trust inside the project network".

// IdentityKey is the secret name of a program's identity private key. The
// suffix is state.KeySuffix: the store generates a key pair for such a
// name, where it generates a random password for others.
func IdentityKey(program string) string { return "identity-" + program + ".ed25519" }

// identitySecrets are the identity key files of the program name (a
// service, or GatewayName): its own private key, and the public keys of the
// gateway and of every service that calls it, directly or through others,
// by the manifest's depends_on (the whole manifest, so that the selection
// of an up changes nothing).
func identitySecrets(m *Manifest, name string) []SecretRef {
	refs := []SecretRef{{Name: IdentityKey(name), File: "identity.key"}}
	if name == GatewayName {
		return refs
	}
	callers := []string{GatewayName}
	for _, c := range m.callersOf(name) {
		callers = append(callers, c)
	}
	for _, c := range callers {
		refs = append(refs, SecretRef{Name: IdentityKey(c) + ".pub", File: "identity-" + c + ".pub"})
	}
	return refs
}

// callersOf returns the services that reach name through depends_on, in
// name order.
func (m *Manifest) callersOf(name string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(callee string) {
		for _, s := range m.ServiceNames() {
			if !seen[s] && slices.Contains(m.Services[s].DependsOn, callee) {
				seen[s] = true
				visit(s)
			}
		}
	}
	visit(name)
	var out []string
	for _, s := range m.ServiceNames() {
		if seen[s] && s != name {
			out = append(out, s)
		}
	}
	return out
}

// checkJWT refuses a JWT key without an issuer and an audience to check,
// unless msx.yaml says any will do, and passes that on to the gateway.
func checkJWT(j JWT, keys []string, env map[string]string) error {
	if !slices.Contains(keys, "gateway-jwt.pem") && !slices.Contains(keys, "gateway-jwt.secret") {
		return nil
	}
	for _, f := range []struct {
		field, value, any string
		anyOK             bool
	}{
		{"issuer", j.Issuer, "any_issuer", j.AnyIssuer},
		{"audience", j.Audience, "any_audience", j.AnyAudience},
	} {
		switch {
		case f.anyOK:
			env["JWT_ANY_"+strings.ToUpper(f.field)] = "true"
		case f.value == "":
			return &PlanError{Msg: fmt.Sprintf("the gateway has a JWT key but msx.yaml names no %s to check; set gateway.jwt.%s (or gateway.jwt.%s: true to accept tokens of any %s)", f.field, f.field, f.any, f.field)}
		}
	}
	return nil
}
