package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/volume"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/internal/syncbuf"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
)

func manifest(dir string) *devenv.Manifest {
	m := &devenv.Manifest{
		Project: "shop",
		Module:  "example.com/shop",
		Gateway: devenv.Gateway{Port: 8080},
		Dir:     dir,
		Services: map[string]devenv.Service{
			"orders":   {Port: 8081, DB: devenv.DBSQLite, DependsOn: []string{"payments", "catalog"}},
			"payments": {Port: 8082, DB: devenv.DBSQLite},
			"catalog":  {Port: 8083, DB: devenv.DBNone},
		},
	}
	if err := m.Validate(); err != nil {
		panic(err)
	}
	return m
}

type harness struct {
	api      *fakeDocker
	b        *fakeBuilder
	r        *Runner
	mu       sync.Mutex
	progress []progress.Step
	portErr  error
}

func newHarness() *harness {
	h := &harness{api: newFake(), b: &fakeBuilder{version: map[string]int{}}}
	h.r = New(h.api, h.b)
	h.r.Clock = &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.r.Probe = func(context.Context, string) error { return nil }
	// A port is taken when h.portErr says so (another program), or when a
	// running container publishes it.
	h.r.PortFree = func(port int) error {
		h.mu.Lock()
		err := h.portErr
		h.mu.Unlock()
		if err != nil {
			return err
		}
		h.api.mu.Lock()
		defer h.api.mu.Unlock()
		for _, c := range h.api.containers {
			if c.state == container.StateRunning && c.port == port {
				return errors.New("bind: address already in use")
			}
		}
		return nil
	}
	h.r.Progress = func(s progress.Step) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.progress = append(h.progress, s)
	}
	return h
}

// statuses names, sorted, what the runner reported a step of kind k
// about, with reason.
func (h *harness) statuses(k progress.Kind, reason string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.progress {
		if p.Kind == k && p.Reason == reason {
			out = append(out, p.Subject())
		}
	}
	slices.Sort(out)
	return out
}

func (h *harness) reset() {
	h.mu.Lock()
	h.progress = nil
	h.mu.Unlock()
	h.api.mu.Lock()
	h.api.calls = nil
	h.api.mu.Unlock()
}

func (h *harness) up(t *testing.T, m *devenv.Manifest, opts UpOptions) (*devenv.Plan, error) {
	t.Helper()
	if opts.Secrets == nil {
		opts.Secrets = fakeSecrets{} // the identity keys every plan has
	}
	p, err := h.r.Up(context.Background(), m, opts)
	h.api.mu.Lock()
	if len(h.api.volumesKept) > 0 {
		t.Errorf("up removed %v without their anonymous volumes: they leak", h.api.volumesKept)
	}
	h.api.mu.Unlock()
	return p, err
}

var all = []string{"catalog", "collector", "gateway", "orders", "payments"}

func TestUpCold(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	p, err := h.up(t, m, UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.statuses(progress.Created, ""); !slices.Equal(got, append(all, "network shop_default", "volume "+devenv.VolumeName("shop", "collector", "/w/shop"), "volume "+devenv.VolumeName("shop", "orders", "/w/shop"), "volume "+devenv.VolumeName("shop", "payments", "/w/shop"))) {
		// statuses are sorted; the list above is too, once sorted.
		want := append(all, "network shop_default", "volume "+devenv.VolumeName("shop", "collector", "/w/shop"), "volume "+devenv.VolumeName("shop", "orders", "/w/shop"), "volume "+devenv.VolumeName("shop", "payments", "/w/shop"))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("created = %v, want %v", got, want)
		}
	}
	if got := h.statuses(progress.Ready, ""); !slices.Equal(got, all) {
		t.Errorf("ready = %v", got)
	}
	// Each container starts after what it needs ready: the programs after
	// the collector, the gateway after every service.
	starts := h.api.callsLike("start ")
	pos := func(s string) int { return slices.Index(starts, "start shop-"+s) }
	for _, c := range p.Containers {
		for _, d := range c.DependsOn {
			if needsReady(&c, p.Container(d)) && pos(d) > pos(c.Service) {
				t.Errorf("%s started before its dependency %s: %v", c.Service, d, starts)
			}
		}
	}
	if pos("collector") != 0 {
		t.Errorf("collector not first: %v", starts)
	}
	if starts[len(starts)-1] != "start shop-gateway" {
		t.Errorf("gateway not last: %v", starts)
	}
	// Programs restart on failure, databases never; ports on loopback.
	for _, c := range h.api.containers {
		want := container.RestartPolicyOnFailure
		if strings.HasSuffix(c.name, "-db") {
			want = container.RestartPolicyDisabled
		}
		if c.host.RestartPolicy.Name != want {
			t.Errorf("%s restart policy %q, want %q", c.name, c.host.RestartPolicy.Name, want)
		}
		for _, b := range c.host.PortBindings {
			if b[0].HostIP != "127.0.0.1" {
				t.Errorf("%s published on %q", c.name, b[0].HostIP)
			}
		}
	}
}

func TestUpAgainIsANoOp(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	// The gateway port is now held by our own gateway: the fake's PortFree
	// says it is taken.
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"create", "remove", "start", "network create", "volume create"} {
		if got := h.api.callsLike(prefix); len(got) > 0 {
			t.Errorf("second up: %v", got)
		}
	}
	if got := h.statuses(progress.Running, ""); !slices.Equal(got, all) {
		t.Errorf("unchanged = %v", got)
	}
}

func TestUpRecreatesOnlyWhatChanged(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	h.b.version["catalog"] = 2
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.api.callsLike("create"); !slices.Equal(got, []string{"create shop-catalog"}) {
		t.Errorf("creates = %v", got)
	}
	if got := h.api.callsLike("remove"); !slices.Equal(got, []string{"remove shop-catalog"}) {
		t.Errorf("removes = %v", got)
	}
	if got := h.statuses(progress.Recreated, "code changed"); !slices.Equal(got, []string{"catalog"}) {
		t.Errorf("recreated = %v", got)
	}
	// The old container was stopped gracefully (SIGTERM and its grace)
	// before it was removed: never a bare SIGKILL.
	if got := h.api.callsLike("stop "); !slices.Equal(got, []string{"stop shop-catalog"}) {
		t.Errorf("stops = %v, want the replaced container stopped before removal", got)
	}
	if got := h.api.callsLike("kill "); len(got) > 0 {
		t.Errorf("kills = %v", got)
	}
	h.reset()
	// A change of configuration only says so.
	m.Services["catalog"] = devenv.Service{Port: 8093, DB: devenv.DBNone}
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.statuses(progress.Recreated, "configuration changed"); !slices.Contains(got, "catalog") {
		t.Errorf("recreated = %v, progress %v", got, h.progress)
	}
}

