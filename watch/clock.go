package watch

import "time"

// Clock makes the timers the debounce waits on; tests pass a fake one so
// that no test sleeps.
type Clock interface {
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the debounce uses.
type Timer interface {
	C() <-chan time.Time
	// Reset re-arms the timer to fire d from now, whether or not it fired.
	Reset(d time.Duration)
	Stop()
}

type realClock struct{}

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }

// Reset relies on Go 1.23 timers: Reset and Stop discard a value that fired
// but was not received, so no stale tick follows a reset.
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }
