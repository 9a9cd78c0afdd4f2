package dashboard

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/dashboard/model"
	"github.com/msx-dev/msx/internal/syncbuf"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runAsync(d *Dashboard, ctx context.Context) chan error {
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return done
}

func result(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestRunDrawsEventsAndQuitsOnQ(t *testing.T) {
	in, keys := io.Pipe()
	out := &syncbuf.Buffer{}
	f := &fakeController{}
	d := New(Options{Project: "shop", GatewayURL: "http://localhost:8080", Services: []string{"orders"}, In: in, Out: out, NoColor: true, Controller: f})
	// Events published before Run are kept and drawn once it starts.
	d.Observe(activity.Event{Time: t0, Kind: activity.Ready, Service: "orders", Port: 8081})
	done := runAsync(d, context.Background())
	d.Observe(activity.Event{Time: t0, Kind: activity.Log, Service: "orders", Line: "hello from orders"})
	waitFor(t, "the log line on the terminal", func() bool { return strings.Contains(out.String(), "hello from orders") })
	if _, err := keys.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if f.got() != "quit" {
		t.Fatalf("controller %q", f.got())
	}
	// The alternate screen was left: the terminal is back as it was.
	if o := out.String(); strings.LastIndex(o, "\x1b[?1049l") < strings.LastIndex(o, "\x1b[?1049h") || !strings.Contains(o, "\x1b[?1049h") {
		t.Fatalf("alternate screen not left: %q", o[max(0, len(o)-200):])
	}
	// After Run, Observe still returns at once and keeps nothing.
	for i := 0; i < 10000; i++ {
		d.Observe(activity.Event{Kind: activity.Log, Service: "orders", Line: "late"})
	}
	if len(d.q.drain()) != 0 {
		t.Fatal("events queued after the dashboard ended")
	}
}

func TestRunReturnsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	d := New(Options{Project: "shop", Out: out, NoColor: true, Controller: &fakeController{}})
	done := runAsync(d, ctx)
	d.Observe(activity.Event{Time: t0, Kind: activity.Building, Service: "orders"})
	waitFor(t, "the first frame", func() bool { return strings.Contains(out.String(), "building") })
	cancel()
	if err := result(t, done); err != nil {
		t.Fatalf("a cancelled context is a normal end: %v", err)
	}
	if !strings.Contains(out.String(), "\x1b[?1049l") {
		t.Fatal("alternate screen not left")
	}
}

type panicTab struct{ fakeTab }

func (p *panicTab) View() string { panic("tab bug") }

