package session

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/runner"
)

// StatusReader is implemented by an Engine that reads the project's status
// as msx ps does (*runner.Runner does): each program's breakers, the
// broker's consumers and dead letters.
type StatusReader interface {
	Status(ctx context.Context, m *devenv.Manifest) ([]runner.ServiceStatus, error)
}

// statusCache lets the readers of one status share a read: the session's
// own watch and the dashboard's tabs (breakers, event consumers), each
// reading every few seconds, cost one round of inspects, admin listener
// and broker requests, not three. A caller that comes while a read is
// under way waits for it and takes its answer.
type statusCache struct {
	mu   sync.Mutex
	at   time.Time // when list and err were read; zero before the first read
	list []runner.ServiceStatus
	err  error
}

// Status returns the project's status as msx ps reads it: the last read
// if it is fresh (younger than three quarters of Options.StatusEvery, so
// that the session's watch and the dashboard's tabs, ticking at that
// period, share reads), or a new one. Callers only read the list. It
// fails when the Engine cannot read a status.
func (s *Session) Status(ctx context.Context) ([]runner.ServiceStatus, error) {
	sr, ok := s.opts.Runner.(StatusReader)
	if !ok {
		return nil, fmt.Errorf("session: the engine cannot read the project's status")
	}
	c := &s.status
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && s.clock.Now().Sub(c.at) < s.statusEvery()*3/4 {
		return c.list, c.err
	}
	m, _ := s.current()
	c.list, c.err = sr.Status(ctx, m)
	c.at = s.clock.Now()
	return c.list, c.err
}

// DefaultStatusEvery is the period of Status's freshness when
// Options.StatusEvery is 0.
const DefaultStatusEvery = 2 * time.Second

func (s *Session) statusEvery() time.Duration {
	if s.opts.StatusEvery > 0 {
		return s.opts.StatusEvery
	}
	return DefaultStatusEvery
}

// watchStatus reads the project's status every Options.StatusEvery until
// ctx ends, and publishes what changed: BreakerChanged when a program's
// breaker moves to another state (or is first seen other than closed),
// DeadLettered when the broker's dead-letter stream grew. A read that
// fails, a program that does not answer, a broker not running: no news,
// and the next read compares with the last one that said something.
func (s *Session) watchStatus(ctx context.Context) {
	breakers := map[string]map[string]string{} // program → upstream → state
	var deadLetters *uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(s.statusEvery()):
		}
		list, err := s.Status(ctx)
		if err != nil || ctx.Err() != nil {
			continue
		}
		for _, st := range list {
			if st.DeadLetters != nil {
				if deadLetters != nil && *st.DeadLetters > *deadLetters {
					s.publish(activity.Event{Kind: activity.DeadLettered, Count: *st.DeadLetters - *deadLetters, Total: *st.DeadLetters})
				}
				n := *st.DeadLetters
				deadLetters = &n
			}
			if st.Breakers == nil || (st.Role != devenv.RoleService && st.Role != devenv.RoleGateway) {
				continue
			}
			seen, known := breakers[st.Service]
			now := map[string]string{}
			for _, up := range slices.Sorted(maps.Keys(st.Breakers)) {
				state := st.Breakers[up]
				now[up] = state
				was, ok := seen[up]
				if (known && ok && was != state) || (!ok && state != "closed") {
					s.publish(activity.Event{Kind: activity.BreakerChanged, Service: st.Service, Upstream: up, State: state})
				}
			}
			breakers[st.Service] = now
		}
	}
}
