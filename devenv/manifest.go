// Package devenv reads the project manifest (msx.yaml) and turns it into a
// plan of the local environment. It does no I/O beyond reading the manifest
// file, so the plan is testable without Docker.
package devenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"gopkg.in/yaml.v3"

	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/names"
)

// FileName is the manifest's name at the root of a workspace.
const FileName = "msx.yaml"

// Database kinds a service may own.
const (
	DBPostgres = "postgres"
	DBSQLite   = "sqlite"
	DBNone     = "none"
)

// DBKinds lists the accepted values of a service's db, in the order help
// texts show them.
var DBKinds = []string{DBPostgres, DBSQLite, DBNone}

// API kinds a service may serve: REST (the default) or GraphQL.
const (
	APIREST    = "rest"
	APIGraphQL = "graphql"
)

// APIKinds lists the accepted values of a service's api, in the order help
// texts show them.
var APIKinds = []string{APIREST, APIGraphQL}

// DefaultGatewayPort is where the gateway listens on the host.
const DefaultGatewayPort = 8080

// DefaultUpstreamTimeout is the gateway's upstream timeout when msx.yaml
// sets none: shorter than the gateway's own 30s, because under msx a slow
// answer is a hung or paused service far more often than a slow query,
// and each timeout is one of the 5 in a row that open its breaker.
const DefaultUpstreamTimeout = "10s"

// FirstServicePort is the port the first service listens on; later ones
// take the next free port after the highest in use.
const FirstServicePort = 8081

// Manifest is msx.yaml: the single source of truth of a workspace.
type Manifest struct {
	// Project names the project: its containers, networks and volumes are
	// named and labelled after it.
	Project string `yaml:"project"`
	// Module is the Go module path of the workspace (its go.mod).
	Module string `yaml:"module"`
	// Gateway configures the API gateway.
	Gateway Gateway `yaml:"gateway"`
	// Images sets the image of an infrastructure kind (images.postgres);
	// unset kinds run their default, the official image.
	Images map[string]string `yaml:"images,omitempty"`
	// Traces configures the trace collector.
	Traces Traces `yaml:"traces,omitempty"`
	// Events bounds how long the broker and the inboxes keep events.
	Events EventRetention `yaml:"events,omitempty"`
	// Services are the workspace's services, by name.
	Services map[string]Service `yaml:"services"`

	// Dir is the workspace root: the folder that holds msx.yaml.
	Dir string `yaml:"-"`
}

// Gateway configures the generated API gateway.
type Gateway struct {
	// Port is where the gateway listens on the host (127.0.0.1 only).
	Port int `yaml:"port"`
	// CORS lists the origins browsers may call the API from ("*": any).
	CORS []string `yaml:"cors,omitempty"`
	// AllowedHosts are the Host names the gateway answers; empty means the
	// localhost names, against DNS rebinding.
	AllowedHosts []string `yaml:"allowed_hosts,omitempty"`
	// RateLimit is requests per second per client (its verified identity
	// on a protected route, else its address); 0 is no limit. RateBurst is
	// the burst allowed above it.
	RateLimit float64 `yaml:"rate_limit,omitempty"`
	RateBurst int     `yaml:"rate_burst,omitempty"`
	// TrustedProxies are CIDR ranges of proxies whose X-Forwarded-For the
	// rate limit believes.
	TrustedProxies []string `yaml:"trusted_proxies,omitempty"`
	// UpstreamTimeout bounds each proxied request, such as "5s"; default
	// 10s, so that a hung service trips its breaker within a minute of one
	// person's requests (5 timeouts in a row).
	UpstreamTimeout string `yaml:"upstream_timeout,omitempty"`
	// JWT is how bearer tokens are checked on protected routes; the key is
	// .msx/secrets/gateway-jwt.pem or gateway-jwt.secret.
	JWT JWT `yaml:"jwt,omitempty"`
}

