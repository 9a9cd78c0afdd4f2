package runner

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/progress"
)

// chain is a workspace of n services, each depending on the one before it,
// every third with SQLite and the rest without a database: the topology of
// the scale benchmark.
func chain(n int) *devenv.Manifest {
	m := &devenv.Manifest{
		Project:  "shop",
		Module:   "example.com/shop",
		Gateway:  devenv.Gateway{Port: 8080},
		Dir:      "/w/shop",
		Services: map[string]devenv.Service{},
	}
	for i := 1; i <= n; i++ {
		s := devenv.Service{Port: 8100 + i, DB: devenv.DBNone}
		if i%3 == 0 {
			s.DB = devenv.DBSQLite
		}
		if i > 1 {
			s.DependsOn = []string{chainName(i - 1)}
		}
		m.Services[chainName(i)] = s
	}
	if err := m.Validate(); err != nil {
		panic(err)
	}
	return m
}

func chainName(i int) string { return fmt.Sprintf("s%02d", i) }

// probeBy makes the harness's readiness probe record "probe NAME" among the
// engine's calls, and fail for the containers notReady names.
func (h *harness) probeBy(notReady func(name string) bool) {
	h.r.Probe = func(_ context.Context, raw string) error {
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		h.api.mu.Lock()
		defer h.api.mu.Unlock()
		name := ""
		for _, c := range h.api.containers {
			if fmt.Sprint(c.port) == u.Port() {
				name = c.name
			}
		}
		h.api.call("probe %s", name)
		if notReady(name) {
			return errors.New("503 Service Unavailable")
		}
		return nil
	}
}

// A chain of services starts every service before waiting on any: the
// start costs one readiness wait, not one per link.
func TestUpStartsAChainAtOnce(t *testing.T) {
	h := newHarness()
	h.probeBy(func(string) bool { return false })
	m := chain(10)
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.api.mu.Lock()
	calls := slices.Clone(h.api.calls)
	h.api.mu.Unlock()
	firstProbe, lastStart, gateway := -1, -1, -1
	for i, c := range calls {
		switch {
		case strings.HasPrefix(c, "probe shop-s") && firstProbe < 0:
			firstProbe = i
		case strings.HasPrefix(c, "start shop-s"):
			lastStart = i
		case c == "start shop-gateway":
			gateway = i
		}
	}
	if lastStart < 0 || firstProbe < lastStart {
		t.Errorf("a service was waited on before every service started (first probe at %d, last start at %d):\n%s",
			firstProbe, lastStart, strings.Join(calls, "\n"))
	}
	for i := 1; i <= 10; i++ {
		ready := slices.Index(calls, "probe shop-"+chainName(i))
		if ready < 0 || ready > gateway {
			t.Errorf("the gateway started before %s was ready:\n%s", chainName(i), strings.Join(calls, "\n"))
		}
	}
	if got := h.statuses(progress.Ready, ""); len(got) != 12 {
		t.Errorf("ready = %v, want the 10 services, the collector and the gateway", got)
	}
}

// A service of the chain that never becomes ready is the one named, not
// the services after it (which are not ready either, since they call it),
// and nothing this up created is left.
func TestUpNeverReadyDependencyIsNamed(t *testing.T) {
	for range 5 { // the services wait at the same time: any could time out first
		h := newHarness()
		h.r.ReadyTimeout = 5 * time.Second
		h.probeBy(func(name string) bool { return name >= "shop-s05" && name <= "shop-s10" })
		h.api.logs["s05"] = []string{"waiting for something"}
		_, err := h.up(t, chain(10), UpOptions{})
		var se *ServiceError
		if !errors.As(err, &se) || se.Service != "s05" || se.Timeout != 5*time.Second {
			t.Fatalf("err = %v, want s05 named as never ready", err)
		}
		if !strings.Contains(err.Error(), "s05 was not ready after 5s") {
			t.Errorf("message %q", err)
		}
		if n := len(h.api.containers); n != 0 {
			t.Errorf("%d containers left after the failed up", n)
		}
		if got := h.api.callsLike("create shop-gateway"); len(got) > 0 {
			t.Errorf("the gateway was created although a service never became ready")
		}
	}
}

// A service that crashes as it starts is named with its exit code at once,
// though the services after it in the chain are fine; what this up
// created is removed.
func TestUpCrashingDependencyIsNamed(t *testing.T) {
	h := newHarness()
	h.probeBy(func(string) bool { return false })
	h.api.exitOnStart["s03"] = 2
	h.api.logs["s03"] = []string{"panic: boom"}
	_, err := h.up(t, chain(10), UpOptions{})
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "s03" || se.ExitCode != 2 || !slices.Equal(se.Logs, []string{"panic: boom"}) {
		t.Fatalf("err = %#v, want s03's exit and its log", err)
	}
	if n := len(h.api.containers); n != 0 {
		t.Errorf("%d containers left after the failed up", n)
	}
}