func TestStopForcedAfterTheGracefulStopFinishedIsSuccess(t *testing.T) {
	// The second Ctrl-C: the containers were listed as running, and the
	// first, graceful stop finished before the kill arrived.
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.api.beforeKill = func(c *fakeContainer) { h.api.exit(c, 0) }
	if err := h.r.Stop(context.Background(), "shop", "/w/shop", StopOptions{Force: true}); err != nil {
		t.Errorf("err = %v, want nil: a container already stopped is what a stop wants", err)
	}
}

func TestUpAdoptsStoppedAndCreated(t *testing.T) {
	// What a kill -9 of msx mid-up leaves: one container created but
	// never started, another stopped.
	h := newHarness()
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range h.api.containers {
		switch c.name {
		case "shop-orders":
			c.state = container.StateCreated
		case "shop-catalog":
			c.state = container.StateExited
		}
	}
	h.reset()
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.api.callsLike("create"); len(got) > 0 {
		t.Errorf("creates = %v", got)
	}
	if got := h.statuses(progress.Started, ""); !slices.Equal(got, []string{"catalog", "orders"}) {
		t.Errorf("started = %v", got)
	}
}

func TestUpServiceExits(t *testing.T) {
	h := newHarness()
	h.api.exitOnStart["payments"] = 3
	h.api.logs["payments"] = []string{"starting", "panic: no database"}
	_, err := h.up(t, manifest("/w/shop"), UpOptions{})
	var se *ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if se.Service != "payments" || se.ExitCode != 3 || !slices.Equal(se.Logs, []string{"starting", "panic: no database"}) {
		t.Errorf("error = %+v", se)
	}
	if !strings.Contains(err.Error(), "payments exited with code 3") {
		t.Errorf("message %q", err)
	}
	for _, c := range h.api.containers {
		if c.state == container.StateCreated {
			t.Errorf("%s left in created", c.name)
		}
		if c.name == "shop-orders" || c.name == "shop-gateway" {
			t.Errorf("%s created although a dependency failed", c.name)
		}
	}
}

func TestUpStartFailureLeavesNothingCreated(t *testing.T) {
	h := newHarness()
	h.api.failStart["catalog"] = true
	_, err := h.up(t, manifest("/w/shop"), UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "catalog") {
		t.Fatalf("err = %v", err)
	}
	for _, c := range h.api.containers {
		if c.state == container.StateCreated {
			t.Errorf("%s left in created", c.name)
		}
	}
}

func TestUpNeverReady(t *testing.T) {
	h := newHarness()
	h.r.Probe = func(context.Context, string) error { return errors.New("503") }
	h.r.ReadyTimeout = 5 * time.Second
	h.api.logs["catalog"] = []string{"waiting"}
	m := manifest("/w/shop")
	_, err := h.up(t, m, UpOptions{Services: []string{"catalog"}})
	var se *ServiceError
	if !errors.As(err, &se) || se.ExitCode != -1 || se.Timeout != 5*time.Second {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "was not ready after 5s") {
		t.Errorf("message %q", err)
	}
}

func TestUpSubset(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{Services: []string{"payments"}}); err != nil {
		t.Fatal(err)
	}
	if got := h.statuses(progress.Ready, ""); !slices.Equal(got, []string{"collector", "gateway", "payments"}) {
		t.Errorf("ready = %v", got)
	}
	if got := h.b.builds[0]; len(got) != 3 {
		t.Errorf("built %v", got)
	}
	_, err := h.up(t, manifest("/w/shop"), UpOptions{Services: []string{"nope"}})
	var ue *msxerr.UsageError
	if !errors.As(err, &ue) {
		t.Errorf("err = %v", err)
	}
}

func TestUpRefusesAnotherFolder(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/a/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	_, err := h.up(t, manifest("/b/shop"), UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "project shop is already running from /a/shop") {
		t.Fatalf("err = %v", err)
	}
	if got := h.api.callsLike("create"); len(got) > 0 {
		t.Errorf("created %v", got)
	}
}

func TestUpPortTaken(t *testing.T) {
	h := newHarness()
	h.portErr = errors.New("bind: address already in use")
	_, err := h.up(t, manifest("/w/shop"), UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "gateway port 8080") || !strings.Contains(err.Error(), "MSX_GATEWAY_PORT") {
		t.Fatalf("err = %v", err)
	}
	if len(h.b.builds) > 0 || len(h.api.calls) > 0 {
		t.Errorf("did work before the check: builds %v, calls %v", h.b.builds, h.api.calls)
	}
}

type fakeSecrets map[string]string

func (f fakeSecrets) Secret(name string) (string, error) {
	if v, ok := f[name]; ok {
		return v, nil
	}
	if strings.HasPrefix(name, "identity-") {
		return "key of " + name, nil // generated, as state.Store does
	}
	if name == "admin-token" {
		return "admin-token-value", nil // as state.Store generates it
	}
	return "", errors.New("no secret " + name)
}

// lookupSecrets is a store that has only the secrets in it: it never
// generates one, as state.Store does not for the gateway's keys.
type lookupSecrets map[string]string

func (f lookupSecrets) Secret(name string) (string, error) {
	if v, ok := f[name]; ok {
		return v, nil
	}
	if strings.HasPrefix(name, "identity-") {
		return "key of " + name, nil
	}
	if name == "admin-token" {
		return "admin-token-value", nil
	}
	return "", errors.New("generated " + name)
}

func (f lookupSecrets) Lookup(name string) (string, bool, error) {
	v, ok := f[name]
	return v, ok, nil
}

func TestUpWritesTheGatewayKeysItFinds(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{Secrets: lookupSecrets{"gateway-api-keys": "ci:key-0123456789abcdef"}}); err != nil {
		t.Fatal(err)
	}
	if got := h.api.copies["shop-gateway:/run/secrets/api-keys"]; got != "ci:key-0123456789abcdef 444" {
		t.Errorf("api-keys file = %q, copies %v", got, h.api.copies)
	}
	for k := range h.api.copies {
		if strings.Contains(k, "jwt") {
			t.Errorf("wrote %s, a key the workspace does not have", k)
		}
	}
	for _, c := range h.api.containers {
		all := strings.Join(c.cfg.Env, " ") + fmt.Sprint(c.cfg.Labels) + fmt.Sprint(c.host.Binds)
		if strings.Contains(all, "key-0123456789abcdef") {
			t.Errorf("%s: the key is in its configuration: %s", c.name, all)
		}
		if c.name == "shop-gateway" {
			if _, ok := c.cfg.Volumes[devenv.SecretsDir]; !ok || !slices.Contains(c.cfg.Env, "SECRETS_DIR=/run/secrets") {
				t.Errorf("gateway: volumes %v, env %v; want its own volume at /run/secrets and SECRETS_DIR", c.cfg.Volumes, c.cfg.Env)
			}
		}
	}
}