// JWT tunes the gateway's token checks: exp, nbf, iss and aud are always
// checked; with a JWT key, msx up refuses to start without an issuer and an
// audience unless any_issuer or any_audience says any will do.
type JWT struct {
	// Algorithms allowed, such as [RS256] or [HS256]; by default HS256 for
	// an HMAC secret, RS256, ES256 and EdDSA for a public key. "none" is
	// never allowed.
	Algorithms []string `yaml:"algorithms,omitempty"`
	// Issuer every token's "iss" must be; required with a JWT key, unless
	// any_issuer says otherwise.
	Issuer string `yaml:"issuer,omitempty"`
	// Audience every token's "aud" must include; required with a JWT key,
	// unless any_audience says otherwise.
	Audience string `yaml:"audience,omitempty"`
	// AnyIssuer accepts tokens of any issuer: only for a key that signs
	// for this gateway alone.
	AnyIssuer bool `yaml:"any_issuer,omitempty"`
	// AnyAudience accepts tokens for any audience: only for a key that
	// signs for this gateway alone.
	AnyAudience bool `yaml:"any_audience,omitempty"`
}

// Service is one service of the workspace.
type Service struct {
	// Port is the service's port inside the project network, unique in
	// the workspace.
	Port int `yaml:"port"`
	// DB is the service's database: postgres, sqlite or none.
	DB string `yaml:"db"`
	// API is how the service is called: rest (also when empty) or graphql,
	// a schema-first GraphQL endpoint at /graphql.
	API string `yaml:"api,omitempty"`
	// DependsOn lists the services this one calls; they start first.
	DependsOn []string `yaml:"depends_on,omitempty"`
	// Route is the path prefix the gateway sends to this service, with the
	// prefix stripped.
	Route string `yaml:"route"`
	// Protected routes need authentication at the gateway, and the service
	// refuses calls without an identity signed by it (see
	// docs/how-it-works.md); not together with expose.
	Protected bool `yaml:"protected,omitempty"`
	// ForwardAuthorization passes the client's Authorization header on to
	// the service, for a service that checks tokens itself. Off by default:
	// the gateway keeps credentials, so no service can replay a user's.
	ForwardAuthorization bool `yaml:"forward_authorization,omitempty"`
	// Subscribes lists the event subjects the service handles
	// (orders.item.created): SOURCE.EVENT, SOURCE a service with a
	// database, which publishes its sample resource's events.
	Subscribes []string `yaml:"subscribes,omitempty"`
	// Events is set by Validate: the service publishes or subscribes, so
	// it needs the broker.
	Events bool `yaml:"-"`
	// Expose publishes the service's own port on 127.0.0.1, beside the
	// gateway. Off by default: the gateway, with its auth, is the way in.
	Expose bool `yaml:"expose,omitempty"`
	// Limits bounds the service's container.
	Limits Limits `yaml:"limits,omitempty"`
	// Replicas is how many containers of the service msx up runs behind
	// the gateway (default 1, at most 8), and what the exports
	// ask their engine for.
	Replicas int `yaml:"replicas,omitempty"`
}

// MaxReplicas bounds replicas: enough to see what two or three copies of a
// program do to each other, not a load test on a laptop.
const MaxReplicas = 8

// ReplicaCount is the number of containers the service runs: Replicas, or 1.
func (s Service) ReplicaCount() int { return max(s.Replicas, 1) }

// ReplicaName is the instance name of a service's replica i (from 1): the
// service's name for the first, NAME-i for the others, as Compose names
// its replicas. It is the container's name in the project, its host name
// and a network alias of its own beside the service's name.
func ReplicaName(service string, i int) string {
	if i <= 1 {
		return service
	}
	return service + "-" + strconv.Itoa(i)
}

// ReplicaOf returns the service whose replica the instance name is (the
// service itself for its first), or "" when it is none of the manifest's.
func (m *Manifest) ReplicaOf(instance string) string {
	if _, ok := m.Services[instance]; ok {
		return instance
	}
	i := strings.LastIndexByte(instance, '-')
	if i < 0 {
		return ""
	}
	svc := instance[:i]
	k, err := strconv.Atoi(instance[i+1:])
	if s, ok := m.Services[svc]; ok && err == nil && k >= 2 && k <= s.ReplicaCount() && ReplicaName(svc, k) == instance {
		return svc
	}
	return ""
}

// ReplicaNames returns the instance names of every replica of a service.
func (m *Manifest) ReplicaNames(service string) []string {
	n := m.Services[service].ReplicaCount()
	out := make([]string, n)
	for i := range n {
		out[i] = ReplicaName(service, i+1)
	}
	return out
}

