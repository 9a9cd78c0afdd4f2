package runner

import (
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/devenv"
)

// Readiness polling starts fast and slows down: a Go service answers in
// about 10 ms after its start, so a fixed 100 ms poll would add up to
// 100 ms per level of the dependency order, while a slow database is not
// asked more than ten times a second.
const (
	firstPoll = 10 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// pollDelay is the wait before readiness poll number attempt (0-based)
// of one container. A PollInterval set on the runner is used as it is.
func (r *Runner) pollDelay(attempt int) time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	d := firstPoll << min(attempt, 4)
	return min(d, maxPoll)
}

// keepsRunning reports a container that up adopts as it is, running with
// the planned configuration: it starts nothing, so its readiness check
// need not wait for what it depends on, and on an up with nothing changed
// every check runs at once instead of one level of the dependency order
// after the other.
func keepsRunning(c *devenv.Container, ours map[string]container.Summary) bool {
	have, ok := ours[c.Name]
	return ok && have.State == container.StateRunning && have.Labels[devenv.LabelConfigHash] == c.Hash()
}
