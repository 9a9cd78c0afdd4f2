package runner

import (
	"context"
	"slices"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/progress"
)

func (s *started) addCreated(name, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created == nil {
		s.created = map[string]string{}
	}
	s.created[name] = id
}

// undoAttempt removes the containers a failed up created, so that nothing
// of that attempt is left running (a database whose service could not
// migrate, say); what it only started again stays in the list, for the
// caller to stop. Volumes stay: they hold data from earlier runs, and go
// only with down --volumes. The failure's log lines were read before.
func (r *Runner) undoAttempt(ctx context.Context, st *started) {
	st.mu.Lock()
	created := st.created
	st.created = nil
	var kept []string
	for _, n := range st.names {
		if _, ok := created[n]; !ok {
			kept = append(kept, n)
		}
	}
	// Services first, then what they depend on: the reverse of start order.
	order := slices.Clone(st.names)
	st.names = kept
	st.mu.Unlock()
	slices.Reverse(order)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.StopBound())
	defer cancel()
	for _, n := range order {
		id, ok := created[n]
		if !ok {
			continue
		}
		// With its anonymous volumes (the /msx of every msx image): this
		// up made them, and nothing else would ever remove them.
		if err := r.API.ContainerRemove(rctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err == nil || isNotFound(err) {
			r.progress(progress.Step{Kind: progress.Removed, Object: progress.Container, Name: n, Reason: "this up failed"})
		}
	}
}
