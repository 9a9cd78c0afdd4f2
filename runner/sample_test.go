package runner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
)

func TestSampleReadsReadinessAndCounters(t *testing.T) {
	h := newHarness()
	p, err := h.up(t, manifest("/w/shop"), UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	orders := p.Container("orders")
	c := h.api.byRef(orders.Name)
	c.cpu, c.mem = 7_000_000, 12<<20

	// Without stats (no observer shows them), health alone.
	s, err := h.r.Sample(context.Background(), orders, false)
	if err != nil || !s.Running || !s.Ready || s.HasStats {
		t.Errorf("sampled without stats as %+v, %v: want running, ready, no stats", s, err)
	}
	s, err = h.r.Sample(context.Background(), orders, true)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Running || !s.Ready || s.Reason != "" || s.Port != 0 {
		t.Errorf("running ready service (not published) sampled as %+v", s)
	}
	// The gateway is published: the sample says on which host port.
	gw := p.Container(devenv.GatewayName)
	if s, err := h.r.Sample(context.Background(), gw, true); err != nil || s.Port == 0 || (gw.HostPort != 0 && s.Port != gw.HostPort) {
		t.Errorf("gateway sampled as %+v, %v; want its host port %d", s, err, gw.HostPort)
	}
	// docker stats leaves the inactive page cache out, and so does msx.
	if !s.HasStats || s.CPU != 7_000_000 || s.Memory != 12<<20 || s.Read.IsZero() {
		t.Errorf("counters: %+v", s)
	}

	h.r.Probe = func(context.Context, string) error { return errors.New("503 Service Unavailable") }
	s, err = h.r.Sample(context.Background(), orders, true)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Running || s.Ready || !strings.Contains(s.Reason, "/readyz does not answer ready (503") {
		t.Errorf("unready service sampled as %+v", s)
	}

	// A database's readiness is the engine's health status.
	db := &devenv.Container{Name: orders.Name, Ready: devenv.Probe{Healthcheck: []string{"CMD", "true"}}}
	c.health = container.Unhealthy
	s, _ = h.r.Sample(context.Background(), db, true)
	if s.Ready || s.Reason != "its health check says unhealthy: connection refused" {
		t.Errorf("unhealthy container sampled as %+v", s)
	}
	c.health = container.Healthy
	if s, _ = h.r.Sample(context.Background(), db, true); !s.Ready {
		t.Errorf("healthy container sampled as %+v", s)
	}

	// A stopped container is a sample of nothing, not an error.
	h.api.mu.Lock()
	h.api.exit(c, 2)
	h.api.mu.Unlock()
	if s, err = h.r.Sample(context.Background(), orders, true); err != nil || s.Running || s.HasStats {
		t.Errorf("stopped container: %+v, %v", s, err)
	}
	if _, err := h.r.Sample(context.Background(), &devenv.Container{Name: "shop-gone"}, true); err == nil {
		t.Error("a container that does not exist sampled without an error")
	}
}

func TestCPUPercentIsOfOneCoreBetweenTwoSamples(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := Sample{HasStats: true, Read: t0, CPU: 1_000_000_000}
	for _, tc := range []struct {
		name string
		b    Sample
		want float64
		ok   bool
	}{
		{"half a core", Sample{HasStats: true, Read: t0.Add(2 * time.Second), CPU: 2_000_000_000}, 50, true},
		{"two cores", Sample{HasStats: true, Read: t0.Add(time.Second), CPU: 3_000_000_000}, 200, true},
		{"idle", Sample{HasStats: true, Read: t0.Add(time.Second), CPU: 1_000_000_000}, 0, true},
		{"started again", Sample{HasStats: true, Read: t0.Add(time.Second), CPU: 10}, 0, false},
		{"same reading", Sample{HasStats: true, Read: t0, CPU: 2_000_000_000}, 0, false},
		{"no stats", Sample{Read: t0.Add(time.Second)}, 0, false},
	} {
		got, ok := CPUPercent(a, tc.b)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRestartProgramSignalsMsxInitOrSaysItCannot(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	c := h.api.byRef("shop-orders")
	// An image without msx-init (packed by an older msx): nothing done.
	h.reset()
	done, err := h.r.RestartProgram(context.Background(), "shop-orders")
	if err != nil || done {
		t.Fatalf("without msx-init: done %v, err %v; want false, nil", done, err)
	}
	if slices.ContainsFunc(h.api.calls, func(s string) bool { return strings.HasPrefix(s, "kill") || strings.HasPrefix(s, "restart") }) {
		t.Errorf("calls = %q, want nothing signalled or restarted", h.api.calls)
	}
	c.cfg.Entrypoint = []string{builder.InitPath, devenv.SwapDir + "/app"}
	h.reset()
	done, err = h.r.RestartProgram(context.Background(), "shop-orders")
	if err != nil || !done {
		t.Fatalf("with msx-init: done %v, err %v", done, err)
	}
	if !slices.Contains(h.api.calls, "kill -SIGUSR2 shop-orders") || slices.Contains(h.api.calls, "restart shop-orders") {
		t.Errorf("calls = %q, want msx-init signalled, the container not restarted", h.api.calls)
	}
	if c.state != container.StateRunning || c.program != 1 {
		t.Errorf("container %s, program %d: want running, its second program", c.state, c.program)
	}
}
