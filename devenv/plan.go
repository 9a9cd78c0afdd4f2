package devenv

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/msx-dev/msx/names"
)

// Labels msx puts on every container, network and volume it creates. The
// runner finds resources only through them.
const (
	LabelProject    = "dev.msx.project"
	LabelService    = "dev.msx.service"
	LabelConfigHash = "dev.msx.config-hash"
	LabelVersion    = "dev.msx.version"
	// LabelWorkspace is the absolute path of the workspace: two folders
	// with the same project name never touch each other's resources.
	LabelWorkspace = "dev.msx.workspace"
	// LabelRole is RoleService, RoleGateway, RoleDatabase or RoleCollector.
	LabelRole = "dev.msx.role"
)

// Roles of a planned container.
const (
	RoleService  = "service"
	RoleGateway  = "gateway"
	RoleDatabase = "database"
)

// GatewayName is the gateway's service name: its container is PROJECT-gateway
// and its network alias is gateway. names.Validate reserves it.
const GatewayName = "gateway"

// GatewayPkg is the gateway's Go package in a workspace.
const GatewayPkg = "./gateway"

// ServicePkg returns the Go package of a service in a workspace.
func ServicePkg(name string) string { return "./services/" + name }

// LoopbackIP is where every published port binds: nothing msx runs is
// reachable from outside the machine.
const LoopbackIP = "127.0.0.1"

// DataDir is where a SQLite service's volume is mounted in its container.
const DataDir = "/data"

// ContainerUser is the user the generated images run as.
const ContainerUser = "65532"

// postgresPort is where a database container listens on its private network.
const postgresPort = 5432

// PlanOptions is what the plan needs beyond the manifest: facts the runner
// found out (image references, secrets) and the user's choices.
type PlanOptions struct {
	// Images maps a service name, GatewayName or CollectorName to the
	// image to run. Every planned service, the gateway and the collector
	// must have one.
	Images map[string]string
	// Services limits the plan to these services and what they depend on,
	// plus the gateway; empty means all.
	Services []string
	// PostgresPasswords maps a postgres service to its database password.
	// The runner generates and stores them; the plan never invents one.
	PostgresPasswords map[string]string
	// MsxVersion labels every resource.
	MsxVersion string
	// LogLevel is passed to every program as LOG_LEVEL; "info" if empty.
	LogLevel string
}

// Plan is the local environment of one workspace: what must exist, and in
// which order containers start.
type Plan struct {
	Project string
	Dir     string // absolute workspace path
	// Network is the project network every service and the gateway join.
	Network    string
	Networks   []Network
	Volumes    []Volume
	Containers []Container // in start order
	// GatewayPort is the gateway's fixed port on 127.0.0.1.
	GatewayPort int
}

// Network is a Docker network to ensure.
type Network struct {
	Name     string
	Internal bool // no route outside: the private network of a database
	Labels   map[string]string
}

// Volume is a named volume to ensure.
type Volume struct {
	Name   string
	Labels map[string]string
}

// Container is one planned container. Everything that defines it is hashed
// into Labels[LabelConfigHash]: a container is recreated only when it
// changes.
type Container struct {
	Name    string // PROJECT-SERVICE
	Service string // service name, GatewayName, or SERVICE-db
	Role    string
	Image   string
	User    string   `json:",omitempty"`
	Cmd     []string `json:",omitempty"`
	Env     []string // KEY=VALUE, sorted
	// Networks the container joins, the first at creation.
	Networks []Attachment
	Mounts   []Mount `json:",omitempty"`
	// Port is the port the program listens on in the container; published
	// on 127.0.0.1:HostPort, an ephemeral port when HostPort is 0.
	Port     int
	HostPort int
	// Ready is how to tell the container is ready.
	Ready Probe
	// DependsOn names the containers (by Service) that must be ready before
	// this one starts.
	DependsOn []string `json:",omitempty"`
	Labels    map[string]string
}

// Attachment is a container's membership of a network.
type Attachment struct {
	Network string
	Aliases []string
}

// Mount is a named volume mounted in a container.
type Mount struct {
	Volume string
	Target string
}

// Probe says how readiness is checked.
type Probe struct {
	// HTTPPath is fetched on the published port; 200 means ready.
	HTTPPath string `json:",omitempty"`
	// Healthcheck is a command the engine runs in the container; the
	// container's health status "healthy" means ready.
	Healthcheck []string `json:",omitempty"`
}

// Hash returns the container's config hash.
func (c *Container) Hash() string { return c.Labels[LabelConfigHash] }

// Container returns the planned container of a service, or nil.
func (p *Plan) Container(service string) *Container {
	for i := range p.Containers {
		if p.Containers[i].Service == service {
			return &p.Containers[i]
		}
	}
	return nil
}

