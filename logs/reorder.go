package logs

import (
	"bytes"
	"container/heap"
	"sync"
	"time"

	"github.com/msx-dev/msx/runner"
)

// LineTime is the time a log line carries: the "time" of a slog JSON
// line, the way every generated program logs. ok is false for a line with
// none (a database's text lines), which its caller then places by the
// time the engine or msx saw it.
func LineTime(r *Renderer, line []byte) (t time.Time, ok bool) {
	// slog's JSON handler writes the time first: read it without parsing
	// the rest of the line.
	const lead = `{"time":"`
	var stamp []byte
	if bytes.HasPrefix(line, []byte(lead)) {
		rest := line[len(lead):]
		if end := bytes.IndexByte(rest, '"'); end > 0 {
			stamp = rest[:end]
		}
	} else {
		var rec Record
		if r.parse(line, &rec) {
			stamp = rec.Time
		}
	}
	if len(stamp) == 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(stamp))
	return t, err == nil
}

// Reorder holds the lines of several followed containers for a short
// window and passes them on in the order of the time each carries, so
// that a line that came a little later over another container's stream
// still prints in its place: the lines of all services merged by time,
// while following. Lines are never dropped: a line older than the window
// is passed on at once, after those held before it, and when more than
// Max lines are held the oldest go on without waiting. It implements the
// runner's LogConsumer; Close passes on what it holds.
type Reorder struct {
	out    runner.LogConsumer
	window time.Duration
	max    int
	now    func() time.Time

	mu      sync.Mutex
	held    heldHeap
	seq     uint64
	r       Renderer
	stop    chan struct{}
	stopped chan struct{} // nil when run was not started (tests)
	closed  bool
}

// NewReorder passes lines on to out window after the time they carry
// (100 ms when zero), holding at most max (4096 when zero). It starts a
// goroutine that Close ends.
func NewReorder(out runner.LogConsumer, window time.Duration, max int) *Reorder {
	if window <= 0 {
		window = 100 * time.Millisecond
	}
	if max <= 0 {
		max = 4096
	}
	o := newReorder(out, window, max, time.Now)
	o.stopped = make(chan struct{})
	go o.run()
	return o
}

func newReorder(out runner.LogConsumer, window time.Duration, max int, now func() time.Time) *Reorder {
	return &Reorder{out: out, window: window, max: max, now: now, stop: make(chan struct{})}
}

// held is one line waiting for its turn; status lines ("exited with code
// 1") wait too, so that they follow their container's last lines.
type held struct {
	at      time.Time
	seq     uint64
	service string
	stream  string
	line    string
	status  bool
}

// Log holds one line until its turn.
func (o *Reorder) Log(service, stream, line string) {
	at, ok := LineTime(&o.r, []byte(line))
	o.add(held{at: at, service: service, stream: stream, line: line}, ok)
}

// Status holds a change of a container, placed at the time msx saw it.
func (o *Reorder) Status(service, status string) {
	o.add(held{service: service, line: status, status: true}, false)
}

func (o *Reorder) add(h held, stamped bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now := o.now(); !stamped || h.at.After(now) {
		// A line with no time, or one stamped ahead of this clock, is
		// placed when it came: nothing waits longer than the window.
		h.at = now
	}
	if o.closed {
		o.emit(h)
		return
	}
	o.seq++
	h.seq = o.seq
	heap.Push(&o.held, h)
	for len(o.held) > o.max {
		o.emit(heap.Pop(&o.held).(held))
	}
}

// flush passes on every line whose time is before until.
func (o *Reorder) flush(until time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.held) > 0 && o.held[0].at.Before(until) {
		o.emit(heap.Pop(&o.held).(held))
	}
}

// emit passes one line on; the lock is held, so lines go on one at a time
// and in order.
func (o *Reorder) emit(h held) {
	if h.status {
		o.out.Status(h.service, h.line)
		return
	}
	o.out.Log(h.service, h.stream, h.line)
}

func (o *Reorder) run() {
	defer close(o.stopped)
	tick := time.NewTicker(o.window / 4)
	defer tick.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-tick.C:
			o.flush(o.now().Add(-o.window))
		}
	}
}

// Close passes on every line held, in order; lines that come after it go
// on at once.
func (o *Reorder) Close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	o.mu.Unlock()
	close(o.stop)
	if o.stopped != nil {
		<-o.stopped
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.held) > 0 {
		o.emit(heap.Pop(&o.held).(held))
	}
}

type heldHeap []held

func (h heldHeap) Len() int { return len(h) }
func (h heldHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h heldHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)   { *h = append(*h, x.(held)) }
func (h *heldHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
