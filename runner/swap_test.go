package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/msxerr"
)

func TestAcquireWaitsForASlotOrTheContext(t *testing.T) {
	slots := make(chan struct{}, 2)
	var releases []func()
	for range 2 {
		rel, err := acquire(context.Background(), slots)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, rel)
	}
	// Full: a third waits, and gives up when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := acquire(ctx, slots); !errors.Is(err, msxerr.ErrCancelled) {
		t.Errorf("err = %v, want cancelled while every slot is taken", err)
	}
	got := make(chan error, 1)
	go func() {
		rel, err := acquire(context.Background(), slots)
		if err == nil {
			rel()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("acquired (%v) while every slot was taken", err)
	case <-time.After(20 * time.Millisecond):
	}
	releases[0]()
	if err := <-got; err != nil {
		t.Errorf("err = %v after a slot was given back", err)
	}
	releases[1]()
	if len(slots) != 0 {
		t.Errorf("%d slots still taken", len(slots))
	}
}

func TestCopyParallel(t *testing.T) {
	for cpus, want := range map[int]int{1: 4, 2: 4, 3: 6, 8: 16} {
		if got := copyParallel(cpus); got != want {
			t.Errorf("copyParallel(%d) = %d, want %d", cpus, got, want)
		}
	}
}

// A program that does not stop after the swap signal is asked about less
// and less often: each ask is a ps on the engine's host, and fifty swaps
// at once would otherwise keep the engine listing processes.
func TestWaitGoneBacksOff(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.r.StopGrace = 2 * time.Second
	old, err := h.r.pids(context.Background(), "shop-orders")
	if err != nil || len(old) == 0 {
		t.Fatalf("pids = %v, %v", old, err)
	}
	h.reset()
	// Nothing stops it: every ask still lists the old processes.
	err = h.r.waitGone(context.Background(), "shop-orders", old)
	want := "the program of shop-orders did not stop within 22s of the swap"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	// 22 s at most every maxPoll, and a few faster asks first.
	asks, slow := len(h.api.callsLike("top")), int(22*time.Second/maxPoll)
	if asks > slow+5 || asks < slow {
		t.Errorf("%d asks in 22 s, want about %d (one per %s)", asks, slow, maxPoll)
	}
}

// slowCopies holds every copy into a container until release closes,
// counting how many are in flight at once.
type slowCopies struct {
	*fakeDocker
	mu      sync.Mutex
	now     int
	most    int
	release chan struct{}
}

func (s *slowCopies) CopyToContainer(ctx context.Context, id, dst string, content io.Reader, o container.CopyToContainerOptions) error {
	s.mu.Lock()
	s.now++
	s.most = max(s.most, s.now)
	s.mu.Unlock()
	<-s.release
	err := s.fakeDocker.CopyToContainer(ctx, id, dst, content, o)
	s.mu.Lock()
	s.now--
	s.mu.Unlock()
	return err
}

func (s *slowCopies) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Swaps started at once copy their binaries copyParallel at a time, and
// all of them finish.
func TestSwapsCopyABoundedNumberAtOnce(t *testing.T) {
	h := newHarness()
	if _, err := h.up(t, manifest("/w/shop"), UpOptions{}); err != nil {
		t.Fatal(err)
	}
	slow := &slowCopies{fakeDocker: h.api, release: make(chan struct{})}
	h.r.API = slow
	bin := t.TempDir() + "/app"
	if err := os.WriteFile(bin, []byte("new binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	limit := cap(copySlots)
	swaps := limit + 3
	errs := make(chan error, swaps)
	for range swaps {
		go func() { errs <- h.r.Swap(context.Background(), "shop-orders", bin) }()
	}
	waitUntil(t, "the first copies", func() bool { return slow.inFlight() == limit })
	time.Sleep(20 * time.Millisecond)
	if n := slow.inFlight(); n != limit {
		t.Errorf("%d copies in flight, want %d", n, limit)
	}
	close(slow.release)
	for range swaps {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if slow.most != limit {
		t.Errorf("at most %d copies at once, want %d", slow.most, limit)
	}
}
