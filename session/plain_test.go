package session

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/events"
	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/progress"
)

func TestPlainTellsTheSameStory(t *testing.T) {
	var buf bytes.Buffer
	p := NewPlain(&buf, nil)
	for _, e := range []events.Event{
		{Kind: events.Info, Step: progress.Step{Kind: progress.Pulling, Object: progress.Image, Name: "postgres", Ref: "postgres:16"}},
		{Kind: events.Info, Step: progress.Step{Kind: progress.Pulling, Object: progress.Image, Name: "postgres", Ref: "postgres:16", Current: 3 << 20, Total: 40 << 20}},
		{Kind: events.Info, Step: progress.Step{Kind: progress.Pulled, Object: progress.Image, Name: "postgres", Ref: "postgres:16", Duration: 2345 * time.Millisecond}},
		{Kind: events.Building, Service: "orders", Step: progress.Step{Kind: progress.Compiling, Name: "orders"}},
		{Kind: events.Building, Service: "orders", Step: progress.Step{Kind: progress.Packing, Name: "orders"}},
		{Kind: events.Built, Service: "orders", Duration: 1234 * time.Millisecond, Step: progress.Step{Kind: progress.Built, Name: "orders", Duration: 1234 * time.Millisecond}},
		{Kind: events.Built, Service: "gateway", Step: progress.Step{Kind: progress.UpToDate, Name: "gateway"}},
		{Kind: events.Starting, Service: "orders", Step: progress.Step{Kind: progress.Recreated, Name: "orders", Reason: "code changed"}},
		{Kind: events.Starting, Service: "gateway", Step: progress.Step{Kind: progress.Running, Name: "gateway"}},
		{Kind: events.Starting, Service: "orders-db", Step: progress.Step{Kind: progress.Started, Name: "orders-db"}},
		{Kind: events.Ready, Service: "orders", Step: progress.Step{Kind: progress.Ready, Name: "orders"}},
		{Kind: events.Info, Step: progress.Step{Kind: progress.Created, Object: progress.Network, Name: "shop_default"}},
		{Kind: events.Info, Step: progress.Step{Kind: progress.Created, Object: progress.Volume, Name: "shop_orders-db"}},
		{Kind: events.Info, Step: progress.Step{Kind: progress.Removed, Object: progress.Container, Name: "shop-orders", Reason: "this up failed"}},
		{Kind: events.Stopped, Service: "catalog", Step: progress.Step{Kind: progress.Removed, Name: "catalog", Reason: "no longer in msx.yaml"}},
	} {
		p.Observe(e)
	}
	p.SetLines(logs.NewPrinter(&buf, []string{"orders", "gateway"}, logs.PrinterOptions{}))
	for _, e := range []events.Event{
		{Kind: events.Following, Detail: "http://127.0.0.1:8080", Duration: 2345 * time.Millisecond},
		{Kind: events.Log, Service: "orders", Stream: events.Stdout, Line: "listening"},
		{Kind: events.Building, Service: "orders", Detail: "compiling"},
		{Kind: events.BuildFailed, Service: "orders", Output: "services/orders/version.go:3:1: syntax error"},
		{Kind: events.BuildFailed, Service: "gateway", Output: "services/orders/version.go:3:1: syntax error"},
		{Kind: events.Warning, Detail: "the build failed; the previous version keeps serving until the next good build"},
		{Kind: events.Built, Service: "orders", Detail: "built", Duration: 800 * time.Millisecond},
		{Kind: events.Swapped, Service: "orders", Detail: "code changed", Duration: 1234 * time.Millisecond},
		{Kind: events.Crashed, Service: "orders", Detail: "exited with code 2", ExitCode: 2},
		{Kind: events.Stats, Service: "orders", CPU: 12.5, Memory: 12 << 20},
		{Kind: events.Ready, Service: "orders", Detail: "answers its readiness check again"},
		{Kind: events.Unhealthy, Service: "orders", Detail: "/readyz does not answer ready (503)"},
		{Kind: events.Restarted, Service: "orders", Detail: "restarted on request", Duration: 140 * time.Millisecond},
		{Kind: events.BreakerChanged, Service: "orders", Upstream: "payments", State: "open"},
		{Kind: events.DeadLettered, Count: 2, Total: 3},
		{Kind: events.Stopping, Detail: "stopping (Ctrl-C again to force)"},
		{Kind: events.Stopped, Service: "orders", Step: progress.Step{Kind: progress.Stopped, Name: "orders"}},
		{Kind: events.Stopped, Service: "gateway", Step: progress.Step{Kind: progress.Killed, Name: "gateway"}},
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
	for _, e := range []events.Event{
		{Kind: events.Log, Service: "orders", Line: "a\x1b[2J"},
		{Kind: events.Unhealthy, Service: "orders", Detail: "its health check says unhealthy: \x1b]0;t\x07"},
		{Kind: events.Crashed, Service: "orders", Detail: "exited with code 2", ExitCode: 2, Output: "panic: \x1b[31mboom\u202e\r\nline 2"},
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
