package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/scaffold"
)

func TestPsPrintsTheRunnersStatus(t *testing.T) {
	r := newRig(t)
	r.runner.status = []runner.ServiceStatus{{Service: "orders", State: "running", Ready: true, Restarts: 2},
		{Service: "orders-db", State: "exited", ExitCode: 3}}
	if err := runPs(context.Background(), r.f, &psOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := r.out.String(); !strings.HasPrefix(got, "SERVICE\t") || !strings.Contains(got, "\norders\trunning\tyes\t\t2\t") ||
		!strings.Contains(got, "\norders-db\texited (3)\tno\t") {
		t.Errorf("msx ps printed %q", got)
	}
	if !r.engine.closed {
		t.Error("the engine connection was left open")
	}
	r.out.Reset()
	if err := runPs(context.Background(), r.f, &psOptions{JSON: true}); err != nil {
		t.Fatal(err)
	}
	var list []runner.ServiceStatus
	if err := json.Unmarshal(r.out.Bytes(), &list); err != nil || len(list) != 2 || list[1].ExitCode != 3 {
		t.Errorf("msx ps --json printed %q (%v)", r.out, err)
	}
}

func TestDbPrintsWhereTheDatabaseIs(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.runner.database = runner.Database{Service: "orders", DB: devenv.DBSQLite, Volume: "shop_orders-data", Path: "/data/orders.db"}
	if err := runDb(ctx, r.f, &dbOptions{Service: "orders"}); err != nil || r.out.String() != "shop_orders-data:/data/orders.db\n" {
		t.Errorf("SQLite: %q %v", r.out, err)
	}
	if err := runDb(ctx, r.f, &dbOptions{Service: "orders", Shell: true}); err == nil || !strings.Contains(err.Error(), "uses SQLite") {
		t.Errorf("--shell on SQLite: %v", err)
	}

	r.runner.database = runner.Database{Service: "orders", DB: devenv.DBPostgres, User: "orders", Name: "orders", HostPort: 54321, Secret: "orders-db-password"}
	r.out.Reset()
	if err := runDb(ctx, r.f, &dbOptions{Service: "orders"}); err != nil || !strings.Contains(r.out.String(), "127.0.0.1:54321/orders") || strings.Contains(r.out.String(), ":s3cret@") {
		t.Errorf("Postgres: %q %v", r.out, err)
	}
	if err := runDb(ctx, r.f, &dbOptions{Service: "orders", ShowPassword: true}); err == nil || !strings.Contains(err.Error(), "is not in .msx") {
		t.Errorf("--show-password before any up: %v", err)
	}
	if err := r.f.Store(r.f.Dir).Set("orders-db-password", "s3cret"); err != nil {
		t.Fatal(err)
	}
	r.out.Reset()
	if err := runDb(ctx, r.f, &dbOptions{Service: "orders", ShowPassword: true}); err != nil || !strings.Contains(r.out.String(), "orders:s3cret@127.0.0.1:54321") {
		t.Errorf("--show-password: %q %v", r.out, err)
	}
	r.out.Reset()
	if err := runDb(ctx, r.f, &dbOptions{Service: "orders", PGPass: true}); err != nil || !strings.HasPrefix(r.out.String(), "PGPASSFILE=") || strings.Contains(r.out.String(), "s3cret") {
		t.Fatalf("--pgpass: %q %v", r.out, err)
	}
	path := strings.Trim(strings.Fields(strings.TrimPrefix(r.out.String(), "PGPASSFILE="))[0], "'")
	if b, err := os.ReadFile(path); err != nil || string(b) != "127.0.0.1:54321:orders:orders:s3cret\n" {
		t.Errorf("password file %s: %q %v", path, b, err)
	}
	// The URL names a port on the engine's machine.
	r.remote()
	if err := runDb(ctx, r.f, &dbOptions{Service: "orders"}); err == nil || !strings.Contains(err.Error(), "cannot be reached from here") {
		t.Errorf("remote engine: %v", err)
	}
}

func TestDownSaysWhatItRemoved(t *testing.T) {
	r := newRig(t)
	r.runner.down = &runner.DownResult{Removed: []string{"container shop-orders", "network shop_default"}}
	if err := runDown(context.Background(), r.f, &downOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := r.err.String(); got != "removed container shop-orders\nremoved network shop_default\n" {
		t.Errorf("stderr = %q", got)
	}
	r.err.Reset()
	r.runner.down = &runner.DownResult{}
	if err := runDown(context.Background(), r.f, &downOptions{}); err != nil || r.err.String() != "nothing of project shop to remove\n" {
		t.Errorf("nothing to remove: %q %v", r.err, err)
	}
}

// kill, pause and resume go through the engine, wherever it is; the
// others through ports published on the engine's 127.0.0.1.
func TestFaultReachesTheEngineOrThePublishedPorts(t *testing.T) {
	r := newRig(t)
	r.remote()
	r.runner.fault = "paused"
	if err := runFault(context.Background(), r.f, &faultOptions{Service: "orders", Action: runner.FaultAction{Kind: "pause"}}); err != nil {
		t.Fatal(err)
	}
	if r.out.String() != "orders: paused\n" || r.runner.faulted.Kind != "pause" {
		t.Errorf("stdout %q, runner asked %+v", r.out, r.runner.faulted)
	}
	r.runner.faulted = runner.FaultAction{}
	err := runFault(context.Background(), r.f, &faultOptions{Service: "orders", Action: runner.FaultAction{Kind: "latency", Latency: time.Second}})
	if err == nil || !strings.Contains(err.Error(), "cannot be reached from here") || r.runner.faulted.Kind != "" {
		t.Errorf("latency on a remote engine: %v, runner asked %+v", err, r.runner.faulted)
	}
}

func TestLogsChecksNamesAndSaysWhenNothingRuns(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := runLogs(ctx, r.f, &logsOptions{Services: []string{"nope"}, Tail: -1}); err == nil || !strings.Contains(err.Error(), "there is no service nope in msx.yaml") {
		t.Errorf("unknown service: %v", err)
	}
	if err := runLogs(ctx, r.f, &logsOptions{Tail: -1}); err == nil || err.Error() != "project shop has no containers; run msx up first" {
		t.Errorf("no containers: %v", err)
	}
	r.runner.targets = []runner.LogTarget{{Service: "orders", ID: "o"}}
	r.runner.history = map[string][]runner.LogLine{"o": {{Time: r.f.Clock.Now(), Line: "listening on :8081"}}}
	if err := runLogs(ctx, r.f, &logsOptions{Tail: -1, NoPrefix: true}); err != nil || r.out.String() != "listening on :8081\n" {
		t.Errorf("msx logs: %q %v", r.out, err)
	}
}

func TestTraceSaysWhenTheCollectorIsNotRunning(t *testing.T) {
	r := newRig(t)
	r.runner.urlErr = runner.ErrNotRunning
	err := runTrace(context.Background(), r.f, &traceOptions{Last: 20})
	var me *msxerr.Error
	if !errors.As(err, &me) || me.Msg != "the trace collector of project shop is not running" {
		t.Errorf("err = %v", err)
	}
	r.remote()
	if err := runTrace(context.Background(), r.f, &traceOptions{Last: 20}); err == nil || !strings.Contains(err.Error(), "cannot be reached from here") {
		t.Errorf("remote engine: %v", err)
	}
}

func TestEventsNeedsABroker(t *testing.T) {
	r := newRig(t)
	if err := runEvents(context.Background(), r.f, &eventsOptions{}); err == nil || !strings.Contains(err.Error(), "this workspace has no broker") {
		t.Errorf("err = %v", err)
	}
}

// run executes c with args and returns the error of its RunE.
func run(t *testing.T, c *cobra.Command, args ...string) error {
	t.Helper()
	c.SetArgs(args)
	c.SilenceErrors, c.SilenceUsage = true, true
	return c.Execute()
}

// The command lines make the options each run function gets.
func TestCommandLinesMakeOptions(t *testing.T) {
	r := newRig(t)
	var up *upOptions
	if err := run(t, newUpCmd(r.f, func(_ context.Context, o *upOptions) error { up = o; return nil }), "-d", "--no-watch", "orders", "payments"); err != nil {
		t.Fatal(err)
	}
	if !up.Detach || !up.NoWatch || up.NoTUI || strings.Join(up.Services, ",") != "orders,payments" {
		t.Errorf("up options %+v", up)
	}

	var tr *traceOptions
	if err := run(t, newTraceCmd(r.f, func(_ context.Context, o *traceOptions) error { tr = o; return nil }), "4BF92F35", "--errors"); err != nil {
		t.Fatal(err)
	}
	if tr.ID != "4bf92f35" || !tr.Errors || tr.Last != 20 {
		t.Errorf("trace options %+v", tr)
	}
	called := false
	never := func(context.Context, *traceOptions) error { called = true; return nil }
	for _, args := range [][]string{{"xyz"}, {"--last", "0"}, {"--min-duration", "-1s"}} {
		var ue *msxerr.UsageError
		if err := run(t, newTraceCmd(r.f, never), args...); !errors.As(err, &ue) || called {
			t.Errorf("msx trace %v: %v (run called %v), want a usage error", args, err, called)
		}
	}

	var fo *faultOptions
	if err := run(t, newFaultCmd(r.f, func(_ context.Context, o *faultOptions) error { fo = o; return nil }), "orders", "latency", "300ms"); err != nil {
		t.Fatal(err)
	}
	if fo.Service != "orders" || fo.Action.Kind != "latency" || fo.Action.Latency != 300*time.Millisecond {
		t.Errorf("fault options %+v", fo)
	}

	dbCalled := false
	for _, args := range [][]string{{"orders", "--shell", "--pgpass"}, {"orders", "--show-password", "--pgpass"}} {
		var ue *msxerr.UsageError
		err := run(t, newDbCmd(r.f, func(context.Context, *dbOptions) error { dbCalled = true; return nil }), args...)
		if !errors.As(err, &ue) || dbCalled {
			t.Errorf("msx db %v: %v, want a usage error", args, err)
		}
	}

	var lo *logsOptions
	if err := run(t, newLogsCmd(r.f, func(_ context.Context, o *logsOptions) error { lo = o; return nil }), "orders", "-f", "-n", "5", "--level", "warn"); err != nil {
		t.Fatal(err)
	}
	if !lo.Follow || lo.Tail != 5 || lo.Level != "warn" || strings.Join(lo.Services, ",") != "orders" {
		t.Errorf("logs options %+v", lo)
	}
}

// upRig is a rig whose workspace has the service's folder, as msx up
// checks before building.
func upRig(t *testing.T) *rig {
	r := newRig(t)
	if err := os.MkdirAll(r.f.Dir+"/services/orders", 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUpDetachedPrintsTheGatewayURL(t *testing.T) {
	r := upRig(t)
	r.runner.plan = &devenv.Plan{GatewayPort: 8080}
	if err := runUp(context.Background(), r.f, &upOptions{Detach: true, Services: []string{"orders"}}); err != nil {
		t.Fatal(err)
	}
	if r.out.String() != "http://127.0.0.1:8080\n" || !strings.Contains(r.err.String(), "ready in 0s\n") {
		t.Errorf("stdout %q, stderr %q", r.out, r.err)
	}
	if strings.Join(r.runner.up.Services, ",") != "orders" || r.runner.up.Secrets == nil || r.runner.progress == nil {
		t.Errorf("the runner was given %+v (progress reported: %v)", r.runner.up, r.runner.progress != nil)
	}
	if !r.engine.closed {
		t.Error("the engine connection was left open")
	}
}

func TestUpDetachedFailurePointsAtDown(t *testing.T) {
	r := upRig(t)
	r.runner.upErr = &runner.UpError{Started: []string{"shop-orders"}, Err: msxerr.New("free the port", "port 8080 is taken")}
	err := runUp(context.Background(), r.f, &upOptions{Detach: true})
	var me *msxerr.Error
	if !errors.As(err, &me) || me.Msg != "port 8080 is taken" || me.Hint != "free the port; msx down stops what did start" {
		t.Errorf("err = %#v", err)
	}
	r.runner.upErr = &runner.UpError{Err: msxerr.ErrCancelled}
	if err := runUp(context.Background(), r.f, &upOptions{Detach: true}); !errors.Is(err, msxerr.ErrCancelled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestUpRefusesAMissingServiceFolder(t *testing.T) {
	r := newRig(t)
	err := runUp(context.Background(), r.f, &upOptions{Detach: true})
	if err == nil || !strings.Contains(err.Error(), "its folder services/orders is missing") || r.runner.up.MsxVersion != "" {
		t.Errorf("err = %v (runner asked to start: %v)", err, r.runner.up.MsxVersion != "")
	}
}

// With no engine answering, msx remove service still takes the service
// out of msx.yaml: nothing of it can be running.
func TestRemoveServiceWithoutAnEngine(t *testing.T) {
	r := newRig(t)
	r.f.Docker = func(context.Context) (EngineClient, error) {
		return nil, msxerr.New("start Docker", "Docker is not running")
	}
	if err := os.MkdirAll(r.f.Dir+"/services/orders", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := runRemoveService(context.Background(), r.f, &removeServiceOptions{RemoveOptions: scaffold.RemoveOptions{Name: "orders"}}); err != nil {
		t.Fatal(err)
	}
	if got := r.err.String(); !strings.HasPrefix(got, "Docker is not answering (Docker is not running; start Docker): no container removed.\n") ||
		!strings.Contains(got, "Removed service orders.") {
		t.Errorf("stderr = %q", got)
	}
	m, err := r.f.Manifest()
	if err != nil || len(m.Services) != 0 {
		t.Errorf("msx.yaml still has %v (%v)", m, err)
	}
}

func TestRemoveServiceRemovesItsContainersFirst(t *testing.T) {
	r := newRig(t)
	if err := os.MkdirAll(r.f.Dir+"/services/orders", 0o755); err != nil {
		t.Fatal(err)
	}
	r.runner.down = &runner.DownResult{Removed: []string{"container shop-orders"}}
	if err := runRemoveService(context.Background(), r.f, &removeServiceOptions{RemoveOptions: scaffold.RemoveOptions{Name: "orders"}}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.runner.downOf, ",") != "orders,orders-db" || !strings.HasPrefix(r.err.String(), "removed container shop-orders\n") {
		t.Errorf("removed %v; stderr %q", r.runner.downOf, r.err)
	}
}

func TestEventsPrintsWhatTheReaderRead(t *testing.T) {
	r := newRig(t)
	const withBroker = `project: shop
module: example.com/shop
gateway:
  port: 8080
services:
  orders: {port: 8081, db: sqlite, route: /api/orders/}
  payments: {port: 8082, db: sqlite, route: /api/payments/, subscribes: [orders.item.created]}
`
	if err := os.WriteFile(r.f.Dir+"/msx.yaml", []byte(withBroker), 0o644); err != nil {
		t.Fatal(err)
	}
	r.runner.events = [][]byte{[]byte(`{"seq":1,"time":"2026-01-02T03:04:05Z","subject":"orders.item.created","id":"a","data":{"item_id":1}}`)}
	if err := runEvents(context.Background(), r.f, &eventsOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := r.out.String(), "TIME\tSUBJECT\tID\tDATA\n2026-01-02T03:04:05.000Z\torders.item.created\ta\t{\"item_id\":1}\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	r.runner.events = [][]byte{[]byte("not json")}
	if err := runEvents(context.Background(), r.f, &eventsOptions{}); err == nil || !strings.Contains(err.Error(), `the event reader printed "not json"`) {
		t.Errorf("a line that is not an event: %v", err)
	}
}
