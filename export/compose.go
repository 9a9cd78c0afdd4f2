package export

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
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
	Entrypoint  []string                  `yaml:"entrypoint,omitempty"`
	Command     []string                  `yaml:"command,omitempty"`
	Environment map[string]string         `yaml:"environment,omitempty"`
	Ports       []string                  `yaml:"ports,omitempty"`
	NetworkMode string                    `yaml:"network_mode,omitempty"`
	Networks    map[string]*composeAttach `yaml:"networks,omitempty"`
	Volumes     []composeMount            `yaml:"volumes,omitempty"`
	Secrets     []composeSecretMount      `yaml:"secrets,omitempty"`
	Healthcheck *composeHealth            `yaml:"healthcheck,omitempty"`
	DependsOn   map[string]composeDep     `yaml:"depends_on,omitempty"`
	ReadOnly    bool                      `yaml:"read_only,omitempty"`
	Tmpfs       []string                  `yaml:"tmpfs,omitempty"`
	CapDrop     []string                  `yaml:"cap_drop,omitempty"`
	CapAdd      []string                  `yaml:"cap_add,omitempty"`
	SecurityOpt []string                  `yaml:"security_opt,omitempty"`
	MemLimit    string                    `yaml:"mem_limit,omitempty"`
	PidsLimit   int64                     `yaml:"pids_limit,omitempty"`
	StopSignal  string                    `yaml:"stop_signal,omitempty"`
	Restart     string                    `yaml:"restart"`
	Labels      map[string]string         `yaml:"labels,omitempty"`
	Deploy      *composeDeploy            `yaml:"deploy,omitempty"`
}

// composeDeploy carries a service's replicas, which Compose runs itself.
type composeDeploy struct {
	Replicas int `yaml:"replicas"`
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
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	StartPeriod string   `yaml:"start_period,omitempty"`
	Retries     int      `yaml:"retries"`
}

// The timings of health checks, the runner's: a readiness check (a
// database's) every second until it passes, a program's own check every
// ten seconds after thirty to start.
var (
	readyCheck = composeHealth{Interval: "1s", Timeout: "3s", Retries: 60}
	selfHealth = composeHealth{Interval: "10s", Timeout: "3s", StartPeriod: "30s", Retries: 3}
)

type composeDep struct {
	Condition string `yaml:"condition"`
}

type composeNetwork struct {
	Internal bool `yaml:"internal,omitempty"`
}

type composeSecret struct {
	File string `yaml:"file"`
}

