package session

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/progress"
)

func TestPlainTellsTheSameStory(t *testing.T) {
	var buf bytes.Buffer
	p := NewPlain(&buf, nil)
	for _, e := range []activity.Event{
		{Kind: activity.Info, Step: progress.Step{Kind: progress.Pulling, Object: progress.Image, Name: "postgres", Ref: "postgres:16"}},
		{Kind: activity.Info, Step: progress.Step{Kind: progress.Pulling, Object: progress.Image, Name: "postgres", Ref: "postgres:16", Current: 3 << 20, Total: 40 << 20}},
		{Kind: activity.Info, Step: progress.Step{Kind: progress.Pulled, Object: progress.Image, Name: "postgres", Ref: "postgres:16", Duration: 2345 * time.Millisecond}},
		{Kind: activity.Building, Service: "orders", Step: progress.Step{Kind: progress.Compiling, Name: "orders"}},
		{Kind: activity.Building, Service: "orders", Step: progress.Step{Kind: progress.Packing, Name: "orders"}},
		{Kind: activity.Built, Service: "orders", Duration: 1234 * time.Millisecond, Step: progress.Step{Kind: progress.Built, Name: "orders", Duration: 1234 * time.Millisecond}},
		{Kind: activity.Built, Service: "gateway", Step: progress.Step{Kind: progress.UpToDate, Name: "gateway"}},
		{Kind: activity.Starting, Service: "orders", Step: progress.Step{Kind: progress.Recreated, Name: "orders", Reason: "code changed"}},
		{Kind: activity.Starting, Service: "gateway", Step: progress.Step{Kind: progress.Running, Name: "gateway"}},
		{Kind: activity.Starting, Service: "orders-db", Step: progress.Step{Kind: progress.Started, Name: "orders-db"}},
		{Kind: activity.Ready, Service: "orders", Step: progress.Step{Kind: progress.Ready, Name: "orders"}},
		{Kind: activity.Info, Step: progress.Step{Kind: progress.Created, Object: progress.Network, Name: "shop_default"}},
		{Kind: activity.Info, Step: progress.Step{Kind: progress.Created, Object: progress.Volume, Name: "shop_orders-db"}},
		{Kind: activity.Info, Step: progress.Step{Kind: progress.Removed, Object: progress.Container, Name: "shop-orders", Reason: "this up failed"}},
		{Kind: activity.Stopped, Service: "catalog", Step: progress.Step{Kind: progress.Removed, Name: "catalog", Reason: "no longer in msx.yaml"}},
	} {
		p.Observe(e)
	}
	p.SetLines(logs.NewPrinter(&buf, []string{"orders", "gateway"}, logs.PrinterOptions{}))
	for _, e := range []activity.Event{
		{Kind: activity.Following, Detail: "http://127.0.0.1:8080", Duration: 2345 * time.Millisecond},
		{Kind: activity.Log, Service: "orders", Stream: activity.Stdout, Line: "listening"},
		{Kind: activity.Building, Service: "orders", Detail: "compiling"},
		{Kind: activity.BuildFailed, Service: "orders", Output: "services/orders/version.go:3:1: syntax error"},
		{Kind: activity.BuildFailed, Service: "gateway", Output: "services/orders/version.go:3:1: syntax error"},
		{Kind: activity.Warning, Detail: "the build failed; the previous version keeps serving until the next good build"},
		{Kind: activity.Built, Service: "orders", Detail: "built", Duration: 800 * time.Millisecond},
		{Kind: activity.Swapped, Service: "orders", Detail: "code changed", Duration: 1234 * time.Millisecond},
		{Kind: activity.Crashed, Service: "orders", Detail: "exited with code 2", ExitCode: 2},
		{Kind: activity.Stats, Service: "orders", CPU: 12.5, Memory: 12 << 20},
		{Kind: activity.Ready, Service: "orders", Detail: "answers its readiness check again"},
		{Kind: activity.Unhealthy, Service: "orders", Detail: "/readyz does not answer ready (503)"},
		{Kind: activity.Restarted, Service: "orders", Detail: "restarted on request", Duration: 140 * time.Millisecond},
		{Kind: activity.BreakerChanged, Service: "orders", Upstream: "payments", State: "open"},
		{Kind: activity.DeadLettered, Count: 2, Total: 3},
		{Kind: activity.Stopping, Detail: "stopping (Ctrl-C again to force)"},
		{Kind: activity.Stopped, Service: "orders", Step: progress.Step{Kind: progress.Stopped, Name: "orders"}},
		{Kind: activity.Stopped, Service: "gateway", Step: progress.Step{Kind: progress.Killed, Name: "gateway"}},
	} {
		p.Observe(e)
	}
	want := `postgres     pulling postgres:16
postgres     pulling postgres:16: 3 of 40 MB
postgres     pulled postgres:16 in 2.3s
orders       compiling
orders       packing
orders       built in 1.2s
gateway      up to date
orders       recreated (code changed)
gateway      unchanged, running
orders-db    unchanged, started
orders       ready
network shop_default created
volume shop_orders-db created
shop-orders  removed (this up failed)
catalog      removed (no longer in msx.yaml)
ready in 2.3s at http://127.0.0.1:8080; Ctrl-C to stop
orders  | listening
orders  | msx: compiling
# orders: go build failed
services/orders/version.go:3:1: syntax error
msx: the build failed; the previous version keeps serving until the next good build
orders  | msx: built in 800ms
orders  | msx: swapped in 1.2s (code changed)
orders  | msx: exited with code 2
orders  | msx: ready: answers its readiness check again
orders  | msx: unhealthy: /readyz does not answer ready (503)
orders  | msx: restarted on request in 140ms
orders  | msx: breaker payments: open
msx: 2 events dead-lettered (3 in all): a handler kept failing
stopping (Ctrl-C again to force)
orders  | msx: stopped
gateway | msx: killed
`
	if got := buf.String(); got != want {
		t.Errorf("printed:\n%s\nwant:\n%s", got, want)
	}
}

// A crashed program's last lines, a health check's output and a log line
// printed before the renderer is set are shown escaped.
func TestPlainHostile(t *testing.T) {
	var buf bytes.Buffer
	p := NewPlain(&buf, nil)
	for _, e := range []activity.Event{
		{Kind: activity.Log, Service: "orders", Line: "a\x1b[2J"},
		{Kind: activity.Unhealthy, Service: "orders", Detail: "its health check says unhealthy: \x1b]0;t\x07"},
		{Kind: activity.Crashed, Service: "orders", Detail: "exited with code 2", ExitCode: 2, Output: "panic: \x1b[31mboom\u202e\r\nline 2"},
	} {
		p.Observe(e)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x07\u202e\r") {
		t.Errorf("raw control printed:\n%q", out)
	}
	for _, want := range []string{`orders | a\x1b[2J`, `unhealthy: \x1b]0;t\x07`, "  panic: \\x1b[31mboom\\u202e\n  line 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%q", want, out)
		}
	}
}
