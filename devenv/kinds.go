package devenv

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SecretsDir is where secret files appear in a container: a kind's
// instance and the services that use it read them there, never from the
// environment.
const SecretsDir = "/run/secrets"

// Kind is one kind of infrastructure msx runs beside the services (a
// database, a message broker, the trace collector). Everything the plan and
// the runner need to know about it is here, so that a new kind is one
// entry of Kinds, not special cases in the plan and the runner.
type Kind struct {
	// Name is the kind's key: images.NAME in msx.yaml, MSX_IMAGES_NAME in
	// the environment, the name of its containers' role.
	Name string
	// DefaultImage is the image run when msx.yaml sets none.
	DefaultImage string
	// Build, when set, makes the kind a program msx owns and compiles, as
	// it compiles the gateway, from source it embeds (templates/NAME, its
	// main package at the root): Build is the build target's name. Such a
	// kind has no image to configure or pull (no images.NAME); its
	// container runs the binary from its own volume at SwapDir and is
	// confined, as the services' containers are.
	Build string
	// Role labels the instances' containers (dev.msx.role); RoleInfra
	// when empty.
	Role string
	// PerService makes one instance per service that uses the kind (a
	// database per service), named OWNER-SUFFIX; otherwise one instance
	// per project, named after the kind.
	PerService bool
	Suffix     string
	// Private puts an instance on an internal network of its own, shared
	// only with the services that use it (for a per-service kind, its one
	// owner); otherwise it joins the project network.
	Private bool
	// Uses reports whether a service needs the kind.
	Uses func(s Service) bool
	// All makes every program msx builds a user of the kind, the gateway
	// included, and plans its instance even when no service is selected
	// (the trace collector: everything exports spans to it).
	All bool
	// Port is where the instance listens on its network.
	Port int
	// MonitorPort, when set, is an HTTP monitoring endpoint of the
	// instance: the port its container publishes on an ephemeral port of
	// 127.0.0.1 and where Ready probes; Port is then not published.
	MonitorPort int
	// Cmd is the arguments the instance's image runs with; empty is the
	// image's own.
	Cmd []string
	// Publish publishes Port on an ephemeral port of 127.0.0.1, for a
	// client on the host (msx db). A private instance then also joins a
	// network of its own that nothing else joins: an internal network
	// cannot publish ports.
	Publish bool
	// DataDir, when set, is where the instance's named volume is mounted:
	// its data survive down and up, and go only with down --volumes.
	DataDir string
	// Secrets are the secret files the instance and the services that use
	// it read under SecretsDir: generated once per instance by the runner,
	// kept in the workspace's .msx/, and written into a volume that only
	// those containers mount.
	Secrets []string
	// Env is the environment contract of the kind's image for an instance.
	// Secrets are passed as file paths (FOO_FILE), never as values.
	Env func(i Instance) map[string]string
	// Settings, when set, is the part of an instance's environment that
	// msx.yaml decides (traces: for the collector), added to Env.
	Settings func(m *Manifest) map[string]string
	// Ready is how to tell an instance is ready.
	Ready func(i Instance) Probe
	// Client is the environment a service that uses the instance gets.
	Client func(i Instance) map[string]string
	// User is the user the instance's container runs as; empty is the
	// image's own (an image that drops privileges itself).
	User string
	// StopSignal stops the instance gracefully; empty is the image's.
	StopSignal string
	// Tmpfs are the folders the image writes besides DataDir and /tmp,
	// and CapAdd the capabilities it needs, when its container is confined
	// (Confined): a read-only root file system, no other capabilities,
	// no privilege gain, the default limits.
	Confined bool
	Tmpfs    []string
	CapAdd   []string
	// Config, when set, is the instance's configuration file, a secret
	// in a volume of the instance's own at SecretsDir that none of its
	// users mounts (the broker's, which names their keys).
	Config *SecretRef
	// Credential, when set, is the secret each program that uses the
	// instance gets of its own under SecretsDir (its broker seed): one
	// user per program, which no other program mounts.
	Credential func(user string) SecretRef
	// OwnedDirs are folders of DataDir's volume that the runner makes,
	// owned by User, before the instance first starts: the volume's root
	// belongs to root, and the program does not run as root.
	OwnedDirs []string
}

// hardening is how an instance of the kind is confined, or nil. A kind
// msx compiles (Build) is confined as the services are, restarted when it
// crashes, but has no health check command: it is no service binary and
// msx waits on its Ready probe instead.
func (k *Kind) hardening() *Hardening {
	if k.Build != "" {
		// A program msx builds checks itself, as the services do.
		return hardening(Limits{})
	}
	if !k.Confined {
		return nil
	}
	h := hardening(Limits{})
	h.RestartOnFailure, h.Healthcheck = 0, nil
	for _, t := range k.Tmpfs {
		h.Tmpfs[t] = "rw,noexec,nosuid,nodev,size=16m"
	}
	h.CapAdd = slices.Clone(k.CapAdd)
	return h
}