// Compose turns the plan into compose.yaml, and, unless it runs msx's
// images, the collector's source to build under CollectorDir.
func Compose(p *devenv.Plan, o ComposeOptions) ([]File, error) {
	rel, err := filepath.Rel(o.OutDir, p.Dir)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the workspace %s from %s: %v", p.Dir, o.OutDir, err)
	}
	rel = filepath.ToSlash(rel)
	msxImages := o.Built != nil
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
			Command:     c.Cmd,
			StopSignal:  c.StopSignal,
			Environment: envMap(c.Env),
			Networks:    map[string]*composeAttach{},
			Labels: map[string]string{
				devenv.LabelProject: p.Project,
				devenv.LabelService: c.Service,
				devenv.LabelRole:    c.Role,
			},
		}
		harden(s, c.Hardening)
		switch {
		case c.Image.Build != "" && msxImages:
			img := o.Built[c.Image.Build]
			if img == "" {
				return nil, fmt.Errorf("msx has built no image of %s", c.Image.Build)
			}
			s.Image = img
		case isCollector(c):
			s.Image = p.Project + "/" + c.Image.Build
			s.Build = &composeBuild{Context: CollectorDir, Dockerfile: "Dockerfile"}
		case c.Image.Build != "":
			s.Image = p.Project + "/" + c.Image.Build
			s.Build = &composeBuild{Context: rel, Dockerfile: dockerfile(c)}
		default:
			s.Image = c.Image.Ref
		}
		if c.Publish {
			// As msx up does: the gateway on its port, the rest (a service
			// that says expose, a database for msx db, the collector for
			// msx trace) on ephemeral ports, all on 127.0.0.1.
			host := ""
			if c.HostPort != 0 {
				host = strconv.Itoa(c.HostPort)
			}
			s.Ports = append(s.Ports, fmt.Sprintf("%s:%s:%d", devenv.LoopbackIP, host, c.Port))
		}
		if c.Replicas > 1 {
			s.Deploy = &composeDeploy{Replicas: c.Replicas}
		}
		s.Healthcheck = healthcheck(c, msxImages)
		for _, a := range c.Networks {
			s.Networks[networkKey(p, a.Network)] = &composeAttach{Aliases: a.Aliases}
		}
		for _, m := range c.Mounts {
			key := volumeKey(p, m.Volume)
			cf.Volumes[key] = struct{}{}
			ro := m.ReadOnly
			if isSecrets(m) {
				// Filled by the volume's filler, read by everyone else.
				ro = true
				s.depend(key, "service_completed_successfully")
			}
			s.Volumes = append(s.Volumes, composeMount{Type: "volume", Source: key, Target: m.Target, ReadOnly: ro})
		}
		for _, d := range c.DependsOn {
			if dc := p.Container(d); dc != nil {
				cond := "service_started"
				if healthcheck(*dc, msxImages) != nil {
					cond = "service_healthy"
				}
				s.depend(d, cond)
			}
		}
		if ownSecrets(c) {
			// The gateway's keys: a volume of its own, which msx up
			// writes them into before it starts.
			key := c.Service + "-secrets"
			cf.Volumes[key] = struct{}{}
			// Read-only, unless a database's secrets are mounted inside
			// it (a service's SecretsDir/postgres): the engine makes that
			// mount point in it. The files stay root's and 0444 either way.
			nested := slices.ContainsFunc(c.Mounts, func(m devenv.Mount) bool { return strings.HasPrefix(m.Target, devenv.SecretsDir+"/") })
			s.Volumes = append(s.Volumes, composeMount{Type: "volume", Source: key, Target: devenv.SecretsDir, ReadOnly: !nested})
			s.depend(key, "service_completed_successfully")
		}
		cf.Services[c.Service] = s
		if len(c.Secrets) > 0 {
			name, fill := secretsFiller(p, c, s.Image, msxImages)
			if fill.Image == s.Image {
				// The same build as the program's: never a pull of an
				// image of that name before the program's build made it.
				fill.Build = s.Build
			}
			cf.Services[name] = fill
			for _, sec := range c.Secrets {
				cf.Secrets[sec.Name] = composeSecret{File: rel + "/.msx/secrets/" + sec.Name}
			}
		}
	}
	// Secrets of a program's own besides the gateway's keys (identity
	// keys, a broker seed, the broker's configuration): neither a
	// service's image nor the broker's has a shell or install-secrets,
	// the gateway's has.
	if gw := p.Container(devenv.GatewayName); gw != nil {
		gs := cf.Services[devenv.GatewayName]
		for _, c := range p.Containers {
			if fill := cf.Services[c.Service+"-secrets"]; c.Service != devenv.GatewayName && ownSecrets(c) && fill != nil {
				fill.Image, fill.Build = gs.Image, gs.Build
				fill.Entrypoint = []string{programPath(*gw, msxImages), "install-secrets", secretFiles, devenv.SecretsDir}
				if err := ownDirs(p, c, fill); err != nil {
					return nil, err
				}
			}
		}
	}
	var buf bytes.Buffer
	buf.WriteString(header("compose"))
	buf.WriteString("# Secrets are the files msx keeps under .msx/secrets (mode 0600), never values: a one-off\n")
	buf.WriteString("# container per instance (INSTANCE-secrets) copies them, readable, into the volume that\n")
	buf.WriteString("# the instance and its services mount read-only, as msx up writes them.\n")
	if slices.ContainsFunc(p.Containers, ownSecrets) {
		buf.WriteString("# The gateway's keys and each program's identity keys go the same way into a volume of\n")
		buf.WriteString("# its own (SERVICE-secrets); only the gateway gets the gateway's private identity key.\n")
	}
	if p.BrokerUsers != nil {
		buf.WriteString("# So do each program's broker seed (SERVICE-secrets), which no other program mounts, and\n")
		buf.WriteString("# the broker's configuration (nats-secrets), which holds the public keys only.\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cf); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	files := []File{{Path: ComposeFile, Data: buf.Bytes()}}
	if !msxImages && hasCollector(p) {
		cfiles, err := collectorFiles()
		if err != nil {
			return nil, err
		}
		files = append(files, cfiles...)
	}
	return files, nil
}

func (s *composeService) depend(on, condition string) {
	if s.DependsOn == nil {
		s.DependsOn = map[string]composeDep{}
	}
	s.DependsOn[on] = composeDep{Condition: condition}
}

// harden confines a Compose service as the plan's hardening says, the way
// the runner applies it to a container.
func harden(s *composeService, h *devenv.Hardening) {
	s.Restart = "no"
	if h == nil {
		return
	}
	s.ReadOnly = h.ReadOnlyRootFS
	for _, path := range slices.Sorted(maps.Keys(h.Tmpfs)) {
		t := path
		if opts := h.Tmpfs[path]; opts != "" {
			t += ":" + opts
		}
		s.Tmpfs = append(s.Tmpfs, t)
	}
	s.CapDrop = slices.Clone(h.CapDrop)
	s.CapAdd = slices.Clone(h.CapAdd)
	if h.NoNewPrivileges {
		s.SecurityOpt = []string{"no-new-privileges:true"}
	}
	if h.MemoryBytes > 0 {
		s.MemLimit = memSize(h.MemoryBytes)
	}
	s.PidsLimit = h.Pids
	if h.RestartOnFailure > 0 {
		s.Restart = fmt.Sprintf("on-failure:%d", h.RestartOnFailure)
	}
}

// memSize writes a byte count as Compose does best: in MiB when whole.
func memSize(b int64) string {
	if b%(1<<20) == 0 {
		return strconv.FormatInt(b>>20, 10) + "m"
	}
	return strconv.FormatInt(b, 10)
}

// healthcheck is a container's Compose health check, as the runner sets
// it: the readiness command of an instance, or the program's own check.
// The broker has neither (its image holds nothing to run but the
// server).
func healthcheck(c devenv.Container, msxImages bool) *composeHealth {
	if len(c.Ready.Healthcheck) > 0 {
		h := readyCheck
		h.Test = c.Ready.Healthcheck
		return &h
	}
	if test := selfCheck(c, msxImages); test != nil {
		h := selfHealth
		h.Test = test
		return &h
	}
	return nil
}

// isSecrets reports whether a mount is of a secrets volume (at SecretsDir,
// or SecretsDir/KIND in a service).
func isSecrets(m devenv.Mount) bool {
	return m.Target == devenv.SecretsDir || strings.HasPrefix(m.Target, devenv.SecretsDir+"/")
}

// ownSecrets reports whether a container has secrets of its own, in no
// instance's secrets volume: the gateway's keys, which msx up writes into
// an anonymous volume at SecretsDir.
func ownSecrets(c devenv.Container) bool {
	return len(c.Secrets) > 0 && !slices.ContainsFunc(c.Mounts, func(m devenv.Mount) bool { return m.Target == devenv.SecretsDir })
}

// secretFiles is where a filler finds the Compose secrets it copies: not
// under SecretsDir, where its volume is.
const secretFiles = "/run/msx-secret-files"

// secretsFiller is the one-off service that does what msx up's runner does
// before an instance first starts: write its secrets as files, readable by
// every user (0444), into the volume that only the instance and its
// services mount. Compose mounts a file secret with its host owner and
// mode (0600) and ignores uid, gid and mode, so neither a database image
// that steps down to its own user nor a service's unprivileged user could
// read it there. The filler runs the instance's image (it has a shell) as
// root, with nothing but the right to read the host's file, no network,
// and a read-only root file system.
//
// A container with secrets of its own (the gateway's keys) has its volume
// named SERVICE-secrets, and its image has no shell (FROM scratch): its
// filler runs that image (image) with the gateway's install-secrets
// argument, so an export never needs another image for this.
func secretsFiller(p *devenv.Plan, c devenv.Container, image string, msxImages bool) (string, *composeService) {
	vol, shell := c.Service+"-secrets", false
	for _, m := range c.Mounts {
		if m.Target == devenv.SecretsDir {
			vol, image, shell = volumeKey(p, m.Volume), c.Image.Ref, true
		}
	}
	var script []string
	s := &composeService{
		Image:       image,
		User:        "0",
		NetworkMode: "none",
		Volumes:     []composeMount{{Type: "volume", Source: vol, Target: devenv.SecretsDir}},
		Labels: map[string]string{
			devenv.LabelProject: p.Project,
			devenv.LabelService: vol,
			devenv.LabelRole:    "secrets",
		},
	}
	harden(s, c.Hardening)
	s.CapAdd = []string{"DAC_OVERRIDE"}
	s.Tmpfs, s.StopSignal, s.Restart, s.Healthcheck = nil, "", "no", nil
	for _, sec := range c.Secrets {
		src, dst := secretFiles+"/"+sec.File, devenv.SecretsDir+"/"+sec.File
		s.Secrets = append(s.Secrets, composeSecretMount{Source: sec.Name, Target: src})
		script = append(script, fmt.Sprintf("cp %s %s.new && chmod 0444 %s.new && mv -f %s.new %s", src, dst, dst, dst, dst))
	}
	if shell {
		s.Entrypoint = []string{"/bin/sh", "-ec", strings.Join(script, "\n")}
	} else {
		s.Entrypoint = []string{programPath(c, msxImages), "install-secrets", secretFiles, devenv.SecretsDir}
	}
	return vol, s
}

// ownDirs makes a filler also make the container's OwnedDirs (the broker's
// store), owned by its user, as msx up's runner does before it starts:
// the volume is root's, the program is not root.
//
// It also makes, in the container's secrets volume, the folder where a
// secrets volume of an instance it uses is mounted (a database's
// password, at SecretsDir/postgres): the engine cannot make it in a
// volume mounted read-only.
func ownDirs(p *devenv.Plan, c devenv.Container, fill *composeService) error {
	var specs []string
	for _, m := range c.Mounts {
		if strings.HasPrefix(m.Target, devenv.SecretsDir+"/") {
			specs = append(specs, m.Target+":0")
		}
	}
	for _, d := range c.OwnedDirs {
		for _, m := range c.Mounts {
			if strings.HasPrefix(d, m.Target+"/") {
				fill.Volumes = append(fill.Volumes, composeMount{Type: "volume", Source: volumeKey(p, m.Volume), Target: m.Target})
			}
		}
		specs = append(specs, d+":"+c.User)
		fill.CapAdd = append(fill.CapAdd, "CHOWN")
	}
	if len(specs) > 0 {
		fill.Environment = map[string]string{"MSX_OWNED_DIR": strings.Join(specs, ",")}
	}
	return nil
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

// Dockerfiles lists the production Dockerfiles of the workspace that a
// Compose export without msx's images builds from, relative to the
// workspace root (the collector's is the export's own).
func Dockerfiles(p *devenv.Plan) []string {
	programs, _ := split(p)
	out := make([]string, 0, len(programs))
	for _, c := range programs {
		if !isCollector(c) {
			out = append(out, dockerfile(c))
		}
	}
	return out
}
