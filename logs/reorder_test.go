package logs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/internal/syncbuf"
	"github.com/msx-dev/msx/runner"
)

// stamped is a slog JSON line stamped at base plus ms milliseconds.
func stamped(ms int, msg string) string {
	at := time.Date(2026, 3, 4, 15, 4, 5, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
	return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":%q}`, at.Format(time.RFC3339Nano), msg)
}

// fakeSource serves each container's history and, when following, the
// lines in follow: a container's lines are sent only after those of the
// containers named in after were taken, so that a test fixes the order in
// which they arrive.
type fakeSource struct {
	targets []runner.LogTarget
	history map[string][]runner.LogLine
	follow  map[string][]string
	after   map[string]string
	sent    map[string]chan struct{}
}

func (s *fakeSource) LogTargets(context.Context, string, string, []string) ([]runner.LogTarget, error) {
	return s.targets, nil
}

func (s *fakeSource) ReadLogs(_ context.Context, id string, _ runner.ReadOptions) ([]runner.LogLine, error) {
	return s.history[id], nil
}

func (s *fakeSource) Follow(ctx context.Context, ts []runner.LogTarget, _ runner.FollowOptions, c runner.LogConsumer) error {
	t := ts[0]
	if prev := s.after[t.ID]; prev != "" {
		<-s.sent[prev]
	}
	for _, l := range s.follow[t.ID] {
		c.Log(t.Service, activity.Stdout, l)
	}
	close(s.sent[t.ID])
	<-ctx.Done()
	return nil
}

// A gateway line stamped .485 prints before a checkout line stamped .507,
// whichever the engine read first (the history) or came first over its
// stream (following).
func TestShowMergesByTheTimeEachLineCarries(t *testing.T) {
	engine := time.Date(2026, 3, 4, 15, 4, 6, 0, time.UTC)
	src := &fakeSource{
		targets: []runner.LogTarget{{Service: "checkout", ID: "c"}, {Service: "gateway", ID: "g"}},
		history: map[string][]runner.LogLine{
			"c": {{Time: engine, Line: stamped(507, "checkout history")}},
			"g": {{Time: engine.Add(time.Millisecond), Line: stamped(485, "gateway history")}},
		},
		follow: map[string][]string{"c": {stamped(1507, "checkout new")}, "g": {stamped(1485, "gateway new")}},
		after:  map[string]string{"g": "c"},
		sent:   map[string]chan struct{}{"c": make(chan struct{}), "g": make(chan struct{})},
	}
	var buf syncbuf.Buffer
	p := NewPrinter(&buf, []string{"checkout", "gateway"}, PrinterOptions{NoPrefix: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Show(ctx, src, p, ShowOptions{Tail: -1, Follow: true, Poll: time.Hour, Hold: time.Hour})
	}()
	<-src.sent["g"]
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	var order []string
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		order = append(order, l[strings.Index(l, "INFO  ")+6:])
	}
	if want := "gateway history|checkout history|gateway new|checkout new"; strings.Join(order, "|") != want {
		t.Errorf("printed\n%s\nwant the order %s", got, want)
	}
}

type recordConsumer struct{ lines []string }

func (r *recordConsumer) Log(service, _ string, line string) {
	r.lines = append(r.lines, service+":"+line)
}
func (r *recordConsumer) Status(service, status string) {
	r.lines = append(r.lines, service+":"+status)
}

func TestReorderHoldsForTheWindowThenPassesOnInTimeOrder(t *testing.T) {
	base := time.Date(2026, 3, 4, 15, 4, 5, 0, time.UTC)
	now := base.Add(600 * time.Millisecond)
	out := &recordConsumer{}
	o := newReorder(out, 100*time.Millisecond, 100, func() time.Time { return now })
	o.Log("checkout", activity.Stdout, stamped(507, "c"))
	o.Log("gateway", activity.Stdout, stamped(485, "g"))
	o.Log("orders-db", activity.Stdout, "LOG:  checkpoint starting") // no time: placed at now, .600
	o.Status("orders", "exited with code 1")                         // also .600, after the line before it
	o.flush(now.Add(-100 * time.Millisecond))                        // up to .500
	if got := strings.Join(out.lines, "|"); got != "gateway:"+stamped(485, "g") {
		t.Fatalf("after the window passed .500: %q", got)
	}
	o.Close()
	want := []string{"gateway:" + stamped(485, "g"), "checkout:" + stamped(507, "c"), "orders-db:LOG:  checkpoint starting", "orders:exited with code 1"}
	if strings.Join(out.lines, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", out.lines, want)
	}
	o.Log("late", activity.Stdout, "after close")
	if last := out.lines[len(out.lines)-1]; last != "late:after close" {
		t.Errorf("a line after Close was held or lost: %q", out.lines)
	}
}

// Holding is bounded: past max lines the oldest go on at once; none is
// lost.
func TestReorderIsBoundedAndLosesNothing(t *testing.T) {
	now := time.Date(2026, 3, 4, 15, 4, 6, 0, time.UTC)
	out := &recordConsumer{}
	o := newReorder(out, time.Second, 3, func() time.Time { return now })
	for i := range 10 {
		o.Log("a", activity.Stdout, stamped(900-i, fmt.Sprint(i)))
	}
	if len(out.lines) != 7 || len(o.held) != 3 {
		t.Fatalf("%d passed on, %d held; want 7 and 3", len(out.lines), len(o.held))
	}
	o.Close()
	if len(out.lines) != 10 {
		t.Errorf("%d lines passed on, want 10", len(out.lines))
	}
}

// BenchmarkFollowPath is msx logs -f's work per line now that lines are
// merged by time: the reorder's hold and the printer, for the 50k
// lines/s msx logs -f must keep.
func BenchmarkFollowPath(b *testing.B) {
	line := stamped(0, "request")
	p := NewPrinter(discard{}, []string{"orders"}, PrinterOptions{Color: true})
	o := NewReorder(p, 0, 0)
	defer o.Close()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		o.Log("orders", activity.Stdout, line)
	}
}
