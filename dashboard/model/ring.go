package model

// Ring keeps the newest lines up to a fixed capacity; pushing onto a full
// ring drops the oldest. Memory is allocated as lines arrive, up to the
// capacity, so idle services cost little.
type Ring struct {
	buf   []Line
	start int // index in buf of the oldest line once the ring is full
	cap   int
}

// NewRing returns an empty ring holding at most capacity lines.
func NewRing(capacity int) *Ring {
	if capacity < 1 {
		capacity = 1
	}
	return &Ring{cap: capacity}
}

// Push appends l, dropping the oldest line when the ring is full.
func (r *Ring) Push(l Line) {
	if len(r.buf) < r.cap {
		r.buf = append(r.buf, l)
		return
	}
	r.buf[r.start] = l
	r.start = (r.start + 1) % r.cap
}

// Len is the number of lines held.
func (r *Ring) Len() int { return len(r.buf) }

// At returns the i-th line, 0 being the oldest held.
func (r *Ring) At(i int) Line { return r.buf[(r.start+i)%len(r.buf)] }

// ref is the i-th line in place, for the filter's memo.
func (r *Ring) ref(i int) *Line { return &r.buf[(r.start+i)%len(r.buf)] }
