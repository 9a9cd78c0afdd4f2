package export

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/msx-dev/msx/devenv"
)

// ComposeFile is the name of the exported Compose file.
const ComposeFile = "compose.yaml"

// ComposeOptions are the choices of a Compose export.
type ComposeOptions struct {
	// OutDir is the absolute folder compose.yaml is written into: paths
	// to the workspace (build contexts, secret files) are relative to it,
	// as Compose resolves them.
	OutDir string
	// Built maps a build target (a service or the gateway) to the image
	// msx built for it. When set, the export runs those images and has no
	// build: sections, so it runs on a machine with no registry and no
	// Dockerfile build; every target of the plan must have one.
	Built map[string]string
}

// Hardening every container of the export gets, the production form of the
// spec's hardened containers: limits sized for a developer machine.
const (
	memLimit  = "512m"
	pidsLimit = 256
)

// postgresCaps are what the official Postgres image needs after all
// others are dropped: its entrypoint owns its data folder and steps down
// from root to its own user.
var postgresCaps = []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"}

type composeFile struct {
	Name     string                     `yaml:"name"`
	Services map[string]*composeService `yaml:"services"`
	Networks map[string]composeNetwork  `yaml:"networks,omitempty"`
	Volumes  map[string]struct{}        `yaml:"volumes,omitempty"`
	Secrets  map[string]composeSecret   `yaml:"secrets,omitempty"`
}

type composeService struct {
	Image       string                    `yaml:"image"`
	Build       *composeBuild             `yaml:"build,omitempty"`
	User        string                    `yaml:"user,omitempty"`
	Environment map[string]string         `yaml:"environment,omitempty"`
	Ports       []string                  `yaml:"ports,omitempty"`
	Networks    map[string]*composeAttach `yaml:"networks"`
	Volumes     []composeMount            `yaml:"volumes,omitempty"`
	Secrets     []composeSecretMount      `yaml:"secrets,omitempty"`
	Healthcheck *composeHealth            `yaml:"healthcheck,omitempty"`
	DependsOn   map[string]composeDep     `yaml:"depends_on,omitempty"`
	ReadOnly    bool                      `yaml:"read_only"`
	Tmpfs       []string                  `yaml:"tmpfs"`
	CapDrop     []string                  `yaml:"cap_drop"`
	CapAdd      []string                  `yaml:"cap_add,omitempty"`
	SecurityOpt []string                  `yaml:"security_opt"`
	MemLimit    string                    `yaml:"mem_limit"`
	PidsLimit   int                       `yaml:"pids_limit"`
	Restart     string                    `yaml:"restart"`
	Labels      map[string]string         `yaml:"labels,omitempty"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type composeAttach struct {
	Aliases []string `yaml:"aliases,omitempty"`
}

type composeMount struct {
	Type     string `yaml:"type"`
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only,omitempty"`
}

type composeSecretMount struct {
	Source string `yaml:"source"`
	Target string `yaml:"target"`
}

type composeHealth struct {
	Test     []string `yaml:"test"`
	Interval string   `yaml:"interval"`
	Timeout  string   `yaml:"timeout"`
	Retries  int      `yaml:"retries"`
}

type composeDep struct {
	Condition string `yaml:"condition"`
}

type composeNetwork struct {
	Internal bool `yaml:"internal,omitempty"`
}

type composeSecret struct {
	File string `yaml:"file"`
}

