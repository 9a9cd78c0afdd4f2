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
	// LabelRole is RoleService, RoleGateway, RoleCollector, or the name
	// of an infrastructure kind (RoleDatabase for Postgres).
	LabelRole = "dev.msx.role"
	// LabelOwner is the service that owns a per-service instance of a
	// kind: its database goes with it.
	LabelOwner = "dev.msx.owner"
	// LabelReplicaOf is the service a container is a replica of, on every
	// replica of a service that runs more than one (whose LabelService is
	// then the replica's own instance name, NAME or NAME-i).
	LabelReplicaOf = "dev.msx.replica-of"
	// LabelKind is the infrastructure kind of an instance's container.
	LabelKind = "dev.msx.kind"
	// LabelSecretsHash is a hash of the values of a container's own
	// secrets (the gateway's keys), so that a key changed under
	// .msx/secrets is a change of the container's configuration.
	LabelSecretsHash = "dev.msx.secrets-hash"
)

// Roles of a planned container.
const (
	RoleService  = "service"
	RoleGateway  = "gateway"
	RoleDatabase = "database"
	// RoleInfra is the role of an instance of any other kind.
	RoleInfra = "infra"
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

// SwapDir is where the program's binary lives in a container: the images
// run SwapDir/app, and each service and gateway container has a volume of
// its own there, so that a hot swap can replace the binary even when the
// root file system is read-only.
const SwapDir = "/msx"

// DataDir is where a SQLite service's volume is mounted in its container.
const DataDir = "/data"

// ContainerUser is the user the generated images run as.
const ContainerUser = "65532"

// AdminPort is where every service and the gateway serve their admin
// listener (/debug/breakers, /metrics, the detailed /readyz, /debug/fault)
// inside their container. It is published on 127.0.0.1 for msx only; the
// gateway never routes to it.
const AdminPort = 9901

// Default limits of a service container.
const (
	DefaultMemoryMB = 512
	DefaultPids     = 256
)

// PlanOptions is what the plan needs beyond the manifest: the user's
// choices. The plan needs no build and no secret: images and secrets are
// references that the runner resolves when it applies the plan, so that
// up, a dry run and an export all read the same plan.
type PlanOptions struct {
	// Services limits the plan to these services and what they depend on,
	// plus the gateway; empty means all.
	Services []string
	// MsxVersion labels every resource.
	MsxVersion string
	// LogLevel is passed to every program as LOG_LEVEL; "info" if empty.
	LogLevel string
	// GatewayKeys names the gateway's keys (of GatewayKeys) that the
	// workspace keeps under .msx/secrets: those the gateway gets as files.
	GatewayKeys []string
	// ReplicasByEngine plans for an engine that runs a service's replicas
	// itself (Compose's deploy.replicas, a Deployment's replicas): one
	// container per service with Replicas set, reached by the service's
	// name alone. msx export plans so; msx up plans each replica.
	ReplicasByEngine bool
	// AdminToken gives every program msx builds the project's admin token
	// (AdminTokenSecret) as a file, which its admin listener asks for on
	// faults, the profiler and the program's own admin routes. msx up
	// sets it; an export does not, so exported programs serve none of
	// those.
	AdminToken bool
}

// AdminTokenSecret is the project's admin token, kept under .msx/secrets:
// what msx shows the programs' admin listeners to inject faults, profile
// or read a subscriber's inbox.
const AdminTokenSecret = "admin-token"

// withAdminToken gives a program the admin token as a file, and its
// container's name as a Host its admin listener answers to.
func withAdminToken(c *Container) {
	// Clipped: replicas share their slices' backing arrays.
	c.Secrets = append(slices.Clip(c.Secrets), SecretRef{Name: AdminTokenSecret, File: AdminTokenSecret})
	c.Env = append(slices.Clip(c.Env), "ADMIN_TOKEN_FILE="+SecretFile(AdminTokenSecret), "ADMIN_HOSTS="+c.Name)
	slices.Sort(c.Env)
}

// GatewayKeys are the keys the gateway reads on protected routes, each a
// secret the user may keep under .msx/secrets (mode 0600) by this Name:
// a JWT public key in PEM or an HMAC secret, and API keys (NAME:KEY
// lines). msx up writes those present into the gateway's SECRETS_DIR;
// none reaches its environment.
var GatewayKeys = []SecretRef{
	{Name: "gateway-jwt.pem", File: "jwt.pem"},
	{Name: "gateway-jwt.secret", File: "jwt.secret"},
	{Name: "gateway-api-keys", File: "api-keys"},
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
	// BrokerUsers are the users of the broker and their permissions, when
	// the plan has one: what its configuration (GenBrokerConfig) is made of.
	BrokerUsers []BrokerUser `json:",omitempty"`
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
	// Kind is the infrastructure kind of an instance, "" for a program
	// msx builds.
	Kind  string `json:",omitempty"`
	Image ImageRef
	// ResolvedImage is the image the engine runs, filled by Resolve; it
	// is not part of the plan's own hash (Resolve mixes it in).
	ResolvedImage string   `json:"-"`
	User          string   `json:",omitempty"`
	Cmd           []string `json:",omitempty"`
	// StopSignal is the signal that stops the program gracefully; empty
	// is the image's own.
	StopSignal string   `json:",omitempty"`
	Env        []string // KEY=VALUE, sorted
	// Networks the container joins, the first at creation.
	Networks []Attachment
	Mounts   []Mount `json:",omitempty"`
	// SwapDir, when set, gets a volume of the container's own (removed
	// with it), filled from the image at creation: the binary a hot swap
	// replaces.
	SwapDir string `json:",omitempty"`
	// Secrets are written, before the container first starts, as files
	// into its SecretsDir (a volume it shares read-only with the services
	// that use it). Only their names are planned and hashed.
	Secrets []SecretRef `json:",omitempty"`
	// Port is the port the program listens on in the container; published
	// on 127.0.0.1:HostPort (an ephemeral port when HostPort is 0) when
	// Publish is set.
	Port     int
	HostPort int
	// Publish publishes Port on 127.0.0.1: for a service when msx.yaml
	// says expose, always for the gateway, and for an infrastructure
	// instance when the plan asks.
	Publish bool `json:",omitempty"`
	// AdminPort, when not 0, is the admin listener's port in the
	// container, published on an ephemeral port of 127.0.0.1 for msx.
	AdminPort int `json:",omitempty"`
	// Hardening is how the engine confines the container.
	Hardening *Hardening `json:",omitempty"`
	// Ready is how to tell the container is ready.
	Ready Probe
	// Replicas is how many copies of the container the engine runs, when
	// the plan leaves that to it (PlanOptions.ReplicasByEngine); 0 is one.
	Replicas int `json:",omitempty"`
	// OwnedDirs are folders of the container's volumes (paths in the
	// container) that the runner makes before it first starts, owned by
	// User.
	OwnedDirs []string `json:",omitempty"`
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
	Volume   string
	Target   string
	ReadOnly bool `json:",omitempty"`
}

// ImageRef is what a container runs, before it is resolved: a program msx
// builds, or an infrastructure kind's image that the engine has or pulls.
type ImageRef struct {
	// Build names the build target (a service or GatewayName) and Pkg its
	// Go package in the workspace.
	Build string `json:",omitempty"`
	Pkg   string `json:",omitempty"`
	// Ref is an image reference, and Kind the kind whose image it is.
	Ref  string `json:",omitempty"`
	Kind string `json:",omitempty"`
}

// String is the reference, or the build target's package.
func (r ImageRef) String() string {
	if r.Ref != "" {
		return r.Ref
	}
	return "build " + r.Pkg
}

// SecretRef is one secret of a container: Name is its identity (what msx
// keeps in .msx/ under that name), File its file name in SecretsDir.
type SecretRef struct {
	Name string
	File string
	// Gen is how msx makes the secret when .msx/secrets has none (one of
	// GenPassword, GenNKey, GenBrokerConfig).
	Gen string `json:",omitempty"`
}

// Hardening confines a container: what the engine applies to every program
// msx compiles (services, the gateway, the collector) and to the instances
// of kinds that say how (Kind.Hardening). msx export reads it too, so that
// the exports confine each container exactly as msx up does.
type Hardening struct {
	ReadOnlyRootFS bool
	Tmpfs          map[string]string // path -> mount options
	CapDrop        []string
	// CapAdd are the capabilities given back after CapDrop: what an image
	// that starts as root and steps down to its own user needs.
	CapAdd          []string `json:",omitempty"`
	NoNewPrivileges bool
	MemoryBytes     int64
	Pids            int64
	// RestartOnFailure restarts a crashed program up to this many times.
	RestartOnFailure int
	// Healthcheck runs in the container without a shell.
	Healthcheck []string
}

// Probe says how readiness is checked.
type Probe struct {
	// HTTPPath is fetched on the published Port (the container port; the
	// container's Port when 0); 200 means ready.
	HTTPPath string `json:",omitempty"`
	Port     int    `json:",omitempty"`
	// PathSecret, when set, names the secret whose value is the path
	// segment HTTPPath is fetched under (/VALUE/healthz): the broker's
	// monitoring path, which the runner resolves and never prints, and
	// which an export cannot write into a probe.
	PathSecret string `json:",omitempty"`
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

// ContainersOf returns the containers that run build target name: a
// service's replicas (one container for most), or the gateway.
func (p *Plan) ContainersOf(build string) []Container {
	var out []Container
	for _, c := range p.Containers {
		if c.Image.Build == build {
			out = append(out, c)
		}
	}
	return out
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

// PrivateNetworkName is the internal network of an infrastructure
// instance (by its service name), shared only with its users.
func PrivateNetworkName(project, instance string) string { return project + "_" + instance }

// HostNetworkName is the network through which a private instance
// publishes its port to 127.0.0.1; nothing else joins it.
func HostNetworkName(project, instance string) string { return project + "_" + instance + "-host" }

// SecretsVolumeName is the volume that holds an instance's secret files.
func SecretsVolumeName(project, instance, dir string) string {
	return project + "_" + instance + "-secrets_" + shortHash(dir)
}

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

	var infra, services []Container
	// Instances of per-project kinds, planned once for all their users.
	shared := map[string]Instance{}
	for _, k := range m.NeededKinds(selected) {
		if k.PerService {
			continue
		}
		inst := instance(k, "")
		shared[k.Name] = inst
		infra = append(infra, p.addInstance(m, inst, base))
		if k.Config != nil && k.Config.Gen == GenBrokerConfig {
			p.BrokerUsers = m.BrokerUsers()
		}
	}
	for _, name := range order {
		if !selected[name] {
			continue
		}
		s := m.Services[name]
		env := map[string]string{
			"MSX_SERVICE":       name,
			"PORT":              strconv.Itoa(s.Port),
			"LISTEN_ADDR":       "0.0.0.0:" + strconv.Itoa(s.Port),
			"OTEL_SERVICE_NAME": name,
			"LOG_LEVEL":         logLevel,
			"ADMIN_ADDR":        "0.0.0.0:" + strconv.Itoa(AdminPort),
			// msx fault reaches the fault middleware, on only under msx.
			"MSX_FAULTS": "1",
			// Nothing here routes by readiness, so stopping waits for no
			// one: a hot swap restarts the service at once.
			"DRAIN_DELAY": "0s",
		}
		if s.Protected {
			env["MSX_PROTECTED"] = "1"
		}
		if s.GraphQL() {
			// Introspection and the playground, for msx up only: the
			// exported production configuration leaves them off.
			env["GRAPHQL_INTROSPECTION"] = "1"
		}
		if s.Events {
			for k, v := range m.Events.env() {
				env[k] = v
			}
		}
		deps := slices.Clone(s.DependsOn)
		slices.Sort(deps)
		var waits []string
		for _, d := range deps {
			// The service's name is an alias of every replica: the
			// engine's DNS spreads new connections over them.
			env[names.EnvName(d)+"_URL"] = fmt.Sprintf("http://%s:%d", d, m.Services[d].Port)
			waits = append(waits, m.instancesOf(d, opts.ReplicasByEngine)...)
		}
		c := Container{
			Name:      ContainerName(m.Project, name),
			Service:   name,
			Role:      RoleService,
			Image:     ImageRef{Build: name, Pkg: ServicePkg(name)},
			User:      ContainerUser,
			Networks:  []Attachment{{Network: p.Network, Aliases: []string{name}}},
			Port:      s.Port,
			Publish:   s.Expose,
			AdminPort: AdminPort,
			Hardening: hardening(s.Limits),
			Ready:     Probe{HTTPPath: "/readyz", Port: AdminPort},
			DependsOn: waits,
			SwapDir:   SwapDir,
		}
		if s.DB == DBSQLite {
			vol := VolumeName(m.Project, name, m.Dir)
			p.Volumes = append(p.Volumes, Volume{Name: vol, Labels: withLabels(base, map[string]string{LabelService: name})})
			c.Mounts = []Mount{{Volume: vol, Target: DataDir}}
			env["SQLITE_PATH"] = DataDir + "/" + name + ".db"
		}
		var kindDeps []string
		for _, k := range Kinds {
			if !k.Uses(s) {
				continue
			}
			inst, ok := shared[k.Name]
			if k.PerService {
				inst = instance(k, name)
				infra = append(infra, p.addInstance(m, inst, base))
			} else if !ok {
				continue
			}
			if k.Private {
				c.Networks = append(c.Networks, Attachment{Network: PrivateNetworkName(m.Project, inst.Service), Aliases: []string{name}})
			}
			if len(k.Secrets) > 0 {
				c.Mounts = append(c.Mounts, Mount{
					Volume:   SecretsVolumeName(m.Project, inst.Service, m.Dir),
					Target:   SecretsDir + "/" + k.Name,
					ReadOnly: true,
				})
			}
			for key, v := range k.Client(inst) {
				env[key] = v
			}
			if k.Credential != nil {
				// In a volume of the service's own at SecretsDir.
				c.Secrets = append(c.Secrets, k.Credential(name))
			}
			kindDeps = append(kindDeps, inst.Service)
		}
		c.DependsOn = append(kindDeps, c.DependsOn...)
		// Identity keys: files of the service's own, in an anonymous
		// volume at SecretsDir (see identity.go).
		c.Secrets = append(c.Secrets, identitySecrets(m, name)...)
		env["SECRETS_DIR"] = SecretsDir
		c.Env = envList(env)
		c.Labels = withLabels(base, map[string]string{LabelService: name, LabelRole: RoleService})
		made := []Container{c}
		if opts.ReplicasByEngine {
			if s.ReplicaCount() > 1 {
				made[0].Replicas = s.ReplicaCount()
			}
		} else {
			made = replicas(m.Project, name, s.ReplicaCount(), c)
		}
		// Each container by its own name: a replica's admin listener answers
		// to the replica's.
		for i := range made {
			if opts.AdminToken {
				withAdminToken(&made[i])
			}
		}
		services = append(services, made...)
	}

	// The kinds that every program uses serve the gateway too.
	var uses []Instance
	for _, k := range Kinds {
		if inst, ok := shared[k.Name]; ok && k.All {
			uses = append(uses, inst)
		}
	}
	gw, err := gateway(m, p.Network, selected, logLevel, base, uses, opts)
	if err != nil {
		return nil, err
	}
	if opts.AdminToken {
		withAdminToken(&gw)
	}
	p.Containers = append(append(append(p.Containers, infra...), services...), gw)
	for i := range p.Containers {
		p.Containers[i].Labels[LabelConfigHash] = configHash(&p.Containers[i])
	}
	return p, nil
}

// replicas plans n containers of a service from its one container c. With
// one, c is returned as it is. With more, replica i is the instance
// ReplicaName(service, i) (its container name, host name and an alias of
// its own beside the service's, and its dev.msx.service label), labelled
// dev.msx.replica-of with the service; everything else is the same, so
// one build and one swap serve them all.
func replicas(project, service string, n int, c Container) []Container {
	if n <= 1 {
		return []Container{c}
	}
	out := make([]Container, n)
	for i := range n {
		r := c
		inst := ReplicaName(service, i+1)
		r.Name = ContainerName(project, inst)
		r.Service = inst
		r.Networks = make([]Attachment, len(c.Networks))
		for j, a := range c.Networks {
			r.Networks[j] = Attachment{Network: a.Network, Aliases: slices.Clone(a.Aliases)}
		}
		// The project network: the service's name, shared, and the
		// replica's own, which the gateway spreads requests over.
		r.Networks[0].Aliases = append(r.Networks[0].Aliases, replicaAlias(service, i+1))
		r.Labels = withLabels(c.Labels, map[string]string{
			LabelService:   inst,
			LabelReplicaOf: service,
		})
		out[i] = r
	}
	return out
}

// instancesOf names the containers of a service that others wait for:
// each replica, or the service alone when the engine runs its replicas.
func (m *Manifest) instancesOf(service string, byEngine bool) []string {
	if byEngine {
		return []string{service}
	}
	return m.ReplicaNames(service)
}

// replicaAlias is replica i's own network alias: its instance name, and
// NAME-1 for the first, whose instance name is the service's, shared.
func replicaAlias(service string, i int) string {
	if i <= 1 {
		return service + "-1"
	}
	return ReplicaName(service, i)
}

// ReplicaOf returns the service a container belongs to: the service its
// labels name, or the one it is a replica of.
func ReplicaOf(labels map[string]string) string {
	if s := labels[LabelReplicaOf]; s != "" {
		return s
	}
	return labels[LabelService]
}

// addInstance plans one instance of a kind: its container, its private
// network, its data and secrets volumes.
func (p *Plan) addInstance(m *Manifest, inst Instance, base map[string]string) Container {
	k := inst.Kind
	role := k.Role
	if role == "" {
		role = RoleInfra
	}
	// A kind msx compiles runs a program as the services do: its
	// container has no Kind, as Container.Kind says, and no kind label.
	kind := k.Name
	if k.Build != "" {
		kind = ""
	}
	labels := map[string]string{LabelService: inst.Service}
	own := map[string]string{LabelService: inst.Service, LabelRole: role}
	if kind != "" {
		own[LabelKind] = kind
	}
	if inst.Owner != "" {
		own[LabelOwner] = inst.Owner
	}
	env := k.Env(inst)
	if k.Settings != nil {
		env = withLabels(env, k.Settings(m))
	}
	c := Container{
		Name:       ContainerName(m.Project, inst.Service),
		Service:    inst.Service,
		Role:       role,
		Kind:       kind,
		Image:      ImageRef{Ref: m.Image(k), Kind: k.Name},
		User:       k.User,
		StopSignal: k.StopSignal,
		Env:        envList(env),
		Cmd:        k.Cmd,
		Port:       k.Port,
		Ready:      k.Ready(inst),
		Hardening:  k.hardening(),
		Labels:     withLabels(base, own),
	}
	if k.Build != "" {
		// Built like the gateway, from the source msx writes under .msx
		// (the runner knows the target by its name).
		c.Image, c.SwapDir = ImageRef{Build: k.Build, Pkg: "."}, SwapDir
	}
	if k.MonitorPort != 0 {
		c.Port, c.Publish = k.MonitorPort, true
	}
	netw := p.Network
	if k.Private {
		netw = PrivateNetworkName(m.Project, inst.Service)
		owner := map[string]string{LabelService: inst.Service}
		if inst.Owner != "" {
			owner[LabelService] = inst.Owner
		}
		p.Networks = append(p.Networks, Network{Name: netw, Internal: true, Labels: withLabels(base, owner)})
	}
	c.Networks = []Attachment{{Network: netw, Aliases: []string{inst.Service}}}
	if k.Publish {
		c.Publish = true
		if k.Private {
			// First, so that the container is created on it: only a
			// network with a way out publishes ports.
			host := HostNetworkName(m.Project, inst.Service)
			p.Networks = append(p.Networks, Network{Name: host, Labels: withLabels(base, labels)})
			c.Networks = append([]Attachment{{Network: host}}, c.Networks...)
		}
	}
	if k.DataDir != "" {
		vol := VolumeName(m.Project, inst.Service, m.Dir)
		p.Volumes = append(p.Volumes, Volume{Name: vol, Labels: withLabels(base, labels)})
		c.Mounts = append(c.Mounts, Mount{Volume: vol, Target: k.DataDir})
	}
	if k.Config != nil {
		// In a volume of its own at SecretsDir, as the gateway's keys.
		c.Secrets = append(c.Secrets, *k.Config)
	}
	for _, d := range k.OwnedDirs {
		c.OwnedDirs = append(c.OwnedDirs, k.DataDir+"/"+d)
	}
	if len(k.Secrets) > 0 {
		vol := SecretsVolumeName(m.Project, inst.Service, m.Dir)
		p.Volumes = append(p.Volumes, Volume{Name: vol, Labels: withLabels(base, labels)})
		c.Mounts = append(c.Mounts, Mount{Volume: vol, Target: SecretsDir})
		for _, sec := range k.Secrets {
			c.Secrets = append(c.Secrets, SecretRef{Name: inst.SecretName(sec), File: sec})
		}
	}
	return c
}

// Resolve records the image each container runs: built maps a build
// target to the image the builder made; a kind's reference is run as it
// is. The config hash of a built container then covers its image, so that
// a new build recreates it.
func (p *Plan) Resolve(built map[string]string) error {
	for i := range p.Containers {
		c := &p.Containers[i]
		if c.Image.Build == "" {
			c.ResolvedImage = c.Image.Ref
			continue
		}
		img := built[c.Image.Build]
		if img == "" {
			return &PlanError{Msg: fmt.Sprintf("no image was built for %s", c.Image.Build)}
		}
		c.ResolvedImage = img
		c.Labels[LabelConfigHash] = configHash(c)
	}
	return nil
}

// HashSecrets labels each container that gets secrets of its own as files
// (the gateway's keys) with a hash of their values, and updates its config
// hash: a key changed under .msx/secrets then recreates the container with
// the new key, as any other change of configuration does. The label is a
// hash, not the value, and tells nothing that access to the engine does not
// already give: the files are in the container. Secrets shared through a
// volume (a database's password) are left out: the data in the volume were
// made with the old one.
func (p *Plan) HashSecrets(values map[string]string) {
	for i := range p.Containers {
		c := &p.Containers[i]
		if len(c.Secrets) == 0 || slices.ContainsFunc(c.Mounts, func(m Mount) bool { return m.Target == SecretsDir }) {
			continue
		}
		h := sha256.New()
		for _, s := range c.Secrets {
			v := values[s.Name]
			fmt.Fprintf(h, "%s\x00%d\x00%s\x00", s.Name, len(v), v)
		}
		c.Labels[LabelSecretsHash] = hex.EncodeToString(h.Sum(nil))[:16]
		c.Labels[LabelConfigHash] = configHash(c)
	}
}

// Secrets returns the names of every secret of the plan, sorted and once
// each: what the runner must have before it creates anything.
func (p *Plan) Secrets() []string {
	var out []string
	for _, c := range p.Containers {
		for _, s := range c.Secrets {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// route is one entry of the gateway's MSX_ROUTES.
type route struct {
	Name      string `json:"name"`
	Prefix    string `json:"prefix"`
	Upstream  string `json:"upstream"`
	Protected bool   `json:"protected"`
	// Replicas are the service's replicas, each by its own alias, when it
	// runs more than one: the gateway spreads requests over them itself,
	// because one name that resolves to them all would keep a client's
	// pooled connection on one replica.
	Replicas []string `json:"replicas,omitempty"`
	// Only when set, so that a gateway generated before the setting
	// existed still reads the routes.
	ForwardAuthorization bool `json:"forward_authorization,omitempty"`
}

// gateway plans the gateway container, a client of the instances uses. It
// routes every service of the manifest, started or not, so that starting a
// subset does not change it. keys are the gateway's keys the workspace has.
func gateway(m *Manifest, network string, selected map[string]bool, logLevel string, base map[string]string, uses []Instance, opts PlanOptions) (Container, error) {
	keys := opts.GatewayKeys
	var routes []route
	var deps []string
	for _, name := range m.ServiceNames() {
		s := m.Services[name]
		prefix := s.Route
		if prefix == "" {
			prefix = Route(name)
		}
		rt := route{
			Name:      name,
			Prefix:    prefix,
			Upstream:  fmt.Sprintf("http://%s:%d", name, s.Port),
			Protected: s.Protected,

			ForwardAuthorization: s.ForwardAuthorization,
		}
		if s.ReplicaCount() > 1 && !opts.ReplicasByEngine {
			for i := range s.ReplicaCount() {
				rt.Replicas = append(rt.Replicas, fmt.Sprintf("http://%s:%d", replicaAlias(name, i+1), s.Port))
			}
		}
		routes = append(routes, rt)
		if selected[name] {
			deps = append(deps, m.instancesOf(name, opts.ReplicasByEngine)...)
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
		"ADMIN_ADDR":        "0.0.0.0:" + strconv.Itoa(AdminPort),
	}
	if len(m.Gateway.CORS) > 0 {
		env["CORS_ORIGINS"] = strings.Join(m.Gateway.CORS, ",")
	}
	if len(m.Gateway.AllowedHosts) > 0 {
		env["ALLOWED_HOSTS"] = strings.Join(m.Gateway.AllowedHosts, ",")
	}
	if m.Gateway.RateLimit > 0 {
		env["RATE_LIMIT"] = strconv.FormatFloat(m.Gateway.RateLimit, 'f', -1, 64)
		env["RATE_BURST"] = strconv.Itoa(m.Gateway.RateBurst)
	}
	env["UPSTREAM_TIMEOUT"] = DefaultUpstreamTimeout
	if m.Gateway.UpstreamTimeout != "" {
		env["UPSTREAM_TIMEOUT"] = m.Gateway.UpstreamTimeout
	}
	if len(m.Gateway.TrustedProxies) > 0 {
		env["TRUSTED_PROXIES"] = strings.Join(m.Gateway.TrustedProxies, ",")
	}
	if j := m.Gateway.JWT; len(j.Algorithms) > 0 {
		env["JWT_ALGORITHMS"] = strings.Join(j.Algorithms, ",")
	}
	if m.Gateway.JWT.Issuer != "" {
		env["JWT_ISSUER"] = m.Gateway.JWT.Issuer
	}
	if m.Gateway.JWT.Audience != "" {
		env["JWT_AUDIENCE"] = m.Gateway.JWT.Audience
	}
	if err := checkJWT(m.Gateway.JWT, keys, env); err != nil {
		return Container{}, err
	}
	// The keys present are files in a volume of the gateway's own at
	// SecretsDir, written before it starts and removed with it.
	var secrets []SecretRef
	for _, k := range GatewayKeys {
		if slices.Contains(keys, k.Name) {
			secrets = append(secrets, k)
		}
	}
	secrets = append(secrets, identitySecrets(m, GatewayName)...)
	env["SECRETS_DIR"] = SecretsDir
	var kindDeps []string
	for _, inst := range uses {
		for key, v := range inst.Kind.Client(inst) {
			env[key] = v
		}
		kindDeps = append(kindDeps, inst.Service)
	}
	deps = append(kindDeps, deps...)
	return Container{
		Secrets:   secrets,
		Name:      ContainerName(m.Project, GatewayName),
		Service:   GatewayName,
		Role:      RoleGateway,
		Image:     ImageRef{Build: GatewayName, Pkg: GatewayPkg},
		User:      ContainerUser,
		Env:       envList(env),
		Networks:  []Attachment{{Network: network, Aliases: []string{GatewayName}}},
		Port:      m.Gateway.Port,
		HostPort:  m.Gateway.Port,
		Publish:   true,
		AdminPort: AdminPort,
		Hardening: hardening(Limits{}),
		Ready:     Probe{HTTPPath: "/readyz", Port: AdminPort},
		DependsOn: deps,
		SwapDir:   SwapDir,
		Labels:    withLabels(base, map[string]string{LabelService: GatewayName, LabelRole: RoleGateway}),
	}, nil
}

// hardening is the confinement of a program msx compiled: nothing
// writable but /tmp and the SwapDir volume, no capabilities, no privilege gain,
// bounded memory and processes, restarted when it crashes, and a health
// check that is the binary itself (FROM scratch images have no shell).
func hardening(l Limits) *Hardening {
	mem, pids := l.MemoryMB, l.Pids
	if mem == 0 {
		mem = DefaultMemoryMB
	}
	if pids == 0 {
		pids = DefaultPids
	}
	return &Hardening{
		ReadOnlyRootFS: true,
		// The root file system is read-only; what stays writable is /tmp
		// and the container's own volume at SwapDir, where hot swap
		// copies the new binary (the image runs SwapDir/app).
		Tmpfs: map[string]string{
			"/tmp": "rw,noexec,nosuid,nodev,size=64m,mode=1777",
		},
		CapDrop:          []string{"ALL"},
		NoNewPrivileges:  true,
		MemoryBytes:      int64(mem) << 20,
		Pids:             int64(pids),
		RestartOnFailure: 5,
		Healthcheck:      []string{"CMD", SwapDir + "/app", "healthcheck"},
	}
}

// configHash hashes everything that defines a container except the labels
// that do not change what runs (the hash itself and msx's version) and
// DependsOn, which is start order, not the container's configuration: the
// gateway depends on the services an up selects, and a second up with
// another selection must not recreate it.
//
// A built image is only known once resolved: the hash then covers the
// resolved image too. Secrets are hashed by name, never by value.
func configHash(c *Container) string {
	return HashOf(c)
}

// HashOf is the config hash c would have: the runner uses it to tell a
// change of code (the image) from a change of configuration.
func HashOf(c *Container) string {
	h := struct {
		Container
		Resolved string `json:",omitempty"`
	}{Container: *c}
	if c.Image.Build != "" {
		h.Resolved = c.ResolvedImage
	}
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
