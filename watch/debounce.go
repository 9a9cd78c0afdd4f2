package watch

import (
	"context"
	"github.com/msx-dev/msx/clock"
	"slices"
	"time"
)

// Defaults of Options.
const (
	DefaultQuiet   = 75 * time.Millisecond
	DefaultMaxWait = time.Second
)

// Batch is one debounced set of changes.
type Batch struct {
	Paths []string // absolute, sorted, deduplicated
}

// debounce turns a stream of changed paths into batches: a batch is ready
// once no change came for quiet, or maxWait after its first change,
// whichever comes first. A ready batch waits for the consumer; changes that
// come meanwhile are debounced as usual and then join it, so nothing is
// dropped however long the consumer is busy. It returns when ctx is done.
func debounce(ctx context.Context, in <-chan []string, out chan<- Batch, clk clock.Clock, quiet, maxWait time.Duration) {
	pending := map[string]bool{} // debouncing
	ready := map[string]bool{}   // waiting for the consumer
	var quietT, maxT clock.Timer
	var quietC, maxC <-chan time.Time
	fire := func() {
		for p := range pending {
			ready[p] = true
		}
		clear(pending)
		quietT.Stop()
		maxT.Stop()
		quietC, maxC = nil, nil
	}
	defer func() {
		if quietT != nil {
			quietT.Stop()
			maxT.Stop()
		}
	}()
	for {
		// A timer that already fired is seen before anything else, so that
		// what was due goes out before later changes are looked at.
		select {
		case <-quietC:
			fire()
			continue
		case <-maxC:
			fire()
			continue
		default:
		}
		var send chan<- Batch
		var batch Batch
		if len(ready) > 0 {
			// A consumer that waits gets the batch before anything else is
			// looked at.
			batch = Batch{Paths: sortedKeys(ready)}
			select {
			case out <- batch:
				clear(ready)
				continue
			default:
			}
			send = out
		}
		select {
		case <-ctx.Done():
			return
		case paths := <-in:
			if len(paths) == 0 {
				continue
			}
			for _, p := range paths {
				pending[p] = true
			}
			if quietT == nil {
				quietT, maxT = clk.NewTimer(quiet), clk.NewTimer(maxWait)
			} else {
				quietT.Reset(quiet)
				if maxC == nil {
					maxT.Reset(maxWait)
				}
			}
			quietC, maxC = quietT.C(), maxT.C()
		case <-quietC:
			fire()
		case <-maxC:
			fire()
		case send <- batch:
			clear(ready)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