func TestRunRecoversFromAPanicAndRestores(t *testing.T) {
	in, keys := io.Pipe()
	out := &syncbuf.Buffer{}
	d := New(Options{Project: "shop", In: in, Out: out, NoColor: true, Tabs: []Tab{&panicTab{}}})
	done := runAsync(d, context.Background())
	waitFor(t, "the first frame", func() bool { return strings.Contains(out.String(), "services") })
	keys.Write([]byte("2"))
	err := result(t, done)
	if err == nil || !strings.Contains(err.Error(), "--no-tui") {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(out.String(), "\x1b[?1049l") {
		t.Fatal("alternate screen not left after a panic")
	}
}

type panicCmdTab struct{ fakeTab }

func (p *panicCmdTab) Init() tea.Cmd { return func() tea.Msg { panic("command bug") } }

func TestRunRecoversFromAPanicInACommandGoroutine(t *testing.T) {
	out := &syncbuf.Buffer{}
	d := New(Options{Project: "shop", Out: out, NoColor: true, Tabs: []Tab{&panicCmdTab{}}})
	err := result(t, runAsync(d, context.Background()))
	if err == nil || !strings.Contains(out.String(), "\x1b[?1049l") {
		t.Fatalf("err %v; alternate screen left: %v", err, strings.Contains(out.String(), "\x1b[?1049l"))
	}
}

func TestObserveNeverBlocksAndKeepsAllButOldLogLines(t *testing.T) {
	// Nothing drains the queue while Observe runs: an Observe that blocked
	// would hang here (and fail at the test's timeout). How fast it is
	// belongs in a benchmark, not in a bound on the wall clock, which a
	// loaded machine under -race misses.
	d := New(Options{})
	const lines = 50_000
	for i := 0; i < lines; i++ {
		svc := fmt.Sprint("s", i%10)
		d.Observe(activity.Event{Kind: activity.Log, Service: svc, Line: fmt.Sprint(i)})
		if i%1000 == 0 {
			d.Observe(activity.Event{Kind: activity.Restarted, Service: svc, Detail: fmt.Sprint(i)})
			d.Observe(activity.Event{Kind: activity.Stats, Service: svc, CPU: float64(i)})
		}
	}
	got := d.q.drain()
	logs, restarts, stats := map[string][]string{}, 0, 0
	for _, e := range got {
		switch e.Kind {
		case activity.Log:
			logs[e.Service] = append(logs[e.Service], e.Line)
		case activity.Restarted:
			restarts++
		case activity.Stats:
			stats++
		}
	}
	if restarts != lines/1000 || stats != lines/1000 {
		t.Fatalf("kept %d restarts and %d stats, want %d of each", restarts, stats, lines/1000)
	}
	for svc, ls := range logs {
		if len(ls) < RingLines || len(ls) > 2*RingLines+minCompact {
			t.Fatalf("%s: %d lines queued", svc, len(ls))
		}
		if last := ls[len(ls)-1]; last != fmt.Sprint(lines-10+int(svc[1]-'0')) {
			t.Fatalf("%s: newest line %s lost", svc, last)
		}
	}
}

func TestQueueKeepsOrder(t *testing.T) {
	q := newQueue(2)
	for i := 0; i < minCompact+1; i++ {
		q.push(activity.Event{Kind: activity.Log, Service: "a", Line: fmt.Sprint(i)})
		if i == 10 {
			q.push(activity.Event{Kind: activity.Crashed, Service: "a"})
		}
	}
	// Compaction ran once, at minCompact events: the crash and the two
	// newest lines then, and the two lines pushed since.
	got := q.drain()
	var lines []string
	for _, e := range got[1:] {
		lines = append(lines, e.Line)
	}
	want := fmt.Sprintf("%d %d %d %d", minCompact-3, minCompact-2, minCompact-1, minCompact)
	if got[0].Kind != activity.Crashed || strings.Join(lines, " ") != want {
		t.Fatalf("%+v", got)
	}
}

func TestRecoverRestoresTheTerminalBeforeAGoroutinePanicEndsTheProcess(t *testing.T) {
	out := &syncbuf.Buffer{}
	d := New(Options{Project: "shop", Out: out, NoColor: true})
	d.panicGrace = 0 // the test catches the panic that would end the process
	done := runAsync(d, context.Background())
	d.Observe(activity.Event{Time: t0, Kind: activity.Building, Service: "orders"})
	waitFor(t, "the first frame", func() bool { return strings.Contains(out.String(), "building") })
	repanicked := make(chan any, 1)
	go func() {
		// Stands in for the runtime ending the process: catch the panic
		// Recover passes on.
		defer func() { repanicked <- recover() }()
		defer d.Recover()
		panic("session bug")
	}()
	if r := <-repanicked; r != "session bug" {
		t.Fatalf("Recover passed on %v", r)
	}
	// The terminal was restored before the panic went on.
	if !strings.Contains(out.String(), "\x1b[?1049l") {
		t.Fatal("alternate screen not left before the panic went on")
	}
	if err := result(t, done); err == nil || !strings.Contains(err.Error(), "panic in the session") {
		t.Fatalf("Run: %v", err)
	}
}

func TestRecoverWithoutPanicDoesNothing(t *testing.T) {
	d := New(Options{})
	func() { defer d.Recover() }()
}

func TestNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "") // restored after the test
	os.Unsetenv("NO_COLOR")
	if colorOff(false) || !colorOff(true) {
		t.Fatal("the NoColor option")
	}
	t.Setenv("NO_COLOR", "1")
	if !colorOff(false) {
		t.Fatal("NO_COLOR")
	}
	if r := renderer(io.Discard, false); r.ColorProfile() != termenv.Ascii {
		t.Fatal("NO_COLOR must give the Ascii profile")
	}
	// What the profile changes: colour escapes in a colour terminal, none in Ascii.
	for _, p := range []termenv.Profile{termenv.ANSI, termenv.Ascii} {
		r := lipgloss.NewRenderer(io.Discard)
		r.SetColorProfile(p)
		styled := newCommon(r).states[model.Ready].Render("ready")
		if colored := strings.Contains(styled, "\x1b["); colored != (p != termenv.Ascii) {
			t.Errorf("profile %v: %q", p, styled)
		}
	}
}