func TestUpRecreatesTheGatewayWhenAKeyChanges(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	up := func(key string) {
		t.Helper()
		h.reset()
		if _, err := h.up(t, m, UpOptions{Secrets: lookupSecrets{"gateway-api-keys": key}}); err != nil {
			t.Fatal(err)
		}
	}
	up("ci:key-0123456789abcdef")
	up("ci:key-fedcba9876543210") // rotated under .msx/secrets
	if got := h.statuses(progress.Recreated, "configuration changed"); !slices.Equal(got, []string{"gateway"}) {
		t.Errorf("recreated = %v, progress %v; want the gateway alone", got, h.progress)
	}
	if got := h.api.copies["shop-gateway:/run/secrets/api-keys"]; got != "ci:key-fedcba9876543210 444" {
		t.Errorf("api-keys file = %q, want the new key", got)
	}
	up("ci:key-fedcba9876543210")
	if got := h.api.callsLike("create"); len(got) > 0 {
		t.Errorf("the same key again: %v, want nothing recreated", got)
	}
	for _, c := range h.api.containers {
		if strings.Contains(fmt.Sprint(c.cfg.Labels), "fedcba9876543210") {
			t.Errorf("%s: the key is in its labels: %v", c.name, c.cfg.Labels)
		}
	}
}

func postgresManifest() *devenv.Manifest {
	m := manifest("/w/shop")
	s := m.Services["payments"]
	s.DB = devenv.DBPostgres
	m.Services["payments"] = s
	return m
}

func TestUpPostgresImageMissing(t *testing.T) {
	h := newHarness()
	m := postgresManifest()
	_, err := h.up(t, m, UpOptions{Secrets: fakeSecrets{"payments-db-db-password": "pw"}})
	want := "image postgres:16 (postgres) is not on this machine and could not be pulled: Error response from daemon: " +
		"Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host; " +
		"pull it on a machine with registry access (docker pull postgres:16, docker save, docker load here), " +
		"or build one with scripts/local-images.sh from the msx repository and set images.postgres in msx.yaml or MSX_IMAGES_POSTGRES"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	var ime *ImageMissingError
	if !errors.As(err, &ime) || ime.Image != "postgres:16" {
		t.Errorf("not an ImageMissingError: %#v", err)
	}
	if len(h.b.builds) > 0 {
		t.Errorf("built before the image check: %v", h.b.builds)
	}
	for _, c := range h.api.calls {
		if !strings.HasPrefix(c, "pull ") {
			t.Errorf("engine call before the image check: %s", c)
		}
	}
}

func TestUpPullsAMissingImage(t *testing.T) {
	h := newHarness()
	m := postgresManifest()
	m.Images = map[string]string{"postgres": "example.com/pg:16"}
	h.api.pullable["example.com/pg:16"] = `{"status":"Pulling from pg","id":"16"}
{"status":"Downloading","id":"a1","progressDetail":{"current":1048576,"total":4194304}}
{"status":"Download complete","id":"a1"}
{"status":"Status: Downloaded newer image for example.com/pg:16"}
`
	var steps []progress.Step
	h.r.Progress = func(s progress.Step) { steps = append(steps, s) }
	// The fake database never becomes healthy: this up times out after
	// the pull, which is all this test is about.
	_, _ = h.up(t, m, UpOptions{Secrets: fakeSecrets{"payments-db-db-password": "pw"}})
	if !h.api.images["example.com/pg:16"] {
		t.Fatal("not pulled")
	}
	pulling := progress.Step{Kind: progress.Pulling, Object: progress.Image, Name: "postgres", Ref: "example.com/pg:16"}
	if len(steps) < 2 || steps[0] != pulling {
		t.Errorf("steps = %+v; want %+v first", steps, pulling)
	} else if p := steps[1]; p.Kind != progress.Pulled || p.Object != progress.Image || p.Name != "postgres" || p.Ref != "example.com/pg:16" {
		t.Errorf("second step = %+v; want postgres pulled", p)
	}
	// A pull that the stream says failed is a failure.
	h2 := newHarness()
	h2.api.pullable["postgres:16"] = `{"status":"Pulling"}
{"error":"manifest unknown"}
`
	_, err := h2.up(t, postgresManifest(), UpOptions{Secrets: fakeSecrets{"payments-db-db-password": "pw"}})
	if err == nil || !strings.Contains(err.Error(), "could not be pulled: manifest unknown;") {
		t.Errorf("err = %v", err)
	}
}

func TestUpWritesSecretsAsFiles(t *testing.T) {
	h := newHarness()
	h.api.images["postgres:16"] = true
	m := postgresManifest()
	// The fake postgres never becomes healthy: a readiness timeout naming
	// it, and payments, which needs it, is never created nor connected.
	_, err := h.up(t, m, UpOptions{Secrets: fakeSecrets{"payments-db-db-password": "s3cret-value"}})
	if err == nil || !strings.Contains(err.Error(), "payments-db was not ready after") {
		t.Errorf("err = %v, want payments-db's readiness timeout", err)
	}
	for _, c := range h.api.callsLike("network connect") {
		if strings.HasSuffix(c, " shop-payments") {
			t.Errorf("connects = %v, want none of payments: it must wait for its database", c)
		}
	}
	if got := h.api.callsLike("create shop-payments"); !slices.Equal(got, []string{"create shop-payments-db"}) {
		t.Errorf("creates = %v, want only the database", got)
	}
	if got := h.api.copies["shop-payments-db:/run/secrets/db-password"]; got != "s3cret-value 444" {
		t.Errorf("secret file = %q", got)
	}
	for _, c := range h.api.containers {
		all := strings.Join(append(append([]string{}, c.cfg.Env...), c.cfg.Cmd...), " ") + fmt.Sprint(c.cfg.Labels) + fmt.Sprint(c.host.Binds)
		if strings.Contains(all, "s3cret-value") {
			t.Errorf("%s: the secret's value is in its configuration: %s", c.name, all)
		}
	}
	// No source of secrets: an error before anything is built or created.
	h2 := newHarness()
	h2.api.images["postgres:16"] = true
	_, err = h2.up(t, m, UpOptions{Secrets: fakeSecrets{}})
	if err == nil || !strings.Contains(err.Error(), "no secret payments-db-db-password") {
		t.Errorf("err = %v", err)
	}
	if len(h2.b.builds) > 0 || len(h2.api.callsLike("create")) > 0 {
		t.Errorf("work done before the secrets were read: builds %v, calls %v", h2.b.builds, h2.api.calls)
	}
}

func TestDown(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/a/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	// Another folder's project of the same name, stopped: not touched.
	other := newHarness()
	other.api = h.api
	other.r.API = h.api
	for _, c := range h.api.containers {
		c.state = container.StateExited
	}
	if _, err := other.up(t, manifest("/b/shop"), UpOptions{}); err == nil {
		t.Fatal("want a refusal while /a/shop has containers")
	}

	h.api.failRemove["shop-catalog"] = true
	res := h.r.Down(context.Background(), "shop", "/a/shop", false)
	if res.Err() == nil || !strings.Contains(res.Err().Error(), "shop-catalog") {
		t.Errorf("err = %v", res.Err())
	}
	if !slices.Contains(res.Removed, "container shop-orders") {
		t.Errorf("removed = %v", res.Removed)
	}
	if len(h.api.volumes) != 3 {
		t.Errorf("volumes removed without --volumes")
	}
	delete(h.api.failRemove, "shop-catalog")
	res = h.r.Down(context.Background(), "shop", "/a/shop", true)
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	if len(h.api.containers) != 0 || len(h.api.networks) != 0 || len(h.api.volumes) != 0 {
		t.Errorf("left: %v %v %v", h.api.containers, h.api.networks, h.api.volumes)
	}
	res = h.r.Down(context.Background(), "shop", "/a/shop", true)
	if res.Err() != nil || len(res.Removed) != 0 {
		t.Errorf("second down: %+v", res)
	}
}