// NetworkName is the project network's name.
func NetworkName(project string) string { return project + "_default" }

// ContainerName is the name of a service's container.
func ContainerName(project, service string) string { return project + "-" + service }

// VolumeName is the name of a service's data volume. It carries a short
// hash of the workspace path, so that two folders with the same project
// name never share data.
func VolumeName(project, service, dir string) string {
	return project + "_" + service + "-data_" + shortHash(dir)
}

// DBNetworkName is the private network of a service's database.
func DBNetworkName(project, service string) string { return project + "_" + service + "-db" }

// PlanError is a plan that cannot be made from the manifest and options.
type PlanError struct{ Msg string }

func (e *PlanError) Error() string { return e.Msg }

// MakePlan turns a validated manifest into the plan of its local
// environment. It does no I/O.
func MakePlan(m *Manifest, opts PlanOptions) (*Plan, error) {
	order, err := m.StartOrder()
	if err != nil {
		return nil, err
	}
	selected, err := m.Closure(opts.Services)
	if err != nil {
		return nil, err
	}
	logLevel := opts.LogLevel
	if logLevel == "" {
		logLevel = "info"
	}
	base := map[string]string{
		LabelProject:   m.Project,
		LabelWorkspace: m.Dir,
		LabelVersion:   opts.MsxVersion,
	}
	p := &Plan{
		Project:     m.Project,
		Dir:         m.Dir,
		Network:     NetworkName(m.Project),
		GatewayPort: m.Gateway.Port,
	}
	p.Networks = append(p.Networks, Network{Name: p.Network, Labels: withLabels(base, nil)})

	var dbs, services []Container
	for _, name := range order {
		if !selected[name] {
			continue
		}
		s := m.Services[name]
		image := opts.Images[name]
		if image == "" {
			return nil, &PlanError{Msg: fmt.Sprintf("no image for service %s", name)}
		}
		env := map[string]string{
			"MSX_SERVICE":       name,
			"PORT":              strconv.Itoa(s.Port),
			"LISTEN_ADDR":       "0.0.0.0:" + strconv.Itoa(s.Port),
			"OTEL_SERVICE_NAME": name,
			"LOG_LEVEL":         logLevel,
		}
		telemetryEnv(env)
		deps := slices.Clone(s.DependsOn)
		slices.Sort(deps)
		for _, d := range deps {
			env[names.EnvName(d)+"_URL"] = fmt.Sprintf("http://%s:%d", d, m.Services[d].Port)
		}
		c := Container{
			Name:     ContainerName(m.Project, name),
			Service:  name,
			Role:     RoleService,
			Image:    image,
			User:     ContainerUser,
			Networks: []Attachment{{Network: p.Network, Aliases: []string{name}}},
			Port:     s.Port,
			Ready:    Probe{HTTPPath: "/readyz"},
			// The collector first, so that no span of a start is lost.
			DependsOn: append([]string{CollectorName}, deps...),
		}
		switch s.DB {
		case DBSQLite:
			vol := VolumeName(m.Project, name, m.Dir)
			p.Volumes = append(p.Volumes, Volume{Name: vol, Labels: withLabels(base, map[string]string{LabelService: name})})
			c.Mounts = []Mount{{Volume: vol, Target: DataDir}}
			env["SQLITE_PATH"] = DataDir + "/" + name + ".db"
		case DBPostgres:
			db, netw, vol, url, err := postgres(m, name, opts, base)
			if err != nil {
				return nil, err
			}
			p.Networks = append(p.Networks, netw)
			p.Volumes = append(p.Volumes, vol)
			dbs = append(dbs, db)
			c.Networks = append(c.Networks, Attachment{Network: netw.Name, Aliases: []string{name}})
			c.DependsOn = append([]string{db.Service}, c.DependsOn...)
			env["DATABASE_URL"] = url
		}
		c.Env = envList(env)
		c.Labels = withLabels(base, map[string]string{LabelService: name, LabelRole: RoleService})
		services = append(services, c)
	}

	coll, collVol, err := collector(m, opts, p.Network, base)
	if err != nil {
		return nil, err
	}
	p.Volumes = append(p.Volumes, collVol)
	gw, err := gateway(m, opts, p.Network, selected, logLevel, base)
	if err != nil {
		return nil, err
	}
	p.Containers = append(append(append(append(p.Containers, coll), dbs...), services...), gw)
	for i := range p.Containers {
		p.Containers[i].Labels[LabelConfigHash] = configHash(&p.Containers[i])
	}
	return p, nil
}

