// Package names is the one rule msx applies to every name it turns into a
// folder, a Go identifier, a container or a route: services and projects.
package names

import (
	"fmt"
	"go/token"
	"regexp"
	"strings"

	"github.com/msx-dev/msx/msxerr"
)

// MaxLen is the longest project name accepted: a DNS label, so that a name is
// also a valid Kubernetes namespace.
const MaxLen = 63

// ServiceMaxLen is the longest service name accepted. A service's names grow
// suffixes: its database is NAME-db (a container host name, a network alias
// and a Kubernetes Service, each a DNS label of at most 63 characters), and
// Kubernetes labels the database's StatefulSet revisions NAME-db-HASH, HASH
// up to 10 characters, in a label value of at most 63: 63-11-3 = 49.
const ServiceMaxLen = 49

var valid = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// reserved are names msx uses for itself in a workspace or on the network.
var reserved = map[string]bool{
	"gateway": true, "platform": true, "services": true, "msx": true,
	"internal": true, "vendor": true, "testdata": true, "cmd": true,
	"main": true, "localhost": true, "postgres": true, "sqlite": true,
	"nats": true, "otel": true, "collector": true, "api": true, "all": true,
}

// generated are the endings msx gives names it derives from a service's
// or an instance's, and the start of the names of programs it runs for
// itself: a service named after one would collide with what msx made
// (orders-db is the database of orders, on the network, as a container
// and in the exports).
var generated = []struct{ suffix, prefix, what string }{
	{suffix: "-db", what: "the database of a service (orders-db is orders' database)"},
	{suffix: "-secrets", what: "the containers that install secrets in the exports (orders-db-secrets)"},
	{prefix: "msx-", what: "the programs msx runs for itself (msx-events)"},
}

// predeclared are Go's predeclared identifiers: a service named after one
// would shadow it in generated code.
var predeclared = map[string]bool{
	"any": true, "bool": true, "byte": true, "comparable": true, "complex64": true,
	"complex128": true, "error": true, "float32": true, "float64": true, "int": true,
	"int8": true, "int16": true, "int32": true, "int64": true, "rune": true,
	"string": true, "uint": true, "uint8": true, "uint16": true, "uint32": true,
	"uint64": true, "uintptr": true, "true": true, "false": true, "iota": true,
	"nil": true, "append": true, "cap": true, "clear": true, "close": true,
	"complex": true, "copy": true, "delete": true, "imag": true, "len": true,
	"make": true, "max": true, "min": true, "new": true, "panic": true,
	"print": true, "println": true, "real": true, "recover": true,
}

// Validate checks name against the rule and returns an error that says what
// is wrong and what to type instead. kind is "project" or the kind of
// service name ("service", "dependency").
func Validate(kind, name string) error {
	limit := ServiceMaxLen
	if kind == "project" {
		limit = MaxLen
	}
	hint := fmt.Sprintf("use a lowercase letter followed by lowercase letters, digits or '-', at most %d characters", limit)
	switch {
	case name == "":
		return msxerr.New(hint, "%s name is empty", kind)
	case strings.ContainsAny(name, `/\`) || strings.Contains(name, ".."):
		return msxerr.New(hint, "%s name %q is a path, not a name", kind, name)
	case len(name) > limit:
		return msxerr.New(hint, "%s name %q is %d characters long, more than %d", kind, name, len(name), limit)
	case strings.ToLower(name) != name && valid.MatchString(strings.ToLower(name)):
		return msxerr.New("names are lowercase: try "+quote(strings.ToLower(name)), "%s name %q has uppercase letters", kind, name)
	case !valid.MatchString(name):
		if sug := Suggest(name); sug != "" {
			hint = "try " + quote(sug)
		}
		return msxerr.New(hint, "%s name %q is not valid", kind, name)
	case strings.HasSuffix(name, "-") || strings.Contains(name, "--"):
		return msxerr.New("put '-' only between letters or digits", "%s name %q has a misplaced '-'", kind, name)
	case token.IsKeyword(name):
		return msxerr.New("pick another name, such as "+quote(name+"-svc"), "%s name %q is a Go keyword", kind, name)
	case predeclared[name]:
		return msxerr.New("pick another name, such as "+quote(name+"-svc"), "%s name %q is a predeclared Go identifier", kind, name)
	case reserved[name]:
		return msxerr.New("pick another name, such as "+quote(name+"-svc"), "%s name %q is reserved by msx", kind, name)
	}
	if kind != "project" {
		for _, g := range generated {
			if (g.suffix != "" && strings.HasSuffix(name, g.suffix)) || (g.prefix != "" && strings.HasPrefix(name, g.prefix)) {
				return msxerr.New("pick a name that does not "+startsOrEnds(g.prefix, g.suffix),
					"%s name %q collides with the names msx gives %s", kind, name, g.what)
			}
		}
	}
	return nil
}

func startsOrEnds(prefix, suffix string) string {
	if prefix != "" {
		return "start with " + quote(prefix)
	}
	return "end in " + quote(suffix)
}

func quote(s string) string { return `"` + s + `"` }

// Suggest turns an invalid name into the nearest valid one, or "":
// "My_Shop" gives "my-shop", "2fast" gives "fast".
func Suggest(name string) string {
	s := suggestion(name)
	if s == name || Validate("name", s) != nil {
		return ""
	}
	return s
}

func suggestion(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// GoName turns a valid name into an exported Go identifier: "order-items"
// becomes "OrderItems".
func GoName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// LowerGoName turns a valid name into an unexported Go identifier:
// "order-items" becomes "orderItems".
func LowerGoName(name string) string {
	g := GoName(name)
	if g == "" {
		return g
	}
	return strings.ToLower(g[:1]) + g[1:]
}

// EnvName turns a valid name into an environment variable prefix:
// "order-items" becomes "ORDER_ITEMS".
func EnvName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}