func TestDownServicesRemovesOnlyThoseServices(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/a/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	res := h.r.DownServices(context.Background(), "shop", "/a/shop", []string{"orders", "orders-db"}, true)
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	for _, what := range res.Removed {
		if !strings.Contains(what, "orders") {
			t.Errorf("removed %s, which is not orders'", what)
		}
	}
	if !slices.Contains(res.Removed, "container shop-orders") || len(h.api.containers) == 0 || len(h.api.networks) == 0 {
		t.Errorf("removed %v; left containers %v, networks %v", res.Removed, h.api.containers, h.api.networks)
	}
}

func TestStop(t *testing.T) {
	for _, force := range []bool{false, true} {
		h := newHarness()
		if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := h.r.Stop(context.Background(), "shop", "/w/shop", StopOptions{Force: force}); err != nil {
			t.Fatal(err)
		}
		verb := "stop"
		if force {
			verb = "kill"
		}
		if got := h.api.callsLike(verb); len(got) != 5 {
			t.Errorf("force=%v: %v", force, got)
		}
		for _, c := range h.api.containers {
			if c.state == container.StateRunning {
				t.Errorf("%s still running", c.name)
			}
		}
	}
}

func TestStatus(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{Services: []string{"catalog"}}); err != nil {
		t.Fatal(err)
	}
	list, err := h.r.Status(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s.Service+"="+s.State)
	}
	want := []string{"collector=running", "catalog=running", "payments=missing", "orders=missing", "gateway=running"}
	if !slices.Equal(got, want) {
		t.Errorf("status = %v, want %v", got, want)
	}
	// Not exposed: only its admin listener is published, for msx.
	if !list[1].Ready || len(list[1].Ports) != 1 || list[1].Ports[0].ContainerPort != devenv.AdminPort ||
		list[1].Ports[0].HostIP != "127.0.0.1" || list[1].URL != "" || list[1].AdminURL == "" {
		t.Errorf("catalog = %+v", list[1])
	}
	if list[0].Role != devenv.RoleCollector || list[0].Ports[0].ContainerPort != devenv.CollectorPort {
		t.Errorf("collector = %+v", list[0])
	}
}

// follower runs Runner.Follow over a fake engine in the background.
type follower struct {
	buf    syncbuf.Buffer
	until  chan struct{}
	cancel context.CancelFunc
	done   chan error
}

