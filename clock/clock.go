// Package clock is the time msx's packages wait on. Tests hand a package a
// fake one, so that no test sleeps and every timing is the test's to set.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits. The runner polls with Now and Sleep,
// the session waits with After, the watcher's debounce re-arms timers: a
// test's fake implements the methods of the package it drives and may
// embed a nil Clock for the rest.
type Clock interface {
	Now() time.Time
	// After fires once d has passed, as time.After.
	After(d time.Duration) <-chan time.Time
	// Sleep waits for d or until ctx is done, whichever comes first.
	Sleep(ctx context.Context, d time.Duration) error
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer a timer's user needs.
type Timer interface {
	C() <-chan time.Time
	// Reset re-arms the timer to fire d from now, whether or not it fired.
	Reset(d time.Duration)
	Stop()
}

// Real is the system's clock.
var Real Clock = real{}

type real struct{}

func (real) Now() time.Time                         { return time.Now() }
func (real) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (real) NewTimer(d time.Duration) Timer         { return realTimer{time.NewTimer(d)} }

func (real) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }

// Reset relies on Go 1.23 timers: Reset and Stop discard a value that fired
// but was not received, so no stale tick follows a reset.
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }
