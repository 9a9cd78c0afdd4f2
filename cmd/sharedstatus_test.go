package cmd

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/msx-dev/msx/runner"
)

func TestSharedStatusServesCallersWithinFreshFromOneRead(t *testing.T) {
	reads := 0
	fail := false
	s := newSharedStatus(func(context.Context) ([]runner.ServiceStatus, error) {
		reads++
		if fail {
			return nil, errors.New("engine gone")
		}
		return []runner.ServiceStatus{{Service: "orders"}}, nil
	}, time.Second)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	var wg sync.WaitGroup
	for range 4 { // the breakers and events tabs, ticking together
		wg.Add(1)
		go func() {
			defer wg.Done()
			if list, err := s.Status(context.Background()); err != nil || len(list) != 1 {
				t.Errorf("status: %v, %v", list, err)
			}
		}()
	}
	wg.Wait()
	if reads != 1 {
		t.Fatalf("%d reads for callers at one time, want 1", reads)
	}
	now = now.Add(999 * time.Millisecond)
	s.Status(context.Background())
	if reads != 1 {
		t.Fatalf("read again within fresh: %d reads", reads)
	}
	now = now.Add(time.Millisecond)
	fail = true
	if _, err := s.Status(context.Background()); err == nil || reads != 2 {
		t.Fatalf("after fresh: err %v, %d reads; want a new read and its error", err, reads)
	}
}