// Instance is one running instance of a kind.
type Instance struct {
	Kind *Kind
	// Owner is the service that owns a per-service instance; empty for a
	// per-project one.
	Owner string
	// Service is the instance's service name (its network alias, its
	// container PROJECT-SERVICE): "orders-db", or the kind's name.
	Service string
	// Ident is a name safe as a database or user name: the owner with
	// dashes turned into underscores.
	Ident string
}

// SecretFile is where a secret appears in a container.
func SecretFile(secret string) string { return SecretsDir + "/" + secret }

// ClientSecretFile is where a secret of the instance appears in a service
// that uses it: under a folder named after the kind, so that a service
// using several kinds mounts each one's secrets apart.
func (i Instance) ClientSecretFile(secret string) string {
	return SecretsDir + "/" + i.Kind.Name + "/" + secret
}

// SecretName is the identity of an instance's secret: the name under which
// msx keeps it in .msx/ and the only thing about it a plan holds.
func (i Instance) SecretName(secret string) string {
	return i.Service + "-" + secret
}

// Address is host:port of the instance on its network.
func (i Instance) Address() string {
	return i.Service + ":" + strconv.Itoa(i.Kind.Port)
}

// KindPostgres is the name of the Postgres kind.
const KindPostgres = "postgres"

// Postgres is a database per service. The environment contract is the
// official image's (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE,
// PGDATA), which scripts/local-images.sh's image honours too.
var Postgres = Kind{
	Name:         KindPostgres,
	DefaultImage: "postgres:16",
	Role:         RoleDatabase,
	PerService:   true,
	Suffix:       "db",
	Private:      true,
	Uses:         func(s Service) bool { return s.DB == DBPostgres },
	Port:         5432,
	Publish:      true,
	DataDir:      "/var/lib/postgresql/data",
	// Postgres's fast shutdown, as the official image sets: SIGTERM would
	// wait for every client to disconnect.
	StopSignal: "SIGINT",
	// The entrypoint (the official image's, and scripts/local-images.sh's)
	// starts as root, takes ownership of the data and socket folders and
	// steps down to the postgres user: that needs these capabilities.
	Confined: true,
	Tmpfs:    []string{"/var/run/postgresql"},
	CapAdd:   []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"},
	Secrets:  []string{"db-password"},
	Env: func(i Instance) map[string]string {
		return map[string]string{
			"POSTGRES_USER":          i.Ident,
			"POSTGRES_DB":            i.Ident,
			"POSTGRES_PASSWORD_FILE": SecretFile("db-password"),
			"PGDATA":                 "/var/lib/postgresql/data/pgdata",
		}
	},
	Ready: func(i Instance) Probe {
		// Over TCP, not the socket: while the official image initialises a
		// new volume it runs a temporary server on the socket only, which
		// pg_isready on the socket would take for the real one.
		return Probe{Healthcheck: []string{"CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", i.Ident, "-d", i.Ident}}
	},
	Client: func(i Instance) map[string]string {
		return map[string]string{
			// No password in the URL: the service reads it from the file.
			"DATABASE_URL":           fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", i.Ident, i.Address(), i.Ident),
			"DATABASE_PASSWORD_FILE": i.ClientSecretFile("db-password"),
		}
	},
}

// KindNATS is the name of the NATS kind.
const KindNATS = "nats"

// NATS is the project's message broker: one NATS server with JetStream,
// its streams on a named volume. Services reach it on the project
// network; its client port is not published to the host. msx reads its
// monitoring endpoint on 127.0.0.1 only, under a path only msx knows
// (BrokerMonitorSecret), and msx events reads the stream
// from a container of its own on the project network (EventTap).
var NATS = Kind{
	Name: KindNATS,
	// The official image (nats-server alone, FROM scratch, entrypoint the
	// server), as scripts/local-images.sh builds too.
	DefaultImage: "nats:2.10",
	Uses:         func(s Service) bool { return s.Events },
	Port:         4222,
	MonitorPort:  8222,
	DataDir:      "/data",
	// Everything else is in its configuration (BrokerConfig): the
	// listeners, JetStream's store, the users and their permissions.
	Cmd: []string{"-c", SecretFile(BrokerConfigSecret)},
	// Not root, which the official image runs as: the store is a folder
	// of the volume made for this user (OwnedDirs).
	User:      ContainerUser,
	OwnedDirs: []string{BrokerStoreDir},
	Config:    &SecretRef{Name: BrokerConfigSecret, File: BrokerConfigSecret, Gen: GenBrokerConfig},
	// nats-server writes nowhere but its store and needs no capability.
	Confined:   true,
	Credential: BrokerSeed,
	Env:        func(Instance) map[string]string { return nil },
	Ready: func(Instance) Probe {
		// 200 only once JetStream is up, not merely the server; under the
		// monitoring path only msx knows (BrokerMonitorSecret).
		return Probe{HTTPPath: "/healthz?js-enabled-only=true", PathSecret: BrokerMonitorSecret}
	},
	Client: func(i Instance) map[string]string {
		return map[string]string{
			"NATS_URL": "nats://" + i.Address(),
			// The program's own seed: a file, never a value here.
			"NATS_NKEY_FILE": SecretFile(BrokerSeedFile),
		}
	},
}

