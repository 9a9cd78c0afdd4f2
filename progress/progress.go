// Package progress holds the typed steps the runner and the builder report
// while they apply a plan or build images: what happened (Kind), to what
// (Object and Name), how long it took and why. It is a leaf, so that both
// report in one vocabulary without the runner importing the builder; the
// session turns steps into its events, and String words a step the way
// msx has always printed it, in one place.
package progress

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Kind says what happened.
type Kind int

// The kinds of step.
const (
	// The builder's, about a build target (a service or the gateway).
	Compiling Kind = iota + 1 // the go build of the target started
	Packing                   // its binary is being packed into an image
	UpToDate                  // nothing to build: the image of these sources exists
	Built                     // packed; Duration since the build started

	// The runner's, about an infrastructure image (Name is its kind).
	Pulling // Ref is being pulled; Current and Total in bytes once known
	Pulled  // Ref was pulled in Duration

	// The runner's, about what the plan makes.
	Created   // a container, network or volume was created
	Recreated // a container was replaced; Reason says what changed
	Running   // a container was left running as it was (adopted)
	Started   // a stopped container of the same configuration was started again
	Ready     // the container answers its readiness check
	Stopped   // the container stopped gracefully
	Killed    // the container was killed (a forced stop)
	Removed   // the container (network, volume) was removed; Reason may say why
)

var kindNames = [...]string{
	Compiling: "Compiling", Packing: "Packing", UpToDate: "UpToDate", Built: "Built",
	Pulling: "Pulling", Pulled: "Pulled", Created: "Created", Recreated: "Recreated",
	Running: "Running", Started: "Started", Ready: "Ready", Stopped: "Stopped",
	Killed: "Killed", Removed: "Removed",
}

// String is the kind's name in Go, for tests and debugging; Step.String
// words a step for people.
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Object is what a step names.
type Object int

// What a step is about. Service is the zero value: most steps are about a
// service of the plan (an instance, the gateway, a database).
const (
	Service   Object = iota // Name is the plan's service (or instance) name
	Container               // Name is a container's name, not one of the plan's services
	Network                 // Name is a network's name
	Volume                  // Name is a volume's name
	Image                   // Name is the infrastructure kind whose image it is
)

// Step is one thing the runner or the builder did.
type Step struct {
	Kind   Kind
	Object Object
	Name   string
	// Duration is how long it took: Built, Pulled.
	Duration time.Duration
	// Reason says why: Recreated (what changed), Removed (why, or empty).
	Reason string
	// Ref is the image reference: Pulling, Pulled.
	Ref string
	// Current and Total are the bytes of a pull's layers downloaded so
	// far and in all, once the engine says (Pulling).
	Current, Total int64
}

// Func receives steps. Runner and builder call it from several goroutines.
type Func func(Step)

// Subject names what the step is about as msx prints it: the service's
// name, or the resource's kind and name ("network shop_default").
func (s Step) Subject() string {
	switch s.Object {
	case Network:
		return "network " + s.Name
	case Volume:
		return "volume " + s.Name
	}
	return s.Name
}

// String words the step without its subject: "created", "built in 1.2s",
// "recreated (image changed)".
func (s Step) String() string {
	switch s.Kind {
	case Compiling:
		return "compiling"
	case Packing:
		return "packing"
	case UpToDate:
		return "up to date"
	case Built:
		return fmt.Sprintf("built in %.1fs", s.Duration.Seconds())
	case Pulling:
		if s.Total > 0 {
			return fmt.Sprintf("pulling %s: %d of %d MB", s.Ref, s.Current>>20, s.Total>>20)
		}
		return "pulling " + s.Ref
	case Pulled:
		return fmt.Sprintf("pulled %s in %s", s.Ref, s.Duration.Round(100*time.Millisecond))
	case Created:
		return "created"
	case Recreated:
		return "recreated (" + s.Reason + ")"
	case Running:
		return "unchanged, running"
	case Started:
		return "unchanged, started"
	case Ready:
		return "ready"
	case Stopped:
		return "stopped"
	case Killed:
		return "killed"
	case Removed:
		if s.Reason != "" {
			return "removed (" + s.Reason + ")"
		}
		return "removed"
	}
	return "unknown"
}

// Notice says msg on w once a Compiling step has lasted delay, and never
// after a later step (packing, up to date, built) or Stop: msx events says
// its reader is being compiled only when the compile takes a while, since
// go build mostly finds the reader in its cache at once, and then there is
// nothing to say. Its Report is a Func.
type Notice struct {
	w     io.Writer
	delay time.Duration
	msg   string

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// NewNotice returns a Notice of msg on w after delay.
func NewNotice(w io.Writer, delay time.Duration, msg string) *Notice {
	return &Notice{w: w, delay: delay, msg: msg}
}

// Report is the builder's Func: Compiling starts the delay, any later
// step ends it.
func (n *Notice) Report(s Step) {
	if s.Kind != Compiling {
		n.Stop()
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.timer != nil || n.stopped {
		return
	}
	n.timer = time.AfterFunc(n.delay, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if !n.stopped {
			fmt.Fprintln(n.w, n.msg)
		}
	})
}

// Stop ends the delay; after it returns, nothing is printed.
func (n *Notice) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	if n.timer != nil {
		n.timer.Stop()
	}
}
