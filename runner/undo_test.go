package runner

import (
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBoundedRunsEveryCallAtMostLimitAtOnce(t *testing.T) {
	for _, tc := range []struct{ n, limit, want int }{
		{50, 8, 8}, {3, 8, 3}, {5, 1, 1}, {4, 0, 1}, {0, 8, 0},
	} {
		var mu sync.Mutex
		var running, most int
		var started []int
		release := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			bounded(tc.n, tc.limit, func(i int) {
				mu.Lock()
				running++
				most = max(most, running)
				started = append(started, i)
				mu.Unlock()
				<-release
				mu.Lock()
				running--
				mu.Unlock()
			})
		}()
		// The first calls hold their slots until the limit is reached: then
		// no other may start.
		waitUntil(t, "the first calls", func() bool { mu.Lock(); defer mu.Unlock(); return running == tc.want })
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		if running != tc.want {
			t.Errorf("n %d, limit %d: %d running, want %d", tc.n, tc.limit, running, tc.want)
		}
		mu.Unlock()
		close(release)
		<-done
		if most != tc.want {
			t.Errorf("n %d, limit %d: at most %d at once, want %d", tc.n, tc.limit, most, tc.want)
		}
		if len(started) != tc.n {
			t.Errorf("n %d: %d calls", tc.n, len(started))
		}
		// Started in order: each call got its slot before the next began.
		if tc.want == 1 && !slices.IsSorted(started) {
			t.Errorf("limit 1: started %v, want in order", started)
		}
	}
}
