package dashboard

import (
	"sync"

	"github.com/msx-dev/msx/activity"
)

// queue hands events from the publisher to the program without blocking
// the publisher: push appends under a mutex and signals; the program drains
// everything at once, so one redraw covers a whole batch. Its memory is
// bounded by what the dashboard would keep anyway: past a threshold it
// drops log lines that the per-service ring would evict on arrival. Every
// other event is kept.
type queue struct {
	mu      sync.Mutex
	pending []activity.Event
	ring    int // log lines kept per service
	compact int // pending length that triggers compaction
	closed  bool
	notify  chan struct{}
}

const minCompact = 4096

func newQueue(ring int) *queue {
	return &queue{ring: ring, compact: max(minCompact, 2*ring), notify: make(chan struct{}, 1)}
}

func (q *queue) push(e activity.Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.pending = append(q.pending, e)
	if len(q.pending) >= q.compact {
		q.compactLocked()
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// compactLocked keeps, for each service, the newest ring log lines, and
// every other event, in order. The threshold then
// doubles past what remains, so compaction costs O(1) per push amortised.
func (q *queue) compactLocked() {
	logs := map[string]int{}
	keep := make([]bool, len(q.pending))
	kept := 0
	for i := len(q.pending) - 1; i >= 0; i-- {
		e := q.pending[i]
		if e.Kind == activity.Log {
			if logs[e.Service] >= q.ring {
				continue
			}
			logs[e.Service]++
		}
		keep[i] = true
		kept++
	}
	out := make([]activity.Event, 0, kept)
	for i, e := range q.pending {
		if keep[i] {
			out = append(out, e)
		}
	}
	q.pending = out
	q.compact = max(minCompact, 2*q.ring, 2*len(out))
}

// drain returns every pending event, oldest first.
func (q *queue) drain() []activity.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending = nil
	return out
}

// close drops what is pending and everything pushed later: nobody will
// read it once the program has ended.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.pending = nil
}