func follow(t *testing.T, api *fakeDocker, targets []LogTarget, services []string) *follower {
	t.Helper()
	r := New(api, nil)
	r.Clock = &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fl := &follower{until: make(chan struct{}), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	fl.cancel = cancel
	p := newPlain(&fl.buf, services)
	go func() { fl.done <- r.Follow(ctx, targets, FollowOptions{Until: fl.until}, p) }()
	t.Cleanup(func() {
		cancel()
		<-fl.done
	})
	return fl
}

// waitFor polls what the follower printed until it ends with suffix.
func (fl *follower) waitFor(t *testing.T, suffix string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasSuffix(fl.buf.String(), suffix) {
		if time.Now().After(deadline) {
			t.Fatalf("printed %q, want it to end with %q", fl.buf.String(), suffix)
		}
		time.Sleep(time.Millisecond)
	}
}

// stop closes Until and waits for Follow to return once every container
// stopped.
func (fl *follower) stop(t *testing.T) error {
	t.Helper()
	close(fl.until)
	select {
	case err := <-fl.done:
		fl.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("Follow did not return once told to; printed %q", fl.buf.String())
		return nil
	}
}

func TestFollowPrints(t *testing.T) {
	api := newFake()
	api.add("x", "shop-orders", "orders", container.StateExited, 2, "one", "two")
	fl := follow(t, api, []LogTarget{{Service: "orders", ID: "x"}}, []string{"gateway", "orders"})
	want := "orders  | one\norders  | two\norders  | msx: exited with code 2\n"
	fl.waitFor(t, want)
	if err := fl.stop(t); err != nil {
		t.Fatal(err)
	}
	if fl.buf.String() != want {
		t.Errorf("got %q, want %q", fl.buf.String(), want)
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{emit: func(s string) { got = append(got, s) }}
	w.Write([]byte("a\r\nb"))
	w.Write([]byte("c\n\nd"))
	w.Flush()
	if want := []string{"a", "bc", "", "d"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestUpRemovesOrphans(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	delete(m.Services, "catalog")
	o := m.Services["orders"]
	o.DependsOn = []string{"payments"}
	m.Services["orders"] = o
	h.reset()
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.api.callsLike("remove"); !slices.Equal(got, []string{"remove shop-catalog", "remove shop-orders", "remove shop-gateway"}) {
		t.Errorf("removes = %v (the gateway's routes and orders's env changed too)", got)
	}
	if got := h.statuses(progress.Removed, "no longer in msx.yaml"); !slices.Equal(got, []string{"catalog"}) {
		t.Errorf("orphans = %v", got)
	}
}

func TestStopIsBoundedWhenTheEngineHangs(t *testing.T) {
	for _, force := range []bool{false, true} {
		h := newHarness()
		if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
			t.Fatal(err)
		}
		h.api.hang = true
		h.r.StopGrace = time.Millisecond // rounds down to 0 s for the engine
		h.r.EngineTimeout = 50 * time.Millisecond
		done := make(chan error, 1)
		go func() { done <- h.r.Stop(context.Background(), "shop", "/w/shop", StopOptions{Force: force}) }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("force=%v: err = %v", force, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("force=%v: Stop did not return", force)
		}
	}
}

func TestUpCancelledWhileWaiting(t *testing.T) {
	h := newHarness()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.r.Probe = func(context.Context, string) error {
		cancel() // Ctrl-C while the first service is not ready yet
		return errors.New("503")
	}
	_, err := h.r.Up(ctx, manifest("/w/shop"), UpOptions{Secrets: fakeSecrets{}})
	if !errors.Is(err, msxerr.ErrCancelled) {
		t.Fatalf("err = %v, want ErrCancelled (not a readiness timeout)", err)
	}
	for _, c := range h.api.containers {
		if c.state == container.StateCreated {
			t.Errorf("%s left in created", c.name)
		}
	}
}

func TestFollowManyKeepsOrderWithinAService(t *testing.T) {
	api := newFake()
	var targets []LogTarget
	for i, s := range []string{"a", "b", "c"} {
		id := "id-" + s
		var lines []string
		for n := 0; n < 200; n++ {
			lines = append(lines, s+"-"+strconv.Itoa(n))
		}
		api.add(id, "shop-"+s, s, container.StateExited, i, lines...)
		targets = append(targets, LogTarget{Service: s, ID: id})
	}
	fl := follow(t, api, targets, []string{"a", "b", "c"})
	if err := fl.stop(t); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(fl.buf.String()), "\n") {
		svc, msg, _ := strings.Cut(line, " | ")
		if strings.HasPrefix(msg, "msx: ") {
			continue
		}
		if want := svc + "-" + strconv.Itoa(next[svc]); msg != want {
			t.Fatalf("got %q, want %q", msg, want)
		}
		next[svc]++
	}
	for _, s := range []string{"a", "b", "c"} {
		if next[s] != 200 {
			t.Errorf("%s: %d lines", s, next[s])
		}
	}
}

func TestUpRecreatesAnAdoptedContainerThatWillNotStart(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range h.api.containers {
		if c.name == "shop-catalog" {
			c.state = container.StateCreated
			h.api.failStartID[c.id] = true // its network is gone
		}
	}
	h.reset()
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.statuses(progress.Recreated, "the old one would not start"); !slices.Equal(got, []string{"catalog"}) {
		t.Errorf("recreated = %v; progress %v", got, h.progress)
	}
}

func TestDownRemovesWhatAppearsAfterTheFirstPass(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	// A create sent by a killed msx completes while down runs.
	var orders fakeContainer
	for _, c := range h.api.containers {
		if c.name == "shop-orders" {
			orders = *c
		}
	}
	h.r.Clock = &lateClock{fakeClock: h.r.Clock.(*fakeClock), then: func() {
		h.api.mu.Lock()
		defer h.api.mu.Unlock()
		late := orders
		late.id, late.state = "late", container.StateCreated
		h.api.containers["late"] = &late
	}}
	res := h.r.Down(context.Background(), "shop", "/w/shop", false)
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	if len(h.api.containers) != 0 {
		t.Errorf("left: %v", h.api.containers)
	}
	if got := h.api.callsLike("remove shop-orders"); len(got) != 2 {
		t.Errorf("removes of shop-orders: %v", got)
	}
}

// lateClock runs then on its first Sleep.
type lateClock struct {
	*fakeClock
	once sync.Once
	then func()
}

func (c *lateClock) Sleep(ctx context.Context, d time.Duration) error {
	c.once.Do(c.then)
	return c.fakeClock.Sleep(ctx, d)
}

// noneCreated fails if a container of the fake engine is in "created".
func noneCreated(t *testing.T, api *fakeDocker) {
	t.Helper()
	api.mu.Lock()
	defer api.mu.Unlock()
	for _, c := range api.containers {
		if c.state == container.StateCreated {
			t.Errorf("%s left in created", c.name)
		}
	}
}

func TestUpCtrlCDuringCreateLeavesNothingCreated(t *testing.T) {
	// Ctrl-C while the engine creates a container: the engine finishes the
	// create after the client gave up. Each create in turn.
	for _, name := range []string{"shop-payments", "shop-catalog", "shop-orders", "shop-gateway"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h.api.onCreate = func(n string) {
				if n == name {
					cancel()
				}
			}
			_, err := h.r.Up(ctx, manifest("/w/shop"), UpOptions{Secrets: fakeSecrets{}})
			if !errors.Is(err, msxerr.ErrCancelled) {
				t.Fatalf("err = %v, want ErrCancelled", err)
			}
			noneCreated(t, h.api)
			if h.api.state(name) != "" {
				t.Errorf("%s exists (%s) although up was cancelled while creating it", name, h.api.state(name))
			}
			// What the attached up does next leaves nothing running.
			if err := h.r.Stop(context.Background(), "shop", "/w/shop", StopOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, c := range h.api.containers {
				if c.state != container.StateExited {
					t.Errorf("%s %s after the stop", c.name, c.state)
				}
			}
		})
	}
}

func TestUpCreateErrorRemovesByName(t *testing.T) {
	// The client's request timed out, but the engine created the container.
	h := newHarness()
	h.api.createErr["shop-catalog"] = context.DeadlineExceeded
	_, err := h.up(t, manifest("/w/shop"), UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "catalog") {
		t.Fatalf("err = %v", err)
	}
	if s := h.api.state("shop-catalog"); s != "" {
		t.Errorf("shop-catalog left %s", s)
	}
	noneCreated(t, h.api)
}

func TestUpCreateConflictRemovesNothing(t *testing.T) {
	// A container of that name that is not ours is never removed.
	h := newHarness()
	h.api.add("theirs", "shop-catalog", "something-else", container.StateExited, 0)
	_, err := h.up(t, manifest("/w/shop"), UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("err = %v", err)
	}
	if h.api.state("theirs") == "" {
		t.Error("removed a container msx did not create")
	}
}

func TestStopRemovesCreatedAndStopsInReverseOrder(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	// What an interrupted create leaves: a container never started.
	h.api.mu.Lock()
	h.api.containers["late"] = &fakeContainer{id: "late", name: "shop-late", state: container.StateCreated,
		cfg:  &container.Config{Labels: map[string]string{"dev.msx.project": "shop", "dev.msx.workspace": "/w/shop", "dev.msx.service": "late"}},
		host: &container.HostConfig{}}
	h.api.mu.Unlock()
	h.reset()
	if err := h.r.Stop(context.Background(), "shop", "/w/shop", StopOptions{Deps: StopDeps(m)}); err != nil {
		t.Fatal(err)
	}
	if s := h.api.state("shop-late"); s != "" {
		t.Errorf("a created container is left %s", s)
	}
	stops := h.api.callsLike("stop ")
	pos := func(s string) int { return slices.Index(stops, "stop shop-"+s) }
	if pos("gateway") != 0 || pos("collector") != 4 || len(stops) != 5 {
		t.Errorf("stops = %v: want the gateway first, the services at once, the collector last", stops)
	}
}

func TestStopOnlyWhatItIsTold(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	if err := h.r.Stop(context.Background(), "shop", "/w/shop", StopOptions{Only: []string{"shop-catalog"}}); err != nil {
		t.Fatal(err)
	}
	if got := h.api.callsLike("stop "); !slices.Equal(got, []string{"stop shop-catalog"}) {
		t.Errorf("stops = %v", got)
	}
}

func TestStopWhenTheEngineHangsIsOneSentence(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.api.hang = true
	h.r.StopGrace = time.Second
	h.r.EngineTimeout = 50 * time.Millisecond
	err := h.r.Stop(context.Background(), "shop", "/w/shop", StopOptions{})
	want := "could not stop 5 containers: Docker did not answer in 1s; run msx down, or msx doctor"
	if err == nil || err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestDownCtrlCAbortsAHungEngine(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.api.hangRemove = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *DownResult, 1)
	go func() { done <- h.r.Down(ctx, "shop", "/w/shop", false) }()
	cancel() // Ctrl-C
	var res *DownResult
	select {
	case res = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("down did not return after Ctrl-C")
	}
	err := res.Err()
	if err == nil {
		t.Fatal("no error although nothing was removed")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "%2F") || !strings.Contains(msg, "Docker") || !strings.Contains(msg, "msx doctor") {
		t.Errorf("err = %q: want one sentence naming Docker and msx doctor", msg)
	}
}

func TestDownWhenTheEngineHangsIsOneSentence(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.api.mu.Lock()
	h.api.failRemove["shop-catalog"] = true
	h.api.failRemove["shop-orders"] = true
	h.api.mu.Unlock()
	msg := h.r.Down(context.Background(), "shop", "/w/shop", false).Err().Error()
	want := "could not remove 2 resources (container shop-catalog, container shop-orders): device or resource busy; run msx down again, or msx doctor if Docker misbehaves"
	if msg != want {
		t.Errorf("err = %q, want %q", msg, want)
	}
}

func TestFollowSurvivesRestarts(t *testing.T) {
	api := newFake()
	api.add("x", "shop-orders", "orders", container.StateRunning, 0, "a", "b")
	fl := follow(t, api, []LogTarget{{Service: "orders", ID: "x"}}, []string{"orders"})
	fl.waitFor(t, "orders | a\norders | b\n")
	// A restart (r in the dashboard): stopped and started again at once.
	api.restart("shop-orders", "c", "d")
	fl.waitFor(t, "orders | b\norders | msx: restarted\norders | c\norders | d\n")
	// A crash, then a start a while later.
	api.stopped("shop-orders", 2)
	fl.waitFor(t, "orders | d\norders | msx: exited with code 2\n")
	api.startAgain("shop-orders", "e")
	fl.waitFor(t, "orders | msx: exited with code 2\norders | msx: restarted\norders | e\n")
	api.stopped("shop-orders", 0)
	if err := fl.stop(t); err != nil {
		t.Fatal(err)
	}
	want := "orders | a\norders | b\norders | msx: restarted\norders | c\norders | d\n" +
		"orders | msx: exited with code 2\norders | msx: restarted\norders | e\norders | msx: exited with code 0\n"
	if got := fl.buf.String(); got != want {
		t.Errorf("printed %q, want %q (each line once)", got, want)
	}
}

func TestFollowEndsWhenTheContainerIsGone(t *testing.T) {
	api := newFake()
	api.add("x", "shop-orders", "orders", container.StateRunning, 0, "a")
	fl := follow(t, api, []LogTarget{{Service: "orders", ID: "x"}}, []string{"orders"})
	fl.waitFor(t, "orders | a\n")
	if err := api.ContainerRemove(context.Background(), "x", container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-fl.done:
		fl.done <- err
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not return once the container was gone")
	}
}

func TestCrashReportShowsOnlyThisRun(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	h.api.logs["catalog"] = []string{"first run"}
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.api.stopped("shop-catalog", 0)
	// The same container, started again by the next up, crashes.
	h.api.logs["catalog"] = []string{"second run", "panic: boom"}
	h.api.exitOnStart["catalog"] = 2
	_, err := h.up(t, m, UpOptions{})
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "catalog" {
		t.Fatalf("err = %v", err)
	}
	if want := []string{"second run", "panic: boom"}; !slices.Equal(se.Logs, want) {
		t.Errorf("logs = %q, want %q (not those of the earlier run)", se.Logs, want)
	}
}

func TestUpFailureRemovesWhatItCreated(t *testing.T) {
	h := newHarness()
	h.api.exitOnStart["orders"] = 1
	_, err := h.up(t, manifest("/w/shop"), UpOptions{})
	var ue *UpError
	if errors.As(err, &ue) {
		t.Errorf("started = %v: what this up created should be gone, not listed", ue.Started)
	}
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "orders" {
		t.Errorf("the cause is lost: %v", err)
	}
	// The services started at once; the collector, which they need,
	// started first and goes last.
	if got := h.api.callsLike("remove"); len(got) != 4 || got[3] != "remove shop-collector" || slices.Contains(got, "remove shop-gateway") {
		t.Errorf("removes = %v, want the three services (the gateway never started), the collector last", got)
	}
	if n := len(h.api.containers); n != 0 {
		t.Errorf("%d containers left", n)
	}
	// Containers that were running before this up are not its to remove,
	// nor to stop; one it only started again is listed for the caller.
	h = newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{Services: []string{"payments"}}); err != nil {
		t.Fatal(err)
	}
	h.api.stopped("shop-payments", 0)
	h.api.exitOnStart["orders"] = 1
	h.reset()
	_, err = h.up(t, manifest("/w/shop"), UpOptions{})
	if !errors.As(err, &ue) || !slices.Equal(ue.Started, []string{"shop-payments"}) {
		t.Errorf("err = %v", err)
	}
	if got := h.api.callsLike("remove"); slices.Contains(got, "remove shop-payments") || slices.Contains(got, "remove shop-gateway") {
		t.Errorf("removed what it did not create: %v", got)
	}
}