// KindCollector is the name of the trace collector's kind.
const KindCollector = CollectorName

// Collector is the project's trace collector (devenv/collector.go): a
// program msx compiles, one per project, that every service and the
// gateway export their spans to, its spans on a volume, its query API
// published on 127.0.0.1 for msx trace.
var Collector = Kind{
	Name:    KindCollector,
	Build:   CollectorName,
	Role:    RoleCollector,
	Uses:    func(Service) bool { return true },
	All:     true,
	Port:    CollectorPort,
	Publish: true,
	DataDir: DataDir,
	User:    ContainerUser,
	Env: func(Instance) map[string]string {
		return map[string]string{
			"MSX_SERVICE": CollectorName,
			"LISTEN_ADDR": "0.0.0.0:" + strconv.Itoa(CollectorPort),
			"DATA_DIR":    DataDir,
		}
	},
	Settings: collectorSettings,
	Ready:    func(Instance) Probe { return Probe{HTTPPath: "/healthz"} },
	Client:   func(Instance) map[string]string { return telemetryEnv() },
}

// Kinds is the table of infrastructure kinds, in the order their instances
// start (before the services): the collector first, so that no span of a
// start is lost.
var Kinds = []*Kind{&Collector, &Postgres, &NATS}

// KindNames lists the names of the kinds that run an image, sorted: the
// keys of images in msx.yaml.
func KindNames() []string {
	out := make([]string, 0, len(Kinds))
	for _, k := range Kinds {
		if k.Build == "" {
			out = append(out, k.Name)
		}
	}
	sort.Strings(out)
	return out
}

// LookupKind returns the kind of a name, or nil.
func LookupKind(name string) *Kind {
	for _, k := range Kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// ImageEnv is the environment variable that overrides a kind's image:
// MSX_IMAGES_POSTGRES.
func ImageEnv(kind string) string { return "MSX_IMAGES_" + strings.ToUpper(kind) }

// ImageKey is the msx.yaml key of a kind's image: images.postgres.
func ImageKey(kind string) string { return "images." + kind }

// Image returns the image a kind runs in this workspace: msx.yaml's
// images.KIND, or the kind's default.
func (m *Manifest) Image(k *Kind) string {
	if v := m.Images[k.Name]; v != "" {
		return v
	}
	return k.DefaultImage
}

// NeededKinds returns the kinds the selected services use, and those that
// every program uses, in table order.
func (m *Manifest) NeededKinds(selected map[string]bool) []*Kind {
	var out []*Kind
	for _, k := range Kinds {
		if k.All {
			out = append(out, k)
			continue
		}
		for _, n := range m.ServiceNames() {
			if selected[n] && k.Uses(m.Services[n]) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// InstanceOf returns a kind's instance that serves owner: its own for a
// per-service kind, the project's for the others.
func InstanceOf(k *Kind, owner string) Instance {
	if !k.PerService {
		owner = ""
	}
	return instance(k, owner)
}

// instance returns a kind's instance for owner ("" for per-project).
func instance(k *Kind, owner string) Instance {
	if !k.PerService {
		return Instance{Kind: k, Service: k.Name, Ident: k.Name}
	}
	return Instance{
		Kind:    k,
		Owner:   owner,
		Service: owner + "-" + k.Suffix,
		Ident:   strings.ReplaceAll(owner, "-", "_"),
	}
}

// ImageHint is the one line that says how to get a kind's image that is
// not on the machine and cannot be pulled: msx up and msx doctor both say
// it.
func ImageHint(kind, ref string) string {
	return fmt.Sprintf("pull it on a machine with registry access (docker pull %s, docker save, docker load here), "+
		"or build one with scripts/local-images.sh from the msx repository and set %s in msx.yaml or %s",
		ref, ImageKey(kind), ImageEnv(kind))
}