// Limits bounds a container's resources.
type Limits struct {
	// MemoryMB is the container's memory limit in MiB (default 512).
	MemoryMB int `yaml:"memory_mb,omitempty"`
	// Pids is the most processes and threads the container may run (default 256).
	Pids int `yaml:"pids,omitempty"`
}

// Route returns the gateway route of a service name: /api/NAME/.
func Route(name string) string { return "/api/" + name + "/" }

// ServiceNames returns the names of the services, sorted.
func (m *Manifest) ServiceNames() []string {
	out := make([]string, 0, len(m.Services))
	for n := range m.Services {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NextPort returns the first port at or above FirstServicePort that no
// service nor the gateway uses.
func (m *Manifest) NextPort() int {
	used := map[int]bool{m.Gateway.Port: true}
	for _, s := range m.Services {
		used[s.Port] = true
	}
	p := FirstServicePort
	for used[p] {
		p++
	}
	return p
}

// Find walks up from dir to the first folder that holds msx.yaml and returns
// the manifest's path.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		p := filepath.Join(d, FileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", msxerr.New("run msx init DIR to create a workspace, or pass -C DIR to point at one",
				"no %s found in %s or any parent folder", FileName, abs)
		}
	}
}

// realDir returns the absolute path of dir with symbolic links resolved.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// Load reads and validates the manifest at path.
func Load(path string) (*Manifest, error) {
	m, _, err := LoadData(path)
	return m, err
}

// LoadData is Load that also returns the bytes it read, for a caller that
// edits the file: it then edits exactly what was validated.
func LoadData(path string) (*Manifest, []byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, msxerr.New("check the path, or run msx init DIR to create a workspace", "%s does not exist", path)
	}
	if err != nil {
		return nil, nil, msxerr.Wrap(err, "check the file's permissions", "cannot read %s", path)
	}
	m, err := fromData(path, data)
	return m, data, err
}

func fromData(path string, data []byte) (*Manifest, error) {
	m, err := Parse(data)
	if err != nil {
		return nil, msxerr.Wrap(err, "fix the file and try again", "%s is not valid: %s", path, oneLine(err))
	}
	// The workspace's identity (labels, volume names) is its real path, so
	// that opening it through a symbolic link (or /tmp on macOS, a link to
	// /private/tmp) finds the same project.
	dir, err := realDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	m.Dir = dir
	return m, nil
}

// Parse decodes and validates manifest bytes. Unknown fields are errors, so
// that a typo is not silently ignored.
func Parse(data []byte) (*Manifest, error) {
	if err := checkKeys(data); err != nil {
		return nil, err
	}
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty")
		}
		return nil, err
	}
	if err := m.Validate(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			fe.line = lineOf(data, fe.path)
		}
		return nil, err
	}
	return &m, nil
}

// fieldError is a validation error about one value of msx.yaml. Validate
// knows only the Manifest; Parse, which has the file, adds the value's
// line, so that "db: sqllite" is found at once among many services.
type fieldError struct {
	path []string // the keys from the top, as in services, orders, db
	msg  string   // what is wrong, named in msx.yaml's words
	hint string   // after the line, such as "; use one of ..."
	line int      // of the value, 0 when unknown
}

func (e *fieldError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s (line %d)%s", e.msg, e.line, e.hint)
	}
	return e.msg + e.hint
}

// lineOf returns the line of the value at path in the YAML document, or 0.
func lineOf(data []byte, path []string) int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	n := doc.Content[0]
	for _, key := range path {
		var next *yaml.Node
		for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return 0
		}
		n = next
	}
	return n.Line
}

