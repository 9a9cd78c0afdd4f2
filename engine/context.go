package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/msxerr"
)

// DefaultContext is the Docker context that stands for the environment:
// DOCKER_HOST, or the engine's usual socket.
const DefaultContext = "default"

// Endpoint is the engine msx talks to, and why that one: the engine the
// docker CLI would use in the same shell.
type Endpoint struct {
	// Context is the Docker context, DefaultContext for the environment.
	Context string `json:"context"`
	// Host is the engine's address: unix:///var/run/docker.sock,
	// tcp://host:2376, ssh://user@host.
	Host string `json:"host"`
	// Reason says why this engine: which setting chose it.
	Reason string `json:"reason"`

	// ep is the context's endpoint with its TLS material; nil for the
	// environment, which client.FromEnv reads as it always did.
	ep *docker.Endpoint
	// tls is whether the client speaks https to the engine.
	tls bool
	// getenv is the environment Resolve read: hints look at it too.
	getenv func(string) string
}

// Resolve finds the engine as the docker CLI does: DOCKER_HOST first, then
// the context named by DOCKER_CONTEXT, then currentContext in
// $DOCKER_CONFIG/config.json (default ~/.docker), else the default socket.
// A context's endpoint brings its TLS material (contexts/tls) and
// SkipTLSVerify. getenv is os.Getenv outside tests.
func Resolve(getenv func(string) string) (Endpoint, error) {
	if h := getenv("DOCKER_HOST"); h != "" {
		e := Endpoint{Context: DefaultContext, Host: h, Reason: "DOCKER_HOST is set", getenv: getenv}
		e.tls = getenv("DOCKER_CERT_PATH") != "" // what client.FromEnv does
		if strings.HasPrefix(h, "ssh://") {
			e.ep = &docker.Endpoint{EndpointMeta: docker.EndpointMeta{Host: h}}
			e.tls = false
		}
		return e, nil
	}
	dir := ConfigDir(getenv)
	name, reason := getenv("DOCKER_CONTEXT"), "DOCKER_CONTEXT is set"
	if name == "" {
		cfg := filepath.Join(dir, "config.json")
		cur, err := currentContext(cfg)
		if err != nil {
			return Endpoint{}, err
		}
		name, reason = cur, "it is the current context in "+cfg
	}
	if name == "" || name == DefaultContext {
		if name == "" {
			reason = "neither DOCKER_HOST, DOCKER_CONTEXT nor a current context is set"
		}
		return Endpoint{Context: DefaultContext, Host: client.DefaultDockerHost, Reason: reason,
			tls: getenv("DOCKER_CERT_PATH") != "", getenv: getenv}, nil
	}
	s := store.New(filepath.Join(dir, "contexts"), storeConfig)
	meta, err := s.GetMetadata(name)
	if err != nil {
		var nf interface{ NotFound() }
		if errors.As(err, &nf) {
			return Endpoint{}, msxerr.Wrap(err, switchHint(reason),
				"the Docker context %q does not exist (%s)", name, reason)
		}
		return Endpoint{}, msxerr.Wrap(err, "check the folder with docker context inspect "+name,
			"cannot read the Docker context %q: %v", name, err)
	}
	em, err := docker.EndpointFromContext(meta)
	if err != nil {
		return Endpoint{}, msxerr.Wrap(err, "recreate it with docker context create, or "+switchHint(reason),
			"the Docker context %q has no Docker endpoint", name)
	}
	ep, err := docker.WithTLSData(s, name, em)
	if err != nil {
		return Endpoint{}, msxerr.Wrap(err, "check its files with docker context inspect "+name,
			"cannot read the TLS files of the Docker context %q: %v", name, err)
	}
	e := Endpoint{Context: name, Host: ep.Host, Reason: reason, ep: &ep, getenv: getenv}
	if e.Host == "" {
		e.Host = client.DefaultDockerHost
	}
	e.tls = !isLocalSocket(e.Host) && !strings.HasPrefix(e.Host, "ssh://") && (ep.TLSData != nil || ep.SkipTLSVerify)
	return e, nil
}

// storeConfig reads contexts as the docker CLI writes them; msx needs only
// the docker endpoint, so the context's own metadata stays untyped.
var storeConfig = store.NewConfig(nil,
	store.EndpointTypeGetter(docker.DockerEndpoint, func() any { return &docker.EndpointMeta{} }))

