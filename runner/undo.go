package runner

import (
	"context"
	"slices"
	"sync"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/progress"
)

// addCreated records a container this up created, and whether it is an
// instance that programs need (a database, the broker, the collector).
func (s *started) addCreated(c *devenv.Container, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created == nil {
		s.created = map[string]string{}
		s.infra = map[string]bool{}
	}
	s.created[c.Name] = id
	switch c.Role {
	case devenv.RoleDatabase, devenv.RoleInfra, devenv.RoleCollector:
		s.infra[c.Name] = true
	}
}

// undoParallel is how many containers a failed up removes at once: one at
// a time, the report of a failed up of fifty services waited for fifty
// kills and removals in a row.
const undoParallel = 8

// undoAttempt removes the containers a failed up created, so that nothing
// of that attempt is left running (a database whose service could not
// migrate, say); what it only started again stays in the list, for the
// caller to stop. Volumes stay: they hold data from earlier runs, and go
// only with down --volumes. The failure's log lines were read before.
func (r *Runner) undoAttempt(ctx context.Context, st *started) {
	st.mu.Lock()
	created, infra := st.created, st.infra
	st.created, st.infra = nil, nil
	var kept []string
	for _, n := range st.names {
		if _, ok := created[n]; !ok {
			kept = append(kept, n)
		}
	}
	// The programs first, then the instances they need (which up started
	// before them), each group undoParallel at a time, in the reverse of
	// start order.
	var programs, instances []string
	for _, n := range slices.Backward(st.names) {
		if _, ok := created[n]; !ok {
			continue
		}
		if infra[n] {
			instances = append(instances, n)
		} else {
			programs = append(programs, n)
		}
	}
	st.names = kept
	st.mu.Unlock()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.StopBound())
	defer cancel()
	for _, group := range [][]string{programs, instances} {
		bounded(len(group), undoParallel, func(i int) {
			n := group[i]
			// With its anonymous volumes (the /msx of every msx image): this
			// up made them, and nothing else would ever remove them.
			if err := r.API.ContainerRemove(rctx, created[n], container.RemoveOptions{Force: true, RemoveVolumes: true}); err == nil || isNotFound(err) {
				r.progress(progress.Step{Kind: progress.Removed, Object: progress.Container, Name: n, Reason: "this up failed"})
			}
		})
	}
}

// bounded calls do(0), ..., do(n-1), at most limit at a time, starting
// them in that order, and returns when all have returned.
func bounded(n, limit int, do func(i int)) {
	slots := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			do(i)
		}()
	}
	wg.Wait()
}