// Validate checks names, ports, database kinds and dependencies, including
// cycles.
func (m *Manifest) Validate() error {
	if err := names.Validate("project", m.Project); err != nil {
		return err
	}
	if m.Module == "" {
		return errors.New("module is empty")
	}
	// The module path goes into every generated import: it must be one.
	if err := module.CheckImportPath(m.Module); err != nil {
		return fmt.Errorf("module %q is not a valid Go module path", m.Module)
	}
	if m.Gateway.Port == 0 {
		m.Gateway.Port = DefaultGatewayPort
	}
	if err := checkPort("gateway.port", m.Gateway.Port); err != nil {
		return err
	}
	if err := m.Gateway.validate(); err != nil {
		return err
	}
	if err := m.validateImages(); err != nil {
		return err
	}
	if err := m.Traces.validate(); err != nil {
		return err
	}
	if err := m.Events.validate(); err != nil {
		return err
	}
	ports := map[int]string{m.Gateway.Port: "the gateway"}
	routes := map[string]string{}
	for _, name := range m.ServiceNames() {
		s := m.Services[name]
		if err := names.Validate("service", name); err != nil {
			return err
		}
		if err := s.Limits.validate(name); err != nil {
			return err
		}
		if err := m.validateReplicas(name, s); err != nil {
			return err
		}
		if s.Protected && s.Expose {
			return fmt.Errorf("service %s is protected and exposed: its published port would skip the gateway's authentication; remove expose or protected", name)
		}
		if err := checkPort("services."+name+".port", s.Port); err != nil {
			return &fieldError{path: []string{"services", name, "port"}, msg: err.Error()}
		}
		if s.Port == AdminPort {
			return fmt.Errorf("service %s uses port %d, which is the admin listener's in every container; pick another", name, s.Port)
		}
		if other, ok := ports[s.Port]; ok {
			return &fieldError{path: []string{"services", name, "port"},
				msg: fmt.Sprintf("service %s uses port %d, already used by %s", name, s.Port, other)}
		}
		ports[s.Port] = "service " + name
		if !slices.Contains(DBKinds, s.DB) {
			hint := "; use one of " + strings.Join(DBKinds, ", ")
			if near := nearest(s.DB, DBKinds); near != "" {
				hint = fmt.Sprintf("; did you mean %s? (one of %s)", near, strings.Join(DBKinds, ", "))
			}
			return &fieldError{path: []string{"services", name, "db"}, msg: fmt.Sprintf("service %s has db %q", name, s.DB), hint: hint}
		}
		if s.API != "" && !slices.Contains(APIKinds, s.API) {
			return &fieldError{path: []string{"services", name, "api"}, msg: fmt.Sprintf("service %s has api %q", name, s.API),
				hint: "; use one of " + strings.Join(APIKinds, ", ")}
		}
		for _, d := range s.DependsOn {
			at := []string{"services", name, "depends_on"}
			if d == name {
				return &fieldError{path: at, msg: fmt.Sprintf("service %s depends on itself", name)}
			}
			if _, ok := m.Services[d]; !ok {
				hint := ""
				if near := nearest(d, m.ServiceNames()); near != "" {
					hint = fmt.Sprintf("; did you mean %s?", near)
				}
				return &fieldError{path: at, msg: fmt.Sprintf("service %s depends on %s, which is not a service of this workspace", name, d), hint: hint}
			}
		}
		if s.Route == "" {
			s.Route = Route(name)
			m.Services[name] = s
		}
		if err := checkRoute(s.Route); err != nil {
			return &fieldError{path: []string{"services", name, "route"}, msg: fmt.Sprintf("service %s: %v", name, err)}
		}
		if other, ok := routes[s.Route]; ok {
			return fmt.Errorf("services %s and %s both have route %s", other, name, s.Route)
		}
		routes[s.Route] = name
		if err := m.checkSubscribes(name, s); err != nil {
			return err
		}
	}
	for _, name := range m.ServiceNames() {
		s := m.Services[name]
		s.Events = m.UsesEvents(name)
		m.Services[name] = s
	}
	_, err := m.StartOrder()
	return err
}

// checkRoute accepts a clean absolute path prefix that ends in "/", other
// than "/" itself: the gateway matches, authorises and forwards clean paths
// only, so a route like /a/../b/ could never match what it seems to.
func checkRoute(r string) error {
	if r == "/" || !strings.HasPrefix(r, "/") || !strings.HasSuffix(r, "/") || path.Clean(r)+"/" != r ||
		strings.ContainsAny(r, " ?#%\\") {
		return fmt.Errorf("route %q must be a clean path such as /api/orders/, starting and ending with /", r)
	}
	return nil
}

