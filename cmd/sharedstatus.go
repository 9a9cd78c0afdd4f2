package cmd

import (
	"context"
	"sync"
	"time"

	"github.com/msx-dev/msx/runner"
)

// statusFunc reads the status of the project's containers, as msx ps does.
type statusFunc func(ctx context.Context) ([]runner.ServiceStatus, error)

// sharedStatus lets the dashboard's tabs that show parts of one status
// (breakers, events), each polling every few seconds, share a read: a read
// serves every caller within fresh of it, so two tabs cost one round of
// inspects, admin listener and broker requests, not two. A caller that
// comes while a read is under way waits for it and takes its answer.
type sharedStatus struct {
	read  statusFunc
	fresh time.Duration
	now   func() time.Time

	mu   sync.Mutex
	at   time.Time // when list and err were read; zero before the first read
	list []runner.ServiceStatus
	err  error
}

func newSharedStatus(read statusFunc, fresh time.Duration) *sharedStatus {
	return &sharedStatus{read: read, fresh: fresh, now: time.Now}
}

// Status returns the last read if it is fresh, or reads again. Callers
// only read the list it returns.
func (s *sharedStatus) Status(ctx context.Context) ([]runner.ServiceStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() && s.now().Sub(s.at) < s.fresh {
		return s.list, s.err
	}
	s.list, s.err = s.read(ctx)
	s.at = s.now()
	return s.list, s.err
}
