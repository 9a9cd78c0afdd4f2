package logs

import (
	"container/heap"
	"time"
)

// Entry is one log line of a service, with the time the engine stamped it.
type Entry struct {
	Time    time.Time
	Service string
	Stream  string
	Line    string
}

// Merge merges the lines of several services, each already in its own
// order, into one list ordered by time. Lines of one service keep their
// order even when their stamps are not monotonic; among lines stamped at
// the same instant, the earlier list in streams comes first.
func Merge(streams [][]Entry) []Entry {
	n := 0
	for _, s := range streams {
		n += len(s)
	}
	out := make([]Entry, 0, n)
	h := make(mergeHeap, 0, len(streams))
	for i, s := range streams {
		if len(s) > 0 {
			h = append(h, cursor{stream: i, lines: s})
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		c := &h[0]
		out = append(out, c.lines[0])
		c.lines = c.lines[1:]
		if len(c.lines) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return out
}

type cursor struct {
	stream int
	lines  []Entry
}

type mergeHeap []cursor

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	a, b := h[i].lines[0].Time, h[j].lines[0].Time
	if a.Equal(b) {
		return h[i].stream < h[j].stream
	}
	return a.Before(b)
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(cursor)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
