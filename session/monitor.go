package session

import (
	"context"
	"sync"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/runner"
)

// Sampler is implemented by an Engine that can look at a running
// container (*runner.Runner does): its readiness and resource counters.
// With it, an attached session publishes Unhealthy (and Ready when the
// service answers again) and Stats.
type Sampler interface {
	Sample(ctx context.Context, c *devenv.Container, stats bool) (runner.Sample, error)
}

// DefaultSampleEvery is how often an attached session samples each
// container: often enough that a service that stops answering is shown
// within a few seconds, rarely enough that ten services cost the engine
// a few requests a second.
const DefaultSampleEvery = 2 * time.Second

// samplesPerSecond bounds how many containers an attached session
// samples a second, on average: beyond DefaultSampleEvery's sixteen
// containers, the period grows with their number, so that fifty services
// cost msx and the engine what sixteen do (an inspect, a readiness
// check and, for the dashboard, a stats read each).
const samplesPerSecond = 8

// sampleEvery is the period at which n containers are sampled: every
// (DefaultSampleEvery when 0), longer for more than samplesPerSecond a
// second.
func sampleEvery(every time.Duration, n int) time.Duration {
	if every <= 0 {
		every = DefaultSampleEvery
	}
	return max(every, time.Duration(n)*time.Second/samplesPerSecond)
}

// unhealthyAfter is how many samples in a row a running service must fail
// its readiness check before it is reported unhealthy: one failure may be
// a probe that lost a race with a restart.
const unhealthyAfter = 2

// monitor samples the plan's containers every period until ctx ends:
// Stats for each one the engine gives counters of, Unhealthy when a
// running service stops answering its readiness check, Ready when it (or
// a service that crashed and was restarted) answers again. A service the
// session is itself swapping or restarting is not judged meanwhile;
// stopped containers are the followers' news, not the monitor's.
func (s *Session) monitor(ctx context.Context, eng Sampler) {
	prev := map[string]runner.Sample{}
	misses := map[string]int{}
	for {
		_, plan := s.current()
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(sampleEvery(s.opts.SampleEvery, len(plan.Containers))):
		}
		// All at once: the engine answers a one-shot stats request at
		// its next reading of the counters, up to a second later.
		_, plan = s.current()
		samples := make([]runner.Sample, len(plan.Containers))
		errs := make([]error, len(plan.Containers))
		var wg sync.WaitGroup
		for i := range plan.Containers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				samples[i], errs[i] = eng.Sample(ctx, &plan.Containers[i], s.opts.Stats)
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		for i := range plan.Containers {
			c, sm, err := &plan.Containers[i], samples[i], errs[i]
			if err != nil || !sm.Running {
				delete(prev, c.Service)
				misses[c.Service] = 0
				continue
			}
			if cpu, ok := runner.CPUPercent(prev[c.Service], sm); ok {
				s.publish(activity.Event{Kind: activity.Stats, Service: c.Service, CPU: cpu, Memory: sm.Memory, Port: sm.Port})
			}
			if sm.HasStats {
				prev[c.Service] = sm
			}
			if s.settling(c.Service) || s.applying.Load() {
				misses[c.Service] = 0
				continue
			}
			shown := s.shownHealth(c.Service)
			if sm.Ready {
				misses[c.Service] = 0
				if shown == activity.Unhealthy || shown == activity.Crashed {
					s.publish(activity.Event{Kind: activity.Ready, Service: c.Service, Detail: "answers its readiness check again"})
				}
				continue
			}
			misses[c.Service]++
			if misses[c.Service] >= unhealthyAfter && shown != activity.Unhealthy {
				s.publish(activity.Event{Kind: activity.Unhealthy, Service: c.Service, Detail: sm.Reason})
			}
		}
	}
}

// settle marks service as being swapped or restarted by the session
// until the returned function is called: its readiness is not judged
// meanwhile.
func (s *Session) settle(service string) (done func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy == nil {
		s.busy = map[string]int{}
	}
	s.busy[service]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.busy[service]--
	}
}

func (s *Session) settling(service string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy[service] > 0
}

// shownHealth is the last of Ready, Unhealthy, Crashed and Stopped
// published about service, 0 if none.
func (s *Session) shownHealth(service string) activity.Kind {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	return s.health[service]
}
