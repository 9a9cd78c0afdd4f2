// Package activity holds the typed events a run session publishes: what a
// user sees happen to a running project (built, swapped, crashed, a log
// line). It sits low in the house so that observers (the plain printer, the
// dashboard, logs and traces) import it without importing the session.
package activity

import (
	"sync"
	"time"

	"github.com/msx-dev/msx/progress"
)

// Kind says what happened.
type Kind int

// The kinds of event. New kinds are appended; observers ignore kinds they
// do not know.
const (
	Building       Kind = iota + 1 // a build of the service started
	Built                          // the build succeeded; Detail names the image or binary
	BuildFailed                    // the build failed; Output holds the compiler's errors
	Starting                       // the container is starting
	Ready                          // the service answers its readiness check
	Unhealthy                      // the service stopped answering its readiness check
	Crashed                        // the process exited on its own; ExitCode and Output (last lines)
	Swapped                        // a new binary replaced the running one without an image rebuild
	Restarted                      // the service was restarted; Detail says why
	Stopping                       // a graceful stop began
	Stopped                        // the container stopped
	Log                            // one log line; Stream and Line
	Info                           // a message about the project as a whole (Service may be empty)
	Warning                        // something the user should know that did not stop the session
	Stats                          // a resource sample: CPU and Memory
	Following                      // the project is up and followed; Detail is the gateway URL, Duration the time to ready
	Waiting                        // waiting for another msx that holds the workspace lock
	BreakerChanged                 // a circuit breaker of Service changed state: Upstream and State
	DeadLettered                   // the broker set events aside: Count new ones, Total in all
)

var kindNames = [...]string{
	Building: "building", Built: "built", BuildFailed: "build failed",
	Starting: "starting", Ready: "ready", Unhealthy: "unhealthy",
	Crashed: "crashed", Swapped: "swapped", Restarted: "restarted",
	Stopping: "stopping", Stopped: "stopped", Log: "log",
	Info: "info", Warning: "warning", Stats: "stats",
	Following: "following", Waiting: "waiting",
	BreakerChanged: "breaker changed", DeadLettered: "dead-lettered",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Streams of a log line.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Event is one thing that happened. Fields beyond Time, Kind and Service
// are set only for the kinds that say so.
type Event struct {
	Time    time.Time
	Kind    Kind
	Service string // empty for project-wide events

	Detail   string        // short human words: "code changed", "image abc123"
	Output   string        // compiler errors or last log lines, newline separated
	ExitCode int           // Crashed
	Duration time.Duration // Built, BuildFailed, Swapped: how long it took

	Stream string // Log: Stdout or Stderr
	Line   string // Log: the line without its newline

	CPU    float64 // Stats: percent of one core
	Memory uint64  // Stats: bytes

	Port int // Starting, Ready, Stats: the host port the service is published on, 0 if none or unchanged

	Upstream string // BreakerChanged: the upstream the breaker protects, as the program names it
	State    string // BreakerChanged: the breaker's new state as the program said it (closed, open, half-open)

	Count, Total uint64 // DeadLettered: events set aside since the last look, and in all

	// Step is the runner's or the builder's step this event reports, when
	// it reports one (Step.Kind is then set, and Detail empty): observers
	// word it with Step.String, and name it with Step.Subject when Service
	// is empty (a network, a volume, an image).
	Step progress.Step
}

// Words is what the event says beyond its kind: the step's words, or
// Detail.
func (e Event) Words() string {
	if e.Step.Kind != 0 {
		return e.Step.String()
	}
	return e.Detail
}

// Subject names what the event is about: its service, or what its step
// names when that is not a service; empty for the project as a whole.
func (e Event) Subject() string {
	if e.Service == "" && e.Step.Kind != 0 {
		return e.Step.Subject()
	}
	return e.Service
}

// Observer receives events. Publish calls an observer from one goroutine
// at a time, in publication order, so implementations need no locking of
// their own for events; they must not block for long.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

// Bus fans events out to observers in publication order. The zero value
// is ready to use.
type Bus struct {
	mu        sync.Mutex
	observers []Observer
	now       func() time.Time
}

// NewBus returns a bus that stamps events without a time with now.
func NewBus(now func() time.Time) *Bus { return &Bus{now: now} }

// Subscribe adds an observer; it sees events published after this call.
func (b *Bus) Subscribe(o Observer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.observers = append(b.observers, o)
}

// Publish delivers e to every observer, in order. Publishing is serialised:
// observers never see two events at once.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.Time.IsZero() {
		if b.now != nil {
			e.Time = b.now()
		} else {
			e.Time = time.Now()
		}
	}
	for _, o := range b.observers {
		o.Observe(e)
	}
}