func TestUpGatewayPortTakenDuringTheBuild(t *testing.T) {
	h := newHarness()
	h.b.onBuild = func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.portErr = errors.New("bind: address already in use")
	}
	_, err := h.up(t, manifest("/w/shop"), UpOptions{})
	want := "the gateway port 8080 on 127.0.0.1 is already in use; stop what uses it, or pick another port with MSX_GATEWAY_PORT or gateway.port in msx.yaml"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if h.api.state("shop-gateway") != "" {
		t.Error("the gateway was created on a taken port")
	}
	noneCreated(t, h.api)
}

func TestUpGatewayPortTakenSaysTheEngine(t *testing.T) {
	// Taken between the check and the start: the engine's words, mapped.
	for _, msg := range []string{
		"driver failed programming external connectivity on endpoint shop-gateway: Bind for 127.0.0.1:8080 failed: port is already allocated",
		"Error starting userland proxy: listen tcp4 127.0.0.1:8080: bind: address already in use",
	} {
		h := newHarness()
		h.api.failStart["gateway"] = true
		h.api.startErr = errors.New(msg)
		_, err := h.up(t, manifest("/w/shop"), UpOptions{})
		want := "the gateway port 8080 on 127.0.0.1 is already in use; stop what uses it, or pick another port with MSX_GATEWAY_PORT or gateway.port in msx.yaml"
		if err == nil || err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
		noneCreated(t, h.api)
	}
}

func TestUpSubsetThenAllKeepsTheGateway(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{Services: []string{"payments"}}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.api.callsLike("create"); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"create shop-catalog", "create shop-orders"}) {
		t.Errorf("creates = %v: the gateway and payments must stay", got)
	}
	if got := h.api.callsLike("remove"); len(got) > 0 {
		t.Errorf("removes = %v", got)
	}
}

