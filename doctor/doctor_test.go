package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/engine"
	"github.com/msx-dev/msx/msxerr"
)

var _ Docker = (*client.Client)(nil)

type fakeDocker struct {
	version    types.Version
	versionErr error
	containers []container.Summary
	listed     []string // label filters asked for
	images     map[string]bool
	pullable   map[string]bool
}

func (d *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if d.images[ref] {
		return image.InspectResponse{ID: ref}, nil
	}
	return image.InspectResponse{}, errors.New("No such image: " + ref)
}

func (d *fakeDocker) DistributionInspect(_ context.Context, ref, _ string) (registry.DistributionInspect, error) {
	if d.pullable[ref] {
		return registry.DistributionInspect{}, nil
	}
	return registry.DistributionInspect{}, errors.New(`Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host`)
}

func (d *fakeDocker) ServerVersion(context.Context) (types.Version, error) {
	return d.version, d.versionErr
}

func (d *fakeDocker) ContainerList(_ context.Context, opts container.ListOptions) ([]container.Summary, error) {
	want := opts.Filters.Get("label")
	d.listed = append(d.listed, want...)
	var out []container.Summary
next:
	for _, c := range d.containers {
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if c.Labels[k] != v {
				continue next
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// healthy is an Env where every check passes; tests break one thing.
func healthy() (Env, *fakeDocker) {
	d := &fakeDocker{version: types.Version{Version: "20.10.24", APIVersion: "1.41", Os: "linux", Arch: "amd64"}}
	return Env{
		Docker:    func(context.Context) (Docker, error) { return d, nil },
		GoVersion: func(context.Context) (string, error) { return "go version go1.26.8 linux/amd64", nil },
		GoCache:   func(context.Context) (string, error) { return "/home/u/.cache/go-build\n", nil },
		PortFree:  func(int) error { return nil },
		DiskFree:  func(string) (uint64, error) { return 50 << 30, nil },
		Dir:       "/home/u/shop",
	}, d
}

func find(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

func TestAllPass(t *testing.T) {
	env, _ := healthy()
	r := Run(context.Background(), env)
	if !r.OK {
		t.Fatalf("report not OK: %+v", r.Checks)
	}
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name)
		if c.Fix != "" {
			t.Errorf("%s passed but has a fix: %q", c.Name, c.Fix)
		}
	}
	if got := strings.Join(names, ","); got != "Workspace,Docker,Go,Build cache,Images,Gateway port,Disk space" {
		t.Errorf("checks = %s", got)
	}
	if c := find(t, r, "Docker"); c.Status != StatusOK || c.Detail != "Docker Engine 20.10.24, API 1.41, linux/amd64" {
		t.Errorf("docker = %+v", c)
	}
	if c := find(t, r, "Go"); c.Status != StatusOK || c.Detail != "go1.26.8 linux/amd64" {
		t.Errorf("go = %+v", c)
	}
	if c := find(t, r, "Build cache"); c.Detail != "/home/u/.cache/go-build" {
		t.Errorf("build cache = %+v", c)
	}
	if c := find(t, r, "Gateway port"); c.Status != StatusOK || c.Detail != "127.0.0.1:8080 is free" {
		t.Errorf("port = %+v", c)
	}
	if c := find(t, r, "Workspace"); c.Status != StatusSkip {
		t.Errorf("workspace without a manifest = %+v", c)
	}
}

func TestDockerUnreachable(t *testing.T) {
	env, _ := healthy()
	env.Docker = func(context.Context) (Docker, error) {
		return nil, msxerr.New("start Docker, then run msx doctor to check the set-up", "Docker is not answering at unix:///var/run/docker.sock")
	}
	r := Run(context.Background(), env)
	c := find(t, r, "Docker")
	if r.OK || c.Status != StatusFail {
		t.Fatalf("report OK=%v docker=%+v", r.OK, c)
	}
	if c.Detail != "not reachable: Docker is not answering at unix:///var/run/docker.sock" {
		t.Errorf("detail = %q", c.Detail)
	}
	if !strings.Contains(c.Fix, "start Docker") {
		t.Errorf("fix = %q", c.Fix)
	}
}

func TestDockerNotAnswering(t *testing.T) {
	env, d := healthy()
	d.versionErr = errors.New("context deadline exceeded")
	c := find(t, Run(context.Background(), env), "Docker")
	if c.Status != StatusFail || !strings.Contains(c.Detail, "deadline") || c.Fix == "" {
		t.Errorf("docker = %+v", c)
	}
}

func TestGoVersions(t *testing.T) {
	for _, tc := range []struct {
		out    string
		err    error
		status Status
		detail string
	}{
		{out: "go version go1.26.0 linux/amd64", status: StatusOK},
		{out: "go version go1.26 darwin/arm64", status: StatusOK},
		{out: "go version go1.27rc1 linux/amd64", status: StatusOK},
		{out: "go version devel go1.28-4f2a1b3 Tue Jan 1 linux/amd64", status: StatusOK},
		{out: "go version go1.25.13 linux/amd64", status: StatusFail, detail: "1.25.13 is too old to build generated code (need 1.26)"},
		{out: "go version go1.22.0 linux/amd64", status: StatusFail},
		{out: "go version go1.9 linux/amd64", status: StatusFail},
		{out: "gccgo (GCC) 4.9", status: StatusFail, detail: "cannot read the version"},
		{err: errors.New("no go command on PATH"), status: StatusFail, detail: "go not found: no go command on PATH"},
	} {
		env, _ := healthy()
		env.GoVersion = func(context.Context) (string, error) { return tc.out, tc.err }
		r := Run(context.Background(), env)
		c := find(t, r, "Go")
		if c.Status != tc.status || !strings.Contains(c.Detail, tc.detail) {
			t.Errorf("%q: go = %+v, want %s %q", tc.out, c, tc.status, tc.detail)
		}
		if tc.status == StatusFail {
			if !strings.Contains(c.Fix, "go.dev/dl") {
				t.Errorf("%q: fix = %q", tc.out, c.Fix)
			}
			if cache := find(t, r, "Build cache"); cache.Status != StatusSkip {
				t.Errorf("%q: build cache = %+v, want skip without Go", tc.out, cache)
			}
		}
	}
}

func TestBuildCacheOff(t *testing.T) {
	env, _ := healthy()
	env.GoCache = func(context.Context) (string, error) { return "off", nil }
	r := Run(context.Background(), env)
	if c := find(t, r, "Build cache"); c.Status != StatusWarn || c.Fix == "" {
		t.Errorf("build cache = %+v", c)
	}
	if !r.OK {
		t.Error("a warning failed the report")
	}

	env.GoCache = nil
	for _, c := range Run(context.Background(), env).Checks {
		if c.Name == "Build cache" {
			t.Error("build cache checked without a GoCache function")
		}
	}
}

func TestPortInUse(t *testing.T) {
	env, _ := healthy()
	var asked int
	env.PortFree = func(port int) error { asked = port; return errors.New("address already in use") }
	r := Run(context.Background(), env)
	c := find(t, r, "Gateway port")
	if r.OK || c.Status != StatusFail || c.Detail != "127.0.0.1:8080 is in use" {
		t.Fatalf("port = %+v", c)
	}
	if asked != 8080 || !strings.Contains(c.Fix, "port 8080") || !strings.Contains(c.Fix, "gateway.port") {
		t.Errorf("asked %d, fix = %q", asked, c.Fix)
	}
}

func TestPortFromManifest(t *testing.T) {
	env, _ := healthy()
	env.Manifest = &devenv.Manifest{Project: "shop", Dir: "/home/u/shop", Gateway: devenv.Gateway{Port: 9090}}
	var asked int
	env.PortFree = func(port int) error { asked = port; return nil }
	r := Run(context.Background(), env)
	if asked != 9090 {
		t.Errorf("checked port %d, want 9090 from the manifest", asked)
	}
	if c := find(t, r, "Workspace"); c.Status != StatusOK || !strings.Contains(c.Detail, "project shop") {
		t.Errorf("workspace = %+v", c)
	}
}

func TestPortHeldByOwnGateway(t *testing.T) {
	gateway := func(project, workspace string, port uint16) container.Summary {
		return container.Summary{
			Labels: map[string]string{
				devenv.LabelProject: project, devenv.LabelService: devenv.GatewayName, devenv.LabelWorkspace: workspace,
			},
			Ports: []container.Port{{IP: "127.0.0.1", PrivatePort: 8080, PublicPort: port, Type: "tcp"}},
		}
	}
	for _, tc := range []struct {
		name       string
		containers []container.Summary
		want       Status
	}{
		{"own gateway", []container.Summary{gateway("shop", "/home/u/shop", 8080)}, StatusOK},
		{"same project name, other folder", []container.Summary{gateway("shop", "/tmp/shop", 8080)}, StatusFail},
		{"other project", []container.Summary{gateway("blog", "/home/u/blog", 8080)}, StatusFail},
		{"own gateway on another port", []container.Summary{gateway("shop", "/home/u/shop", 8081)}, StatusFail},
		{"nothing of msx", nil, StatusFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, d := healthy()
			d.containers = tc.containers
			env.Manifest = &devenv.Manifest{Project: "shop", Dir: "/home/u/shop", Gateway: devenv.Gateway{Port: 8080}}
			env.PortFree = func(int) error { return errors.New("in use") }
			c := find(t, Run(context.Background(), env), "Gateway port")
			if c.Status != tc.want {
				t.Errorf("port = %+v, want %s", c, tc.want)
			}
			if tc.want == StatusOK && !strings.Contains(c.Detail, "this project's gateway") {
				t.Errorf("detail = %q", c.Detail)
			}
		})
	}
}

func TestPortInUseWithoutDocker(t *testing.T) {
	env, _ := healthy()
	env.Manifest = &devenv.Manifest{Project: "shop", Dir: "/home/u/shop", Gateway: devenv.Gateway{Port: 8080}}
	env.Docker = func(context.Context) (Docker, error) { return nil, errors.New("no engine") }
	env.PortFree = func(int) error { return errors.New("in use") }
	if c := find(t, Run(context.Background(), env), "Gateway port"); c.Status != StatusFail {
		t.Errorf("port = %+v", c)
	}
}

func TestDiskSpace(t *testing.T) {
	env, _ := healthy()
	var asked string
	env.DiskFree = func(dir string) (uint64, error) { asked = dir; return 1 << 30, nil }
	r := Run(context.Background(), env)
	c := find(t, r, "Disk space")
	if c.Status != StatusWarn || c.Detail != "1.0 GiB free in /home/u/shop" || c.Fix == "" {
		t.Errorf("disk = %+v", c)
	}
	if asked != "/home/u/shop" {
		t.Errorf("asked about %q", asked)
	}
	if !r.OK {
		t.Error("low disk space failed the report; it should only warn")
	}

	env.DiskFree = func(string) (uint64, error) { return LowDisk, nil }
	if c := find(t, Run(context.Background(), env), "Disk space"); c.Status != StatusOK {
		t.Errorf("disk at exactly 2 GiB = %+v", c)
	}
	env.DiskFree = func(string) (uint64, error) { return 0, errors.New("statfs: permission denied") }
	if c := find(t, Run(context.Background(), env), "Disk space"); c.Status != StatusWarn || !strings.Contains(c.Detail, "cannot tell") {
		t.Errorf("disk error = %+v", c)
	}
}

func TestBrokenManifest(t *testing.T) {
	env, _ := healthy()
	env.ManifestErr = msxerr.New("set it to a port between 1 and 65535", "MSX_GATEWAY_PORT is %q, not a port", "abc")
	r := Run(context.Background(), env)
	c := find(t, r, "Workspace")
	if r.OK || c.Status != StatusFail || c.Detail != `MSX_GATEWAY_PORT is "abc", not a port` || c.Fix != "set it to a port between 1 and 65535" {
		t.Errorf("workspace = %+v", c)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 29: "1.5 GiB", 74 << 30: "74.0 GiB", 2 << 40: "2.0 TiB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func sampleReport() Report {
	return Report{Checks: []Check{
		{Name: "Docker", Status: StatusOK, Detail: "Docker Engine 20.10.24, API 1.41, linux/amd64"},
		{Name: "Gateway port", Status: StatusFail, Detail: "127.0.0.1:8080 is in use", Fix: "stop what listens on port 8080"},
		{Name: "Disk space", Status: StatusWarn, Detail: "1.0 GiB free in /w", Fix: "free at least 2 GiB"},
	}}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf, false); err != nil {
		t.Fatal(err)
	}
	want := `Docker        OK    Docker Engine 20.10.24, API 1.41, linux/amd64
Gateway port  FAIL  127.0.0.1:8080 is in use
                    fix: stop what listens on port 8080
Disk space    WARN  1.0 GiB free in /w
                    fix: free at least 2 GiB

1 check(s) failed; fix them and run msx doctor again
`
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := sampleReport().WriteTable(&buf, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\x1b[31;1mFAIL\x1b[0m") {
		t.Errorf("no colour in %q", buf.String())
	}
}

func TestWriteTSV(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := "Docker\tok\tDocker Engine 20.10.24, API 1.41, linux/amd64\n" +
		"Gateway port\tfail\t127.0.0.1:8080 is in use\tstop what listens on port 8080\n" +
		"Disk space\twarn\t1.0 GiB free in /w\tfree at least 2 GiB\n"
	if buf.String() != want {
		t.Errorf("tsv = %q, want %q", buf.String(), want)
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	r := sampleReport()
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Checks) != 3 || back.Checks[1].Status != StatusFail || back.Checks[1].Fix == "" || back.OK {
		t.Errorf("round trip = %+v", back)
	}
	if strings.Contains(buf.String(), `"fix": ""`) {
		t.Error("empty fix not omitted")
	}
}

func TestRealPortFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen on loopback: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := PortFree(port); err == nil {
		t.Errorf("PortFree(%d) = nil while a listener holds it", port)
	}
	l.Close()
	if err := PortFree(port); err != nil {
		t.Errorf("PortFree(%d) after close: %v", port, err)
	}
}

func TestRealDiskFree(t *testing.T) {
	free, err := DiskFree(t.TempDir())
	if err != nil || free == 0 {
		t.Errorf("DiskFree = %d, %v", free, err)
	}
	if _, err := DiskFree("/no/such/folder/anywhere"); err == nil {
		t.Error("DiskFree of a missing folder: no error")
	}
}

func TestGatewayPortOutsideAWorkspace(t *testing.T) {
	env, _ := healthy()
	env.GatewayPort = 9191 // MSX_GATEWAY_PORT, read by cmd
	var asked int
	env.PortFree = func(port int) error { asked = port; return nil }
	r := Run(context.Background(), env)
	if c := find(t, r, "Gateway port"); asked != 9191 || c.Detail != "127.0.0.1:9191 is free" {
		t.Fatalf("checked port %d: %+v", asked, c)
	}
}

func TestImages(t *testing.T) {
	withPG := func() *devenv.Manifest {
		return &devenv.Manifest{Project: "shop", Dir: "/home/u/shop", Gateway: devenv.Gateway{Port: 8080},
			Services: map[string]devenv.Service{"orders": {Port: 8081, DB: devenv.DBPostgres}, "users": {Port: 8082, DB: devenv.DBSQLite}}}
	}
	tests := []struct {
		name     string
		m        *devenv.Manifest
		images   map[string]bool
		pullable map[string]bool
		status   Status
		detail   string
		fix      string
	}{
		{"no workspace", nil, nil, nil, StatusSkip, "no workspace", ""},
		{"no kind needed", &devenv.Manifest{Project: "shop", Services: map[string]devenv.Service{"a": {DB: devenv.DBSQLite}}}, nil, nil, StatusOK, "no service needs one", ""},
		{"present", withPG(), map[string]bool{"postgres:16": true}, nil, StatusOK, "postgres:16 present", ""},
		{"pullable", withPG(), nil, map[string]bool{"postgres:16": true}, StatusOK, "postgres:16 pulled at the first msx up", ""},
		{"neither", withPG(), nil, nil, StatusFail,
			`postgres:16 (postgres) is not on this machine and cannot be pulled: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host`,
			"pull it on a machine with registry access (docker pull postgres:16, docker save, docker load here), or build one with scripts/local-images.sh from the msx repository and set images.postgres in msx.yaml or MSX_IMAGES_POSTGRES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, d := healthy()
			env.Manifest = tt.m
			d.images, d.pullable = tt.images, tt.pullable
			var got Check
			for _, c := range Run(context.Background(), env).Checks {
				if c.Name == "Images" {
					got = c
				}
			}
			if got.Status != tt.status || got.Detail != tt.detail || got.Fix != tt.fix {
				t.Errorf("got %+v\nwant %s %q %q", got, tt.status, tt.detail, tt.fix)
			}
		})
	}
}

func TestEngineRow(t *testing.T) {
	env, _ := healthy()
	env.Engine = func() (engine.Endpoint, error) {
		return engine.Endpoint{Context: "colima", Host: "unix:///home/me/.colima/default/docker.sock", Reason: "DOCKER_CONTEXT is set"}, nil
	}
	r := Run(context.Background(), env)
	c := find(t, r, "Engine")
	if c.Status != StatusOK || c.Detail != "unix:///home/me/.colima/default/docker.sock (context colima: DOCKER_CONTEXT is set)" {
		t.Errorf("engine = %+v", c)
	}
	if r.Checks[1].Name != "Engine" || r.Checks[2].Name != "Docker" {
		t.Errorf("the engine row is not just before Docker: %+v", r.Checks)
	}

	env.Engine = func() (engine.Endpoint, error) {
		return engine.Endpoint{Context: "build", Host: "tcp://10.0.0.5:2376", Reason: "DOCKER_CONTEXT is set"}, nil
	}
	c = find(t, Run(context.Background(), env), "Engine")
	if c.Status != StatusWarn || !strings.Contains(c.Detail, "runs on 10.0.0.5") || !strings.Contains(c.Fix, "run msx on 10.0.0.5") {
		t.Errorf("remote engine = %+v", c)
	}

	env.Engine = func() (engine.Endpoint, error) {
		return engine.Endpoint{}, msxerr.New("set DOCKER_CONTEXT to a context that docker context ls lists, or unset it", `the Docker context "gone" does not exist (DOCKER_CONTEXT is set)`)
	}
	r = Run(context.Background(), env)
	c = find(t, r, "Engine")
	if r.OK || c.Status != StatusFail || !strings.Contains(c.Detail, `"gone"`) || !strings.Contains(c.Fix, "docker context ls") {
		t.Errorf("missing context = %+v", c)
	}
}

func TestDockerUnreachableNamesTheContext(t *testing.T) {
	env, _ := healthy()
	env.Docker = func(context.Context) (Docker, error) {
		e := engine.Endpoint{Context: "colima", Host: "unix:///home/me/.colima/default/docker.sock", Reason: "DOCKER_CONTEXT is set"}
		return nil, e.NotAnswering(errors.New("connection refused"))
	}
	c := find(t, Run(context.Background(), env), "Docker")
	if c.Status != StatusFail || !strings.Contains(c.Detail, "(context colima)") || !strings.Contains(c.Fix, "docker context use") {
		t.Errorf("docker = %+v", c)
	}
}

func TestDockerRowNamesPodman(t *testing.T) {
	env, d := healthy()
	d.version = types.Version{Version: "4.3.1", APIVersion: "1.41", Os: "linux", Arch: "amd64",
		Components: []types.ComponentVersion{{Name: "Podman Engine", Version: "4.3.1"}, {Name: "Conmon"}}}
	c := find(t, Run(context.Background(), env), "Docker")
	if c.Detail != "Podman Engine 4.3.1, API 1.41, linux/amd64" {
		t.Errorf("detail = %q", c.Detail)
	}
}
