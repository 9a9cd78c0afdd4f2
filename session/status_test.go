package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/runner"
)

// TestStatusWatchPublishesBreakersAndDeadLetters reads the project's
// status on the fake clock: a breaker that changes state, or that is first
// seen other than closed, is a BreakerChanged; growth of the dead-letter
// stream is a DeadLettered with the new and the total count; a program
// that does not answer, or a read that fails, is no news.
func TestStatusWatchPublishesBreakersAndDeadLetters(t *testing.T) {
	h := newHarness(t, Options{StatusEvery: time.Second})
	h.eng.statuses = make(chan []runner.ServiceStatus)
	_, done := h.attach(t)
	read := func(orders map[string]string, gateway map[string]string, dead uint64) {
		t.Helper()
		list := []runner.ServiceStatus{
			{Service: devenv.KindNATS, Role: devenv.RoleInfra, DeadLetters: &dead},
			{Service: "orders", Role: devenv.RoleService, Breakers: orders},
			{Service: "gateway", Role: devenv.RoleGateway, Breakers: gateway},
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case h.eng.statuses <- list:
				return
			case <-time.After(time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("the session does not read the status")
				}
				h.clock.Advance(time.Second)
			}
		}
	}
	read(map[string]string{"payments": "closed"}, map[string]string{"orders": "open"}, 1)
	read(map[string]string{"payments": "open"}, map[string]string{"orders": "open"}, 3)
	read(nil, map[string]string{"orders": "half-open"}, 3) // orders restarting: its admin listener does not answer
	read(map[string]string{"payments": "closed"}, map[string]string{"orders": "closed"}, 3)
	read(map[string]string{"payments": "closed"}, map[string]string{"orders": "closed"}, 3) // the last read above is processed
	h.s.Quit()
	wait(t, done)

	type brief struct {
		kind               activity.Kind
		service, up, state string
		count, total       uint64
	}
	want := []brief{
		{kind: activity.BreakerChanged, service: "gateway", up: "orders", state: "open"},
		{kind: activity.DeadLettered, count: 2, total: 3},
		{kind: activity.BreakerChanged, service: "orders", up: "payments", state: "open"},
		{kind: activity.BreakerChanged, service: "gateway", up: "orders", state: "half-open"},
		{kind: activity.BreakerChanged, service: "orders", up: "payments", state: "closed"},
		{kind: activity.BreakerChanged, service: "gateway", up: "orders", state: "closed"},
	}
	var got []brief
	for _, e := range h.rec.events() {
		if e.Kind == activity.BreakerChanged || e.Kind == activity.DeadLettered {
			got = append(got, brief{e.Kind, e.Service, e.Upstream, e.State, e.Count, e.Total})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestStatusIsOneReadForItsReaders: the session's watch and the
// dashboard's tabs, ticking together, cost one read.
func TestStatusIsOneReadForItsReaders(t *testing.T) {
	h := newHarness(t, Options{StatusEvery: 2 * time.Second})
	var mu sync.Mutex
	reads, fail := 0, false
	h.eng.status = func() ([]runner.ServiceStatus, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		if fail {
			return nil, errors.New("engine gone")
		}
		return []runner.ServiceStatus{{Service: "orders"}}, nil
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return reads }
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if list, err := h.s.Status(context.Background()); err != nil || len(list) != 1 {
				t.Errorf("status: %v, %v", list, err)
			}
		}()
	}
	wg.Wait()
	if n := count(); n != 1 {
		t.Fatalf("%d reads for callers at one time, want 1", n)
	}
	h.clock.Advance(1499 * time.Millisecond)
	h.s.Status(context.Background())
	if n := count(); n != 1 {
		t.Fatalf("read again within fresh: %d reads", n)
	}
	h.clock.Advance(time.Millisecond)
	mu.Lock()
	fail = true
	mu.Unlock()
	if _, err := h.s.Status(context.Background()); err == nil || count() != 2 {
		t.Fatalf("after fresh: err %v, %d reads; want a new read and its error", err, count())
	}
}