// Compose turns the plan into compose.yaml.
func Compose(p *devenv.Plan, o ComposeOptions) ([]File, error) {
	p = exportable(p)
	rel, err := filepath.Rel(o.OutDir, p.Dir)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the workspace %s from %s: %v", p.Dir, o.OutDir, err)
	}
	rel = filepath.ToSlash(rel)
	cf := composeFile{
		Name:     p.Project,
		Services: map[string]*composeService{},
		Networks: map[string]composeNetwork{},
		Volumes:  map[string]struct{}{},
		Secrets:  map[string]composeSecret{},
	}
	for _, n := range p.Networks {
		cf.Networks[networkKey(p, n.Name)] = composeNetwork{Internal: n.Internal}
	}
	for _, c := range p.Containers {
		s := &composeService{
			User:        c.User,
			Environment: envMap(c.Env),
			Networks:    map[string]*composeAttach{},
			ReadOnly:    true,
			Tmpfs:       []string{"/tmp"},
			CapDrop:     []string{"ALL"},
			SecurityOpt: []string{"no-new-privileges:true"},
			MemLimit:    memLimit,
			PidsLimit:   pidsLimit,
			Restart:     "on-failure",
			Labels: map[string]string{
				devenv.LabelProject: p.Project,
				devenv.LabelService: c.Service,
				devenv.LabelRole:    c.Role,
			},
		}
		if c.Image.Build != "" {
			if o.Built != nil {
				img := o.Built[c.Image.Build]
				if img == "" {
					return nil, fmt.Errorf("msx has built no image of %s", c.Image.Build)
				}
				s.Image = img
			} else {
				s.Image = p.Project + "/" + c.Image.Build
				s.Build = &composeBuild{Context: rel, Dockerfile: dockerfile(c)}
			}
			if c.Publish {
				host := ""
				if c.HostPort != 0 {
					host = strconv.Itoa(c.HostPort)
				}
				s.Ports = []string{fmt.Sprintf("%s:%s:%d", devenv.LoopbackIP, host, c.Port)}
			}
		} else {
			s.Image = c.Image.Ref
			if c.Publish {
				// As msx up does, for a client on the host (msx db).
				s.Ports = []string{fmt.Sprintf("%s::%d", devenv.LoopbackIP, c.Port)}
			}
			if c.Kind == devenv.KindPostgres {
				s.CapAdd = postgresCaps
				// The official image writes its socket and lock here.
				s.Tmpfs = append(s.Tmpfs, "/var/run/postgresql")
			}
		}
		if len(c.Ready.Healthcheck) > 0 {
			s.Healthcheck = &composeHealth{Test: c.Ready.Healthcheck, Interval: "1s", Timeout: "3s", Retries: 60}
		}
		for _, a := range c.Networks {
			s.Networks[networkKey(p, a.Network)] = &composeAttach{Aliases: a.Aliases}
		}
		for _, m := range c.Mounts {
			if m.Target == devenv.SecretsDir || strings.HasPrefix(m.Target, devenv.SecretsDir+"/") {
				// Secrets reach containers as Compose secrets, read from
				// the files msx keeps, never through a volume or a value.
				for _, sec := range secretsOf(p, m.Volume) {
					target := m.Target + "/" + sec.File
					s.Secrets = append(s.Secrets, composeSecretMount{Source: sec.Name, Target: target})
					cf.Secrets[sec.Name] = composeSecret{File: rel + "/.msx/secrets/" + sec.Name}
				}
				continue
			}
			key := volumeKey(p, m.Volume)
			cf.Volumes[key] = struct{}{}
			s.Volumes = append(s.Volumes, composeMount{Type: "volume", Source: key, Target: m.Target, ReadOnly: m.ReadOnly})
		}
		for _, d := range c.DependsOn {
			dc := p.Container(d)
			if dc == nil {
				continue
			}
			cond := "service_started"
			if len(dc.Ready.Healthcheck) > 0 {
				cond = "service_healthy"
			}
			if s.DependsOn == nil {
				s.DependsOn = map[string]composeDep{}
			}
			s.DependsOn[d] = composeDep{Condition: cond}
		}
		cf.Services[c.Service] = s
	}
	var buf bytes.Buffer
	buf.WriteString(header("compose"))
	buf.WriteString("# Secret files are the ones msx keeps under .msx/secrets (mode 0600); Compose mounts them\n")
	buf.WriteString("# with their host owner and mode, so a container user other than yours needs them readable.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cf); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []File{{Path: ComposeFile, Data: buf.Bytes()}}, nil
}

// networkKey is a plan network's name in the export: default for the
// project network, the instance's service name for a private one.
func networkKey(p *devenv.Plan, name string) string {
	if name == p.Network {
		return "default"
	}
	return strings.TrimPrefix(name, p.Project+"_")
}

// volumeKey is a plan volume's name in the export, without the project
// (Compose adds it) and the workspace hash (a Compose project is its own
// namespace): orders-db-data.
func volumeKey(p *devenv.Plan, name string) string {
	name = strings.TrimPrefix(name, p.Project+"_")
	if i := strings.LastIndex(name, "_"); i > 0 {
		name = name[:i]
	}
	return name
}

// secretsOf returns the secrets held in a secrets volume: those of the
// instance that mounts it at SecretsDir.
func secretsOf(p *devenv.Plan, volume string) []devenv.SecretRef {
	for _, c := range p.Containers {
		for _, m := range c.Mounts {
			if m.Volume == volume && m.Target == devenv.SecretsDir {
				return c.Secrets
			}
		}
	}
	return nil
}

// Dockerfiles lists the production Dockerfiles a Compose export without
// msx's images builds from, relative to the workspace root.
func Dockerfiles(p *devenv.Plan) []string {
	p = exportable(p)
	programs, _ := split(p)
	out := make([]string, 0, len(programs))
	for _, c := range programs {
		out = append(out, dockerfile(c))
	}
	return out
}