// The gateway waits for every replica of the services it routes to; a
// replica that never becomes ready is named, not the service that calls
// it nor the gateway.
func TestUpWaitsForEveryReplica(t *testing.T) {
	h := newHarness()
	h.r.ReadyTimeout = 5 * time.Second
	m := manifest("/w/shop")
	s := m.Services["catalog"]
	s.Replicas = 3
	m.Services["catalog"] = s
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	// orders calls catalog: not ready while a replica is not.
	h.probeBy(func(name string) bool { return name == "shop-catalog-3" || name == "shop-orders" })
	_, err := h.up(t, m, UpOptions{})
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "catalog-3" {
		t.Fatalf("err = %v, want catalog-3 named", err)
	}
	if got := h.api.callsLike("create shop-gateway"); len(got) > 0 {
		t.Errorf("the gateway was created before every replica was ready")
	}
	if n := len(h.api.containers); n != 0 {
		t.Errorf("%d containers left after the failed up", n)
	}
}

// msx up SERVICE starts the service and what it calls at once too.
func TestUpServiceStartsItsChainAtOnce(t *testing.T) {
	h := newHarness()
	h.probeBy(func(string) bool { return false })
	if _, err := h.up(t, chain(6), UpOptions{Services: []string{"s04"}}); err != nil {
		t.Fatal(err)
	}
	starts := h.api.callsLike("start ")
	want := []string{"start shop-collector", "start shop-s01", "start shop-s02", "start shop-s03", "start shop-s04", "start shop-gateway"}
	if got := slices.Clone(starts); len(got) != len(want) || got[0] != want[0] || got[5] != want[5] {
		t.Errorf("starts = %v, want %v (the services in any order)", starts, want)
	}
	h.api.mu.Lock()
	calls := slices.Clone(h.api.calls)
	h.api.mu.Unlock()
	firstProbe := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "probe shop-s") })
	if firstProbe < slices.Index(calls, "start shop-s04") || firstProbe < slices.Index(calls, "start shop-s01") {
		t.Errorf("a service was waited on before the others started:\n%s", strings.Join(calls, "\n"))
	}
}

// A running service that up adopts as it is, checked in the first wave,
// never waits for a dependency that starts in a later wave: that would
// wait forever.
func TestUpAdoptedServiceNeverReadyDoesNotWaitForALaterWave(t *testing.T) {
	h := newHarness()
	h.r.ReadyTimeout = 5 * time.Second
	m := manifest("/w/shop")
	if _, err := h.up(t, m, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	h.b.version["catalog"] = 2 // catalog is recreated, in the wave after the collector's
	h.probeBy(func(name string) bool { return name == "shop-orders" })
	done := make(chan error, 1)
	go func() { _, err := h.up(t, m, UpOptions{}); done <- err }()
	select {
	case err := <-done:
		var se *ServiceError
		if !errors.As(err, &se) || se.Service != "orders" {
			t.Fatalf("err = %v, want orders named as never ready", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("up did not return: the adopted service waits for a wave that never starts")
	}
}

// A chain of services stops at once: every replica after the gateway and
// before the collector, none after the services that call it.
func TestStopDepsHaveNoChain(t *testing.T) {
	m := chain(10)
	s := m.Services["s05"]
	s.Replicas = 2
	m.Services["s05"] = s
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	deps := StopDeps(m)
	for i := 1; i <= 10; i++ {
		if got := deps[chainName(i)]; !slices.Equal(got, []string{devenv.CollectorName}) {
			t.Errorf("%s stops after %v, want the collector alone", chainName(i), got)
		}
	}
	if got := deps["s05-2"]; !slices.Equal(got, []string{devenv.CollectorName}) {
		t.Errorf("replica s05-2 stops after %v", got)
	}
	if !slices.Contains(deps[devenv.GatewayName], "s05-2") || !slices.Contains(deps[devenv.GatewayName], "s10") {
		t.Errorf("the gateway's stop waits for %v, want every replica", deps[devenv.GatewayName])
	}
}

// Fifty services of one wave are created startParallel at a time: each
// create's timeout runs from its turn, not from the start of the wave.
func TestUpCreatesABoundedNumberAtOnce(t *testing.T) {
	h := newHarness()
	h.probeBy(func(string) bool { return false })
	var now, most atomic.Int32
	h.api.onCreate = func(string) {
		n := now.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond) // long enough for the others to pile up
		now.Add(-1)
	}
	if _, err := h.up(t, chain(50), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := most.Load(); got > startParallel || got < 2 {
		t.Errorf("at most %d creates ran at once, want between 2 and %d", got, startParallel)
	}
}