// postgres plans the database of service name: its container on a private
// network shared only with the service, and its volume.
func postgres(m *Manifest, name string, opts PlanOptions, base map[string]string) (Container, Network, Volume, string, error) {
	pw := opts.PostgresPasswords[name]
	if pw == "" {
		return Container{}, Network{}, Volume{}, "", &PlanError{Msg: fmt.Sprintf("no database password for service %s", name)}
	}
	dbService := name + "-db"
	netw := Network{
		Name:     DBNetworkName(m.Project, name),
		Internal: true,
		Labels:   withLabels(base, map[string]string{LabelService: name}),
	}
	vol := Volume{
		Name:   VolumeName(m.Project, dbService, m.Dir),
		Labels: withLabels(base, map[string]string{LabelService: dbService}),
	}
	user := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	db := Container{
		Name:    ContainerName(m.Project, dbService),
		Service: dbService,
		Role:    RoleDatabase,
		Image:   m.PostgresImage(),
		Env: envList(map[string]string{
			"POSTGRES_USER":     user,
			"POSTGRES_PASSWORD": pw,
			"POSTGRES_DB":       user,
		}),
		Networks: []Attachment{{Network: netw.Name, Aliases: []string{dbService}}},
		Mounts:   []Mount{{Volume: vol.Name, Target: "/var/lib/postgresql/data"}},
		Port:     postgresPort,
		Ready:    Probe{Healthcheck: []string{"CMD", "pg_isready", "-U", user, "-d", user}},
		Labels:   withLabels(base, map[string]string{LabelService: dbService, LabelRole: RoleDatabase}),
	}
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", user, pw, dbService, postgresPort, user)
	return db, netw, vol, url, nil
}

// route is one entry of the gateway's MSX_ROUTES.
type route struct {
	Name      string `json:"name"`
	Prefix    string `json:"prefix"`
	Upstream  string `json:"upstream"`
	Protected bool   `json:"protected"`
}

// gateway plans the gateway container. It routes every service of the
// manifest, started or not, so that starting a subset does not change it.
func gateway(m *Manifest, opts PlanOptions, network string, selected map[string]bool, logLevel string, base map[string]string) (Container, error) {
	image := opts.Images[GatewayName]
	if image == "" {
		return Container{}, &PlanError{Msg: "no image for the gateway"}
	}
	var routes []route
	var deps []string
	for _, name := range m.ServiceNames() {
		s := m.Services[name]
		prefix := s.Route
		if prefix == "" {
			prefix = Route(name)
		}
		routes = append(routes, route{
			Name:      name,
			Prefix:    prefix,
			Upstream:  fmt.Sprintf("http://%s:%d", name, s.Port),
			Protected: s.Protected,
		})
		if selected[name] {
			deps = append(deps, name)
		}
	}
	if routes == nil {
		routes = []route{}
	}
	rj, err := json.Marshal(routes)
	if err != nil {
		return Container{}, err
	}
	port := strconv.Itoa(m.Gateway.Port)
	env := map[string]string{
		"MSX_SERVICE":       GatewayName,
		"MSX_ROUTES":        string(rj),
		"PORT":              port,
		"LISTEN_ADDR":       "0.0.0.0:" + port,
		"OTEL_SERVICE_NAME": GatewayName,
		"LOG_LEVEL":         logLevel,
	}
	telemetryEnv(env)
	deps = append([]string{CollectorName}, deps...)
	return Container{
		Name:      ContainerName(m.Project, GatewayName),
		Service:   GatewayName,
		Role:      RoleGateway,
		Image:     image,
		User:      ContainerUser,
		Env:       envList(env),
		Networks:  []Attachment{{Network: network, Aliases: []string{GatewayName}}},
		Port:      m.Gateway.Port,
		HostPort:  m.Gateway.Port,
		Ready:     Probe{HTTPPath: "/readyz"},
		DependsOn: deps,
		Labels:    withLabels(base, map[string]string{LabelService: GatewayName, LabelRole: RoleGateway}),
	}, nil
}

// configHash hashes everything that defines a container except the labels
// that do not change what runs (the hash itself and msx's version) and
// DependsOn, which is start order, not the container's configuration: the
// gateway depends on the services an up selects, and a second up with
// another selection must not recreate it.
func configHash(c *Container) string {
	h := *c
	h.DependsOn = nil
	h.Labels = map[string]string{}
	for k, v := range c.Labels {
		if k != LabelConfigHash && k != LabelVersion {
			h.Labels[k] = v
		}
	}
	b, err := json.Marshal(h) // maps marshal with sorted keys
	if err != nil {
		panic(err) // only strings, ints and slices: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func withLabels(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra)+1)
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
