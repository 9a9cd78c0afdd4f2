package runner

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// A service that crashes while the engine restarts it: the crash's lines
// are in the error, though the new run began after them (seen under load:
// "catalog exited with code 2" with no lines).
func TestTailOfARestartingContainerShowsTheCrash(t *testing.T) {
	f := newFake()
	c := f.add("id1", "p-catalog", "catalog", container.StateExited, 2, "e2e: boom")
	f.mu.Lock()
	f.run(c) // the engine's restart: a new run that has printed nothing yet
	started := c.started
	f.mu.Unlock()
	r := &Runner{API: f}
	restarting := &container.State{Restarting: true, ExitCode: 2, StartedAt: started.Format(time.RFC3339Nano)}
	if got := r.tail(context.Background(), "id1", restarting); !slices.Contains(got, "e2e: boom") {
		t.Errorf("tail while restarting = %q, want the crash's line", got)
	}
	// An exited container's earlier runs stay out: only its last run.
	f.mu.Lock()
	f.print(c, "second run")
	f.exit(c, 1)
	f.mu.Unlock()
	exited := &container.State{ExitCode: 1, StartedAt: started.Format(time.RFC3339Nano)}
	if got := r.tail(context.Background(), "id1", exited); !slices.Equal(got, []string{"second run"}) {
		t.Errorf("tail of an exited container = %q, want its last run only", got)
	}
}
