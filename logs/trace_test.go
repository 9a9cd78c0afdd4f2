package logs

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msx-dev/msx/runner"
)

// sinceSource serves fixed histories and records the Since it was asked,
// by the reads of every container at once.
type sinceSource struct {
	fakeSource
	mu    sync.Mutex
	since time.Time
}

func (s *sinceSource) ReadLogs(ctx context.Context, id string, o runner.ReadOptions) ([]runner.LogLine, error) {
	s.mu.Lock()
	s.since = o.Since
	s.mu.Unlock()
	return s.fakeSource.ReadLogs(ctx, id, o)
}

func TestTraceLinesKeepsTheTracesLinesFromAWindowBeforeItsStart(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	at := time.Date(2026, 3, 4, 15, 4, 6, 0, time.UTC)
	line := func(msg, trace string) runner.LogLine {
		return runner.LogLine{Time: at, Line: `{"time":"2026-03-04T15:04:06Z","level":"INFO","msg":"` + msg + `","trace_id":"` + trace + `"}`}
	}
	src := &sinceSource{fakeSource: fakeSource{
		targets: []runner.LogTarget{{Service: "orders", ID: "o"}, {Service: "gateway", ID: "g"}},
		history: map[string][]runner.LogLine{
			"o": {line("in the trace", id), line("another trace", "ffff")},
			"g": {line("gateway in the trace", id)},
		},
	}}
	got, err := TraceLines(context.Background(), src, ShowOptions{Project: "shop", Dir: "/w/shop"}, []string{"orders", "gateway"}, id, at, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "in the trace") || !strings.Contains(got, "gateway in the trace") || strings.Contains(got, "another trace") {
		t.Errorf("TraceLines = %q, want the trace's two lines only", got)
	}
	if want := at.Add(-TraceWindow); !src.since.Equal(want) {
		t.Errorf("read from %v, want %v", src.since, want)
	}

	src.targets = nil
	if got, err := TraceLines(context.Background(), src, ShowOptions{}, nil, id, at, false); err != nil || got != "" {
		t.Errorf("no containers: %q %v, want nothing and no error", got, err)
	}
}