// ConfigDir is the docker CLI's configuration folder: $DOCKER_CONFIG, or
// .docker in the home folder.
func ConfigDir(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := getenv("HOME")
	if runtime.GOOS == "windows" {
		home = getenv("USERPROFILE")
	}
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// currentContext reads currentContext from the CLI's config.json; a missing
// file means no current context, as for the CLI.
func currentContext(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", msxerr.Wrap(err, "check its permissions", "cannot read %s: %v", path, err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return "", nil
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", msxerr.Wrap(err, "fix the JSON (docker reads the same file)", "cannot read %s: %v", path, err)
	}
	return cfg.CurrentContext, nil
}

func switchHint(reason string) string {
	if strings.HasPrefix(reason, "DOCKER_CONTEXT") {
		return "set DOCKER_CONTEXT to a context that docker context ls lists, or unset it"
	}
	return "switch with docker context use NAME (docker context ls lists them), or set DOCKER_HOST"
}

// clientOpts are the Docker client's options for the endpoint.
func (e Endpoint) clientOpts() ([]client.Opt, error) {
	if e.ep == nil {
		return []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}, nil
	}
	// The CLI's own endpoint code: TLS material, SkipTLSVerify, and ssh://
	// through `ssh HOST docker system dial-stdio`.
	return e.ep.ClientOpts()
}

// String names the engine and why it was chosen, for msx doctor and errors.
func (e Endpoint) String() string {
	return fmt.Sprintf("%s (context %s: %s)", e.Host, e.Context, e.Reason)
}

// Remote reports whether the engine runs on another machine: then the
// ports it publishes on 127.0.0.1 are that machine's, not this one's. A
// socket counts as local: Docker Desktop, Colima, OrbStack and Rancher
// Desktop forward published ports to this machine's 127.0.0.1.
func (e Endpoint) Remote() bool {
	if isLocalSocket(e.Host) {
		return false
	}
	u, err := url.Parse(e.Host)
	if err != nil {
		return false
	}
	if u.Scheme == "ssh" {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// RemoteHost is the machine a remote engine runs on, as its address names it.
func (e Endpoint) RemoteHost() string {
	u, err := url.Parse(e.Host)
	if err != nil || u.Hostname() == "" {
		return e.Host
	}
	return u.Hostname()
}

// Unreachable is the error for commands that need the ports a remote engine
// publishes: they are on 127.0.0.1 of the engine's machine, which msx
// cannot reach from here.
func (e Endpoint) Unreachable() error {
	return msxerr.New(
		fmt.Sprintf("run msx on %s, or use an engine on this machine (docker context use NAME, or DOCKER_HOST)", e.RemoteHost()),
		"the engine at %s (context %s) runs on %s: the ports msx publishes on its 127.0.0.1 cannot be reached from here",
		e.Host, e.Context, e.RemoteHost())
}

// NotAnswering is the error every command that needs Docker returns when the
// engine does not answer: it names the engine, its context, and how to
// switch to another.
func (e Endpoint) NotAnswering(err error) error {
	var hint string
	switch {
	case e.Context != DefaultContext:
		hint = fmt.Sprintf("start the engine of context %s, or switch with docker context use NAME (docker context ls lists them) or DOCKER_HOST; then run msx doctor", e.Context)
	case e.Reason == "DOCKER_HOST is set":
		hint = "start the engine DOCKER_HOST names, or unset DOCKER_HOST to use the current Docker context; then run msx doctor"
	default:
		hint = "start Docker, or switch to your engine with docker context use NAME or DOCKER_HOST; then run msx doctor"
		if sock := e.rootlessSocket(); sock != "" {
			hint = fmt.Sprintf("rootless Docker listens on %s: create a context for it (docker context create rootless --docker host=unix://%s, then docker context use rootless) or set DOCKER_HOST=unix://%s", sock, sock, sock)
		}
	}
	return msxerr.Wrap(err, hint, "Docker is not answering at %s (context %s)", e.Host, e.Context)
}

// rootlessSocket is rootless Docker's socket under $XDG_RUNTIME_DIR when it
// exists: the engine a user without the system socket most likely has.
func (e Endpoint) rootlessSocket() string {
	if e.getenv == nil {
		return ""
	}
	dir := e.getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return ""
	}
	sock := filepath.Join(dir, "docker.sock")
	if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
		return sock
	}
	return ""
}

func isLocalSocket(host string) bool {
	proto, _, _ := strings.Cut(host, "://")
	return proto == "unix" || proto == "npipe" || proto == "fd"
}
