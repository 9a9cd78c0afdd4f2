// Package doctor checks that a machine can run msx: Docker, Go, the
// gateway's port, disk space and the build cache. Each check says how to fix
// what fails. The package does no I/O of its own: it runs over small
// interfaces that cmd wires to the engine, the go command, the network and
// the file system, so every check is testable with fakes.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/engine"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/templates"
)

// Status is the outcome of a check.
type Status string

// Outcomes of a check. Only StatusFail makes msx doctor exit non-zero.
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Check is one row of the report.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"` // one line; set when the check did not pass
}

// Report is the result of all checks, in a fixed order.
type Report struct {
	Checks []Check `json:"checks"`
	OK     bool    `json:"ok"` // no check failed
}

// Docker is the slice of the Docker client doctor needs.
type Docker interface {
	ServerVersion(ctx context.Context) (types.Version, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	// DistributionInspect asks the registry about an image without
	// pulling it: can msx up pull what is missing?
	DistributionInspect(ctx context.Context, ref, encodedRegistryAuth string) (registry.DistributionInspect, error)
}

// Env is what the checks look at. Every function field is required unless
// it says otherwise.
type Env struct {
	// Engine says which engine msx talks to and why (engine.Resolve); may
	// be nil.
	Engine func() (engine.Endpoint, error)
	// Docker connects to the engine; an error is the failing Docker row.
	Docker func(ctx context.Context) (Docker, error)
	// GoVersion runs `go version` and returns its output.
	GoVersion func(ctx context.Context) (string, error)
	// GoCache returns the build cache folder (`go env GOCACHE`); may be nil.
	GoCache func(ctx context.Context) (string, error)
	// PortFree returns nil when a TCP listener can bind 127.0.0.1:port.
	PortFree func(port int) error
	// DiskFree returns the bytes free for an unprivileged user in dir.
	DiskFree func(dir string) (uint64, error)

	// Dir is the workspace folder (or the current folder without one).
	Dir string
	// Manifest is the workspace's manifest; nil without one.
	Manifest *devenv.Manifest
	// GatewayPort is the gateway port outside a workspace (MSX_GATEWAY_PORT);
	// 0 means the default. A manifest's port wins.
	GatewayPort int
	// ManifestErr is why the manifest could not be loaded; nil when there
	// is none to load (not in a workspace) or it loaded.
	ManifestErr error
}

// MinGo is the oldest Go that builds generated code: the go directive of
// its go.mod, templates.GoVersion.
var MinGo = mustGoVersion("go" + templates.GoVersion)

func mustGoVersion(s string) goVersion {
	v, ok := parseGoVersion(s)
	if !ok {
		panic("templates.GoVersion is not a Go version: " + s)
	}
	return v
}

// LowDisk is the free space under which the disk check warns.
const LowDisk = 2 << 30

// dockerTimeout bounds each question to the engine, so that a hung engine
// makes a failing row, not a hung doctor.
const dockerTimeout = 5 * time.Second

// Run runs every check and returns the report.
func Run(ctx context.Context, env Env) Report {
	var r Report
	r.Checks = append(r.Checks, checkWorkspace(env))
	if env.Engine != nil {
		r.Checks = append(r.Checks, checkEngine(env))
	}
	dockerCheck, docker := checkDocker(ctx, env)
	r.Checks = append(r.Checks, dockerCheck)
	goCheck := checkGo(ctx, env)
	r.Checks = append(r.Checks, goCheck)
	if env.GoCache != nil {
		r.Checks = append(r.Checks, checkGoCache(ctx, env, goCheck.Status != StatusFail))
	}
	r.Checks = append(r.Checks, checkImages(ctx, env, docker))
	r.Checks = append(r.Checks, checkPort(ctx, env, docker))
	r.Checks = append(r.Checks, checkDisk(env))
	r.OK = true
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			r.OK = false
		}
	}
	return r
}

func checkWorkspace(env Env) Check {
	c := Check{Name: "Workspace"}
	switch {
	case env.ManifestErr != nil:
		c.Status, c.Detail = StatusFail, message(env.ManifestErr)
		c.Fix = "fix msx.yaml or the MSX_* environment variables; msx up reads them the same way"
		var me *msxerr.Error
		if errors.As(env.ManifestErr, &me) && me.Hint != "" {
			c.Fix = me.Hint
		}
	case env.Manifest == nil:
		c.Status, c.Detail = StatusSkip, "no "+devenv.FileName+" here or above; checking with defaults"
	default:
		c.Status = StatusOK
		c.Detail = fmt.Sprintf("project %s in %s, %d service(s)", env.Manifest.Project, env.Manifest.Dir, len(env.Manifest.Services))
	}
	return c
}