func TestDownWhenTheEngineDoesNotAnswer(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.api.hangRemove = true
	h.r.DownTimeout = 50 * time.Millisecond
	start := time.Now()
	res := h.r.Down(context.Background(), "shop", "/w/shop", false)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("down took %s: the calls after the first that hung should be skipped", d)
	}
	// A deadline is not a Ctrl-C: the engine did not answer.
	if res.Interrupted {
		t.Errorf("a timeout reported as an interruption")
	}
	want := "down could not finish: Docker did not answer in 50ms; run msx down again, or msx doctor"
	if err := res.Err(); err == nil || err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// plain is the smallest LogConsumer: "orders  | line", padded like the
// real printer (logs.Printer, which sits above the runner).
type plain struct {
	mu    sync.Mutex
	w     io.Writer
	width int
}

func newPlain(w io.Writer, services []string) *plain {
	p := &plain{w: w}
	for _, s := range services {
		p.width = max(p.width, len(s))
	}
	return p
}

func (p *plain) Log(service, _, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%-*s | %s\n", p.width, service, line)
}

func (p *plain) Status(service, status string) { p.Log(service, activity.Stderr, "msx: "+status) }

// generatedSecrets says every secret was generated just now.
type generatedSecrets struct{ fakeSecrets }

func (generatedSecrets) Generated(name string) bool { return !strings.HasPrefix(name, "identity-") }

func TestUpRefusesADataVolumeWithANewPassword(t *testing.T) {
	h := newHarness()
	h.api.images["postgres:16"] = true
	m := postgresManifest()
	vol := devenv.VolumeName("shop", "payments-db", "/w/shop")
	h.api.volumes[vol] = &volume.Volume{Name: vol, Labels: map[string]string{devenv.LabelProject: "shop", devenv.LabelWorkspace: "/w/shop"}}
	_, err := h.up(t, m, UpOptions{Secrets: generatedSecrets{fakeSecrets{"payments-db-db-password": "new"}}})
	if err == nil || !strings.Contains(err.Error(), "holds data made with a password that is no longer in .msx/secrets") ||
		!strings.Contains(err.Error(), "msx down --volumes") {
		t.Fatalf("err = %v", err)
	}
	if len(h.b.builds) > 0 || len(h.api.callsLike("create")) > 0 {
		t.Errorf("work done before the check: %v %v", h.b.builds, h.api.calls)
	}
	// The same volume with a password found on disk is the normal case.
	h2 := newHarness()
	h2.api.images["postgres:16"] = true
	h2.api.volumes[vol] = h.api.volumes[vol]
	_, err = h2.up(t, m, UpOptions{Secrets: fakeSecrets{"payments-db-db-password": "old"}})
	if err != nil && strings.Contains(err.Error(), "no longer in") {
		t.Errorf("refused a volume whose password is on disk: %v", err)
	}
}

// changes records what a follow reports, typed.
type changes struct {
	mu    sync.Mutex
	lines []string
	got   []Change
}

func (c *changes) Log(service, _, line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, service+" | "+line)
}
func (c *changes) Status(string, string) { panic("a ChangeConsumer gets Change, not Status") }
func (c *changes) Change(_ string, ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, ch)
}

func (c *changes) snapshot() ([]string, []Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines), slices.Clone(c.got)
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFollowFromRunStartUsesTheEnginesClock(t *testing.T) {
	// The engine's clock (the fake's: 2026-01-01) is far from the host's:
	// following from the run's start must not lose its first lines.
	api := newFake()
	api.add("x", "shop-orders", "orders", container.StateRunning, 0, "old run")
	api.restart("shop-orders", "first", "second")
	r := New(api, nil)
	r.Clock = &fakeClock{now: time.Now()}
	c := &changes{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Follow(ctx, []LogTarget{{Service: "orders", ID: "x", From: FromRunStart}}, FollowOptions{}, c)
	}()
	waitUntil(t, "the run's lines", func() bool { l, _ := c.snapshot(); return len(l) >= 2 })
	cancel()
	<-done
	if l, _ := c.snapshot(); !slices.Equal(l, []string{"orders | first", "orders | second"}) {
		t.Errorf("lines = %q, want this run's lines only, all of them", l)
	}
}

func TestFollowFromNowShowsOnlyNewLinesThenEachRun(t *testing.T) {
	api := newFake()
	api.add("x", "shop-orders", "orders", container.StateRunning, 0, "before msx attached")
	r := New(api, nil)
	r.Clock = &fakeClock{}
	c := &changes{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Follow(ctx, []LogTarget{{Service: "orders", ID: "x", From: FromNow}}, FollowOptions{}, c)
	}()
	waitUntil(t, "the first attach", func() bool { return len(api.callsLike("logs ")) > 0 })
	api.restart("shop-orders", "new run")
	waitUntil(t, "the new run", func() bool { l, _ := c.snapshot(); return len(l) >= 1 })
	cancel()
	<-done
	l, got := c.snapshot()
	if !slices.Equal(l, []string{"orders | new run"}) {
		t.Errorf("lines = %q", l)
	}
	if len(got) == 0 || got[len(got)-1].Kind != Restarted {
		t.Errorf("changes = %+v, want a restart", got)
	}
}

func TestFollowThatKeepsFailingIsReportedOnce(t *testing.T) {
	api := newFake()
	api.add("x", "shop-orders", "orders", container.StateRunning, 0, "a")
	api.logsErr = errors.New("Error response from daemon: logging driver does not support reading")
	r := New(api, nil)
	r.Clock = &fakeClock{}
	c := &changes{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Follow(ctx, []LogTarget{{Service: "orders", ID: "x"}}, FollowOptions{}, c) }()
	waitUntil(t, "many attempts", func() bool { return len(api.callsLike("logs ")) > 4*FailuresBeforeReport })
	cancel()
	<-done
	_, got := c.snapshot()
	if len(got) != 1 || got[0].Kind != FollowFailing {
		t.Fatalf("changes = %+v, want one FollowFailing", got)
	}
	if w := got[0].words(); w != "cannot follow its logs: Error response from daemon: logging driver does not support reading (still trying)" {
		t.Errorf("words = %q", w)
	}
}

