package watch

import (
	"context"
	"slices"
	"testing"
	"time"
)

// debounceRig runs debounce on a fake clock. Sending on in returns once
// the loop has taken the paths; settle returns once it has also handled
// them and any timer already fired.
type debounceRig struct {
	t     *testing.T
	clock *fakeClock
	in    chan []string
	out   chan Batch
}

func newDebounceRig(t *testing.T) *debounceRig {
	t.Helper()
	r := &debounceRig{t: t, clock: newFakeClock(), in: make(chan []string), out: make(chan Batch, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		debounce(ctx, r.in, r.out, r.clock, 75*time.Millisecond, time.Second)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *debounceRig) send(paths ...string) { r.in <- paths }

// settle returns once the loop has handled everything sent and every timer
// fired so far, and has handed a ready batch to out when out had room: the
// loop takes an empty send only after it has finished with the one before,
// and at the top of each turn it handles a fired timer, then offers a
// ready batch, before it takes anything new.
func (r *debounceRig) settle() {
	r.in <- nil
	r.in <- nil
	r.in <- nil
}

func (r *debounceRig) noBatch() {
	r.t.Helper()
	r.settle()
	select {
	case b := <-r.out:
		r.t.Fatalf("batch %v came early", b.Paths)
	default:
	}
}

func (r *debounceRig) batch(want ...string) {
	r.t.Helper()
	r.settle()
	select {
	case b := <-r.out:
		if !slices.Equal(b.Paths, want) {
			r.t.Fatalf("batch = %v, want %v", b.Paths, want)
		}
	default:
		r.t.Fatalf("no batch, want %v", want)
	}
}

func TestDebounceQuietPeriodRestartsOnEachChange(t *testing.T) {
	r := newDebounceRig(t)
	r.send("/w/b.go")
	r.settle()
	r.clock.Advance(50 * time.Millisecond)
	r.send("/w/a.go", "/w/b.go")
	r.settle()
	r.clock.Advance(50 * time.Millisecond) // 100 ms after the first, 50 after the last
	r.noBatch()
	r.clock.Advance(25 * time.Millisecond)
	r.batch("/w/a.go", "/w/b.go") // sorted, deduplicated
	r.clock.Advance(time.Hour)
	r.noBatch()
}

func TestDebounceMaxWaitBoundsAStreamOfChanges(t *testing.T) {
	r := newDebounceRig(t)
	for i := 0; i < 20; i++ { // a change every 50 ms: never quiet
		r.send("/w/gen.go")
		r.settle()
		r.clock.Advance(50 * time.Millisecond)
	}
	r.batch("/w/gen.go") // at 1 s
	r.send("/w/next.go")
	r.settle()
	r.clock.Advance(75 * time.Millisecond)
	r.batch("/w/next.go") // the max wait restarted with the new batch
}

func TestDebounceNeverDropsWhileTheConsumerIsBusy(t *testing.T) {
	r := newDebounceRig(t)
	r.send("/w/a.go")
	r.settle()
	r.clock.Advance(75 * time.Millisecond)
	r.settle()
	// a waits in out's buffer: the consumer is busy (building) and takes
	// nothing while changes keep coming.
	r.send("/w/b.go")
	r.settle()
	r.clock.Advance(75 * time.Millisecond)
	r.send("/w/c.go")
	r.settle()
	r.clock.Advance(75 * time.Millisecond)
	r.batch("/w/a.go")
	r.batch("/w/b.go", "/w/c.go") // coalesced while the consumer was busy
	r.noBatch()
}

func TestDebounceChangeDuringQuietAfterABatchWaitsItsOwnQuiet(t *testing.T) {
	r := newDebounceRig(t)
	r.send("/w/a.go")
	r.settle()
	r.clock.Advance(75 * time.Millisecond)
	r.batch("/w/a.go")
	r.send("/w/b.go")
	r.settle()
	r.clock.Advance(74 * time.Millisecond)
	r.noBatch()
	r.clock.Advance(time.Millisecond)
	r.batch("/w/b.go")
}