// checkEngine names the engine the docker CLI would use, and why: a
// newcomer whose docker ps works sees at once whether msx chose the same.
func checkEngine(env Env) Check {
	c := Check{Name: "Engine"}
	e, err := env.Engine()
	if err != nil {
		c.Status, c.Detail, c.Fix = StatusFail, message(err), hint(err, "check DOCKER_HOST and DOCKER_CONTEXT against docker context ls")
		return c
	}
	c.Status, c.Detail = StatusOK, e.String()
	if e.Remote() {
		c.Status = StatusWarn
		c.Detail += "; it runs on " + e.RemoteHost() + ", so the ports msx publishes on 127.0.0.1 are there and msx up cannot reach them"
		c.Fix = hint(e.Unreachable(), "")
	}
	return c
}

func checkDocker(ctx context.Context, env Env) (Check, Docker) {
	c := Check{Name: "Docker"}
	fix := "start Docker (or point DOCKER_HOST at a running engine), then run msx doctor again"
	// Connecting bounds its own wait (engine.Connect pings under a timeout).
	d, err := env.Docker(ctx)
	if err != nil {
		// The engine's error names the context and how to switch.
		c.Status, c.Detail, c.Fix = StatusFail, "not reachable: "+message(err), hint(err, fix)
		return c, nil
	}
	vctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	v, err := d.ServerVersion(vctx)
	if err != nil {
		c.Status, c.Detail, c.Fix = StatusFail, "not answering: "+message(err), fix
		return c, nil
	}
	c.Status = StatusOK
	// Podman serves the Docker API too, and names itself among the components.
	name := "Docker Engine"
	for _, comp := range v.Components {
		if comp.Name == "Podman Engine" {
			name = comp.Name
		}
	}
	c.Detail = fmt.Sprintf("%s %s, API %s, %s/%s", name, v.Version, v.APIVersion, v.Os, v.Arch)
	return c, d
}

func checkGo(ctx context.Context, env Env) Check {
	c := Check{Name: "Go"}
	fix := fmt.Sprintf("install Go %s or newer from https://go.dev/dl and put it on PATH", MinGo)
	out, err := env.GoVersion(ctx)
	if err != nil {
		c.Status, c.Detail, c.Fix = StatusFail, "go not found: "+oneLine(err.Error()), fix
		return c
	}
	v, ok := parseGoVersion(out)
	if !ok {
		c.Status, c.Detail, c.Fix = StatusFail, fmt.Sprintf("cannot read the version in %q", oneLine(out)), fix
		return c
	}
	c.Detail = strings.TrimPrefix(oneLine(out), "go version ")
	if v.less(MinGo) {
		c.Status, c.Fix = StatusFail, fix
		c.Detail = fmt.Sprintf("%s is too old to build generated code (need %s)", v, MinGo)
		return c
	}
	c.Status = StatusOK
	return c
}

func checkGoCache(ctx context.Context, env Env, haveGo bool) Check {
	c := Check{Name: "Build cache"}
	if !haveGo {
		c.Status, c.Detail = StatusSkip, "needs Go"
		return c
	}
	dir, err := env.GoCache(ctx)
	dir = strings.TrimSpace(dir)
	switch {
	case err != nil:
		c.Status, c.Detail = StatusWarn, "go env GOCACHE failed: "+oneLine(err.Error())
		c.Fix = "check your Go installation; builds will be slow without a cache"
	case dir == "" || dir == "off":
		c.Status, c.Detail = StatusWarn, "the Go build cache is off"
		c.Fix = "unset GOCACHE (or point it at a writable folder) so that rebuilds are fast"
	default:
		c.Status, c.Detail = StatusOK, dir
	}
	return c
}

// checkImages checks that the infrastructure images the workspace needs
// are on this machine, or can be pulled: msx up checks the same before it
// compiles anything.
func checkImages(ctx context.Context, env Env, docker Docker) Check {
	c := Check{Name: "Images"}
	if env.Manifest == nil {
		c.Status, c.Detail = StatusSkip, "no workspace"
		return c
	}
	all := map[string]bool{}
	for n := range env.Manifest.Services {
		all[n] = true
	}
	// Kinds msx compiles (the trace collector) have no image to check.
	kinds := slices.DeleteFunc(env.Manifest.NeededKinds(all), func(k *devenv.Kind) bool { return k.Build != "" })
	if len(kinds) == 0 {
		c.Status, c.Detail = StatusOK, "no service needs one"
		return c
	}
	if docker == nil {
		c.Status, c.Detail = StatusSkip, "needs Docker"
		return c
	}
	var have, pull []string
	for _, k := range kinds {
		ref := env.Manifest.Image(k)
		ictx, cancel := context.WithTimeout(ctx, dockerTimeout)
		_, err := docker.ImageInspect(ictx, ref)
		cancel()
		if err == nil {
			have = append(have, ref)
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 2*dockerTimeout)
		_, derr := docker.DistributionInspect(dctx, ref, "")
		cancel()
		if derr != nil {
			c.Status = StatusFail
			c.Detail = fmt.Sprintf("%s (%s) is not on this machine and cannot be pulled: %s", ref, k.Name, message(derr))
			c.Fix = devenv.ImageHint(k.Name, ref)
			return c
		}
		pull = append(pull, ref)
	}
	c.Status = StatusOK
	var parts []string
	if len(have) > 0 {
		parts = append(parts, strings.Join(have, ", ")+" present")
	}
	if len(pull) > 0 {
		parts = append(parts, strings.Join(pull, ", ")+" pulled at the first msx up")
	}
	c.Detail = strings.Join(parts, "; ")
	return c
}