// RouteOwner returns the service whose gateway route is route, or "".
func (m *Manifest) RouteOwner(route string) string {
	for _, n := range m.ServiceNames() {
		if m.Services[n].Route == route {
			return n
		}
	}
	return ""
}

func checkPort(field string, p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("%s is %d; use a port between 1 and 65535", field, p)
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// validateImages accepts images of known kinds only, each a plausible
// image reference: what the engine is given must not be an option or a
// line of something else.
func (m *Manifest) validateImages() error {
	for _, k := range slices.Sorted(maps.Keys(m.Images)) {
		if kind := LookupKind(k); kind == nil || kind.Build != "" {
			return fmt.Errorf("images.%s is not a kind msx runs; known kinds: %s", k, strings.Join(KindNames(), ", "))
		}
		v := m.Images[k]
		if v == "" {
			delete(m.Images, k)
			continue
		}
		if strings.HasPrefix(v, "-") || strings.ContainsAny(v, " \t\n\"'\\") {
			return fmt.Errorf("images.%s is %q, not an image reference such as postgres:16", k, v)
		}
	}
	return nil
}

// validate checks the gateway's edge settings, which reach the gateway as
// comma-separated environment variables.
func (g *Gateway) validate() error {
	if g.UpstreamTimeout != "" {
		if d, err := time.ParseDuration(g.UpstreamTimeout); err != nil || d <= 0 {
			return fmt.Errorf("gateway.upstream_timeout: %q is not a duration such as 5s", g.UpstreamTimeout)
		}
	}
	if g.RateLimit < 0 || g.RateBurst < 0 {
		return errors.New("gateway.rate_limit and gateway.rate_burst must not be negative")
	}
	for _, p := range g.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			return fmt.Errorf("gateway.trusted_proxies: %q is not a CIDR range such as 10.0.0.0/8", p)
		}
	}
	for _, a := range g.JWT.Algorithms {
		switch a {
		case "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		default:
			return fmt.Errorf("gateway.jwt.algorithms: %q is not one of HS256, RS256, PS256, ES256, EdDSA (or their 384 and 512 variants)", a)
		}
	}
	for field, v := range map[string]string{"gateway.jwt.issuer": g.JWT.Issuer, "gateway.jwt.audience": g.JWT.Audience} {
		if strings.ContainsAny(v, "\n\r") {
			return fmt.Errorf("%s must be one line", field)
		}
	}
	for field, list := range map[string][]string{"gateway.cors": g.CORS, "gateway.allowed_hosts": g.AllowedHosts} {
		for _, v := range list {
			if v == "" || strings.ContainsAny(v, ", \t\n") {
				return fmt.Errorf("%s: %q must be one origin or host name, without commas or spaces", field, v)
			}
		}
	}
	return nil
}

// validateReplicas checks a service's replicas: a count msx can run, a
// database several processes can share, and no other service whose name
// is one of its replicas' names.
func (m *Manifest) validateReplicas(name string, s Service) error {
	if s.Replicas < 0 || s.Replicas > MaxReplicas {
		return fmt.Errorf("services.%s.replicas must be between 1 and %d", name, MaxReplicas)
	}
	if s.Replicas > 1 && s.DB == DBSQLite {
		return fmt.Errorf("service %s has %d replicas and db sqlite, a file only one program should write; use db: postgres to run several replicas", name, s.Replicas)
	}
	for i := 2; i <= s.ReplicaCount(); i++ {
		if _, ok := m.Services[ReplicaName(name, i)]; ok {
			return fmt.Errorf("service %s is also the name of replica %d of %s; rename one, or lower services.%s.replicas", ReplicaName(name, i), i, name, name)
		}
	}
	return nil
}

// validate checks a service's container limits.
func (l Limits) validate(service string) error {
	if l.MemoryMB < 0 || (l.MemoryMB > 0 && l.MemoryMB < 16) {
		return fmt.Errorf("services.%s.limits.memory_mb must be at least 16", service)
	}
	if l.Pids < 0 || (l.Pids > 0 && l.Pids < 8) {
		return fmt.Errorf("services.%s.limits.pids must be at least 8", service)
	}
	return nil
}

// GraphQL reports whether the service serves GraphQL rather than REST.
func (s Service) GraphQL() bool { return s.API == APIGraphQL }