func TestSwapCopiesTheBinaryAndSignalsTheInit(t *testing.T) {
	h := newHarness()
	p, err := h.up(t, manifest("/w/shop"), UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The planned containers run from a volume of their own at SwapDir.
	for _, c := range h.api.containers {
		if _, ok := c.cfg.Volumes[devenv.SwapDir]; !ok {
			t.Errorf("%s has no volume at %s: %v", c.name, devenv.SwapDir, c.cfg.Volumes)
		}
	}
	if p.Container("orders").SwapDir != devenv.SwapDir {
		t.Errorf("orders plans no swap folder")
	}
	bin := t.TempDir() + "/app"
	if err := os.WriteFile(bin, []byte("new binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.reset()
	if err := h.r.Swap(context.Background(), "shop-orders", bin); err != nil {
		t.Fatal(err)
	}
	// The program's PID before the signal is asked while copying; after
	// the signal, until it has gone. The container is never restarted.
	var got []string
	for _, c := range h.api.calls {
		if !strings.HasPrefix(c, "logs ") && !strings.HasPrefix(c, "top ") {
			got = append(got, c)
		}
	}
	if want := []string{"copy shop-orders /msx", "kill -SIGUSR2 shop-orders"}; !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	kill := slices.Index(h.api.calls, "kill -SIGUSR2 shop-orders")
	if kill < 1 || !slices.Contains(h.api.calls[:kill], "top shop-orders") || !slices.Contains(h.api.calls[kill:], "top shop-orders") {
		t.Errorf("calls = %q, want the processes listed before and after the signal", h.api.calls)
	}
	if c := h.api.byRef("shop-orders"); c.state != container.StateRunning || c.program != 1 {
		t.Errorf("container %s, program %d: want running, its second program", c.state, c.program)
	}
	if got := h.api.copies["shop-orders:/msx/app"]; got != "new binary 755" {
		t.Errorf("copied %q", got)
	}
	if err := h.r.Swap(context.Background(), "shop-orders", bin+".missing"); err == nil ||
		!strings.HasPrefix(err.Error(), "cannot read the new binary of shop-orders") {
		t.Errorf("err = %v", err)
	}
}

func TestFollowSaysWhatChangedWhenAContainerIsReplaced(t *testing.T) {
	// Another msx up replaced the container (same name, another ID): the
	// follower says whether it was the code (the image) that changed.
	api := newFake()
	old := api.add("x", "shop-orders", "orders", container.StateRunning, 0, "a")
	old.cfg.Image = "msx-shop/orders:1"
	r := New(api, nil)
	r.Clock = &fakeClock{}
	c := &changes{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Follow(ctx, []LogTarget{{Service: "orders", ID: "shop-orders"}}, FollowOptions{}, c)
	}()
	waitUntil(t, "the first line", func() bool { l, _ := c.snapshot(); return len(l) == 1 })
	api.mu.Lock() // at once: the follower never sees the name missing
	api.exit(old, 0)
	delete(api.containers, "x")
	nc := &fakeContainer{id: "y", name: "shop-orders", host: &container.HostConfig{},
		cfg: &container.Config{Image: "msx-shop/orders:2", Labels: map[string]string{"dev.msx.service": "orders"}}}
	api.containers["y"] = nc
	api.run(nc, "b")
	api.mu.Unlock()
	waitUntil(t, "the new container's line", func() bool { l, _ := c.snapshot(); return len(l) == 2 })
	cancel()
	<-done
	_, got := c.snapshot()
	if i := slices.IndexFunc(got, func(ch Change) bool { return ch.Kind == Recreated }); i < 0 || got[i].Detail != "code changed" {
		t.Errorf("changes = %+v, want recreated (code changed)", got)
	}
}

// An instance is confined as its kind says in the plan: Postgres gets back
// only the capabilities its entrypoint needs to step down to its user.
func TestContainerConfigConfinesInstances(t *testing.T) {
	p, err := devenv.MakePlan(postgresManifest(), devenv.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, host, _ := containerConfig(p.Container("payments-db"))
	if !host.ReadonlyRootfs || !slices.Equal(host.CapDrop, []string{"ALL"}) ||
		!slices.Equal(host.CapAdd, []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"}) ||
		host.Tmpfs["/var/run/postgresql"] == "" || !slices.Contains(host.SecurityOpt, "no-new-privileges:true") ||
		host.Memory == 0 || host.RestartPolicy.Name != container.RestartPolicyDisabled {
		t.Errorf("the database's host config: %+v", host)
	}
}

// TestUpReplicas: a service with replicas gets a container each, started
// before what depends on it; ps lists each; a second up changes nothing;
// fewer replicas remove the extra ones; logs of the service follow all.
func TestUpReplicas(t *testing.T) {
	h := newHarness()
	m := manifest("/w/shop")
	s := m.Services["catalog"]
	s.Replicas = 3
	m.Services["catalog"] = s
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	starts := h.api.callsLike("start ")
	for _, inst := range []string{"catalog", "catalog-2", "catalog-3"} {
		i := slices.Index(starts, "start shop-"+inst)
		if i < 0 || i > slices.Index(starts, "start shop-gateway") {
			t.Errorf("%s not started before the gateway, which waits for every replica: %v", inst, starts)
		}
	}
	list, err := h.r.Status(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range list {
		got = append(got, st.Service+"="+st.State+"/"+st.Role)
	}
	want := []string{"collector=running/collector", "catalog=running/service", "catalog-2=running/service", "catalog-3=running/service",
		"payments=running/service", "orders=running/service", "gateway=running/gateway"}
	if !slices.Equal(got, want) {
		t.Errorf("status = %v, want %v", got, want)
	}
	targets, err := h.r.LogTargets(context.Background(), "shop", "/w/shop", []string{"catalog"})
	if err != nil {
		t.Fatal(err)
	}
	var followed []string
	for _, tg := range targets {
		followed = append(followed, tg.Service)
	}
	if !slices.Equal(followed, []string{"catalog", "catalog-2", "catalog-3"}) {
		t.Errorf("msx logs catalog follows %v, want every replica", followed)
	}

	h.reset()
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.api.callsLike("create"); len(got) > 0 {
		t.Errorf("a second up created %v", got)
	}

	s.Replicas = 2
	m.Services["catalog"] = s
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	h.reset()
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := h.api.state("shop-catalog-3"); st != "" {
		t.Errorf("replica 3 is %q after replicas went down to 2; want it removed", st)
	}
	if st := h.api.state("shop-catalog-2"); st != container.StateRunning {
		t.Errorf("replica 2 is %q", st)
	}
}

// Each program gets its identity keys as files: its own private key, and
// the public keys of who may call it; the gateway's private key goes to
// the gateway alone, and no key reaches a configuration.
func TestUpWritesTheIdentityKeys(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	gwKey := "key of " + devenv.IdentityKey(devenv.GatewayName)
	for name, want := range map[string]map[string]string{
		"gateway": {"identity.key": gwKey},
		"orders":  {"identity.key": "key of " + devenv.IdentityKey("orders"), "identity-gateway.pub": gwKey + ".pub 444"},
	} {
		for file, v := range want {
			if !strings.HasSuffix(v, " 444") {
				v += " 444"
			}
			if got := h.api.copies["shop-"+name+":/run/secrets/"+file]; got != v {
				t.Errorf("%s's %s = %q, want %q", name, file, got, v)
			}
		}
	}
	for path, v := range h.api.copies {
		if strings.HasPrefix(v, gwKey+" ") && path != "shop-gateway:/run/secrets/identity.key" {
			t.Errorf("the gateway's private key reached %s", path)
		}
	}
	for _, c := range h.api.containers {
		all := strings.Join(c.cfg.Env, " ") + fmt.Sprint(c.cfg.Labels) + fmt.Sprint(c.host.Binds)
		if strings.Contains(all, "key of ") {
			t.Errorf("%s: a key is in its configuration: %s", c.name, all)
		}
	}
}