func checkPort(ctx context.Context, env Env, docker Docker) Check {
	port := devenv.DefaultGatewayPort
	if env.GatewayPort != 0 {
		port = env.GatewayPort
	}
	if env.Manifest != nil && env.Manifest.Gateway.Port != 0 {
		port = env.Manifest.Gateway.Port
	}
	c := Check{Name: "Gateway port"}
	addr := fmt.Sprintf("%s:%d", devenv.LoopbackIP, port)
	err := env.PortFree(port)
	if err == nil {
		c.Status, c.Detail = StatusOK, addr+" is free"
		return c
	}
	if docker != nil && env.Manifest != nil && ownGateway(ctx, docker, env.Manifest, port) {
		c.Status, c.Detail = StatusOK, addr+" is held by this project's gateway"
		return c
	}
	c.Status, c.Detail = StatusFail, addr+" is in use"
	c.Fix = fmt.Sprintf("stop what listens on port %d, or set gateway.port in msx.yaml (or MSX_GATEWAY_PORT) to a free port", port)
	return c
}

// ownGateway reports whether this workspace's gateway container publishes
// port: then the port being taken is msx up having run, not a conflict.
func ownGateway(ctx context.Context, docker Docker, m *devenv.Manifest, port int) bool {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	args := filters.NewArgs(
		filters.Arg("label", devenv.LabelProject+"="+m.Project),
		filters.Arg("label", devenv.LabelService+"="+devenv.GatewayName),
	)
	list, err := docker.ContainerList(ctx, container.ListOptions{Filters: args})
	if err != nil {
		return false
	}
	for _, ct := range list {
		if ws, ok := ct.Labels[devenv.LabelWorkspace]; ok && m.Dir != "" && ws != m.Dir {
			continue // a project of the same name in another folder
		}
		for _, p := range ct.Ports {
			if int(p.PublicPort) == port {
				return true
			}
		}
	}
	return false
}

func checkDisk(env Env) Check {
	c := Check{Name: "Disk space"}
	free, err := env.DiskFree(env.Dir)
	if err != nil {
		c.Status, c.Detail = StatusWarn, "cannot tell: "+oneLine(err.Error())
		return c
	}
	c.Detail = fmt.Sprintf("%s free in %s", humanBytes(free), env.Dir)
	if free < LowDisk {
		c.Status = StatusWarn
		c.Fix = "free at least 2 GiB: Go's build cache and Docker images need room (go clean -cache and docker image prune help)"
		return c
	}
	c.Status = StatusOK
	return c
}

// goVersion is a Go release: 1.22.0.
type goVersion struct{ major, minor, patch int }

func (v goVersion) String() string {
	if v.patch == 0 {
		return fmt.Sprintf("%d.%d", v.major, v.minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
}

func (v goVersion) less(w goVersion) bool {
	if v.major != w.major {
		return v.major < w.major
	}
	if v.minor != w.minor {
		return v.minor < w.minor
	}
	return v.patch < w.patch
}

var goVersionRE = regexp.MustCompile(`\bgo(\d+)\.(\d+)(?:\.(\d+))?`)

// parseGoVersion reads the release from `go version` output:
// "go version go1.26.8 linux/amd64", "go version go1.23rc1 darwin/arm64",
// "go version devel go1.27-abcdef ...".
func parseGoVersion(out string) (goVersion, bool) {
	m := goVersionRE.FindStringSubmatch(out)
	if m == nil {
		return goVersion{}, false
	}
	var v goVersion
	v.major, _ = strconv.Atoi(m[1])
	v.minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.patch, _ = strconv.Atoi(m[3])
	}
	return v, true
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// message is err on one line, without the hint of an msxerr.Error: the
// report has its own fix column.
func message(err error) string {
	var me *msxerr.Error
	if errors.As(err, &me) {
		return oneLine(me.Msg)
	}
	return oneLine(err.Error())
}

// hint is the fix an msxerr.Error carries, else def.
func hint(err error, def string) string {
	var me *msxerr.Error
	if errors.As(err, &me) && me.Hint != "" {
		return oneLine(me.Hint)
	}
	return def
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
