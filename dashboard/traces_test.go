package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/trace"
)

// fakeTraces is a collector's query API: its traces, newest first, or an
// error for every read.
type fakeTraces struct {
	mu     sync.Mutex
	list   []trace.Summary
	traces map[string]trace.Trace
	err    error
	reads  []string
}

func (f *fakeTraces) List(_ context.Context, q trace.Query) ([]trace.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, fmt.Sprintf("list %d", q.Limit))
	return f.list, f.err
}

func (f *fakeTraces) Get(_ context.Context, id string) (trace.Trace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, "get "+id)
	if f.err != nil {
		return trace.Trace{}, f.err
	}
	t, ok := f.traces[id]
	if !ok {
		return trace.Trace{}, trace.ErrNotFound
	}
	return t, nil
}

const (
	idA = "4bf92f3577b34da6a3ce929d0e0e4736"
	idB = "0af7651916cd43dd8448eb211c80319c"
	idC = "c0ffee0000000000000000000000beef"
)

// sampleTrace is a request through the gateway to orders, which called
// payments, whose answer was an error.
func sampleTrace(id string, at time.Time) trace.Trace {
	span := func(sid, parent, name, svc string, off, dur time.Duration, err bool, attrs ...string) trace.Span {
		s := trace.Span{TraceID: id, SpanID: sid, ParentID: parent, Name: name, Service: svc, Kind: "server",
			Start: at.Add(off), DurationNS: int64(dur), Error: err}
		for i := 0; i+1 < len(attrs); i += 2 {
			s.Attrs = append(s.Attrs, struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			}{attrs[i], attrs[i+1]})
		}
		return s
	}
	return trace.Trace{TraceID: id, Spans: []trace.Span{
		span("0000000000000001", "", "GET /api/orders/", "gateway", 0, 12*time.Millisecond, false, "http.response.status_code", "502"),
		span("0000000000000002", "0000000000000001", "GET /upstream", "orders", time.Millisecond, 10*time.Millisecond, false),
		span("0000000000000003", "0000000000000002", "GET /items", "payments", 3*time.Millisecond, 6*time.Millisecond, true, "http.response.status_code", "500"),
	}}
}

func sampleTraces() *fakeTraces {
	return &fakeTraces{
		list: []trace.Summary{
			{TraceID: idA, Root: "GET /api/orders/", RootService: "gateway", Start: t0.Add(-2 * time.Second), DurationNS: int64(12 * time.Millisecond), Spans: 3, Errors: 1, Services: []string{"gateway", "orders", "payments"}},
			{TraceID: idB, Root: "GET /api/catalog/items", RootService: "gateway", Start: t0.Add(-5 * time.Second), DurationNS: int64(870 * time.Microsecond), Spans: 2, Services: []string{"catalog", "gateway"}},
		},
		traces: map[string]trace.Trace{idA: sampleTrace(idA, t0.Add(-2*time.Second)), idB: sampleTrace(idB, t0.Add(-5*time.Second))},
	}
}

// newTracesUI is the dashboard at w x h with the traces tab over src, on
// that tab, after its first read.
func newTracesUI(t *testing.T, src TraceSource, w, h int) (*ui, *tracesTab) {
	t.Helper()
	tab := NewTracesTab(src).(*tracesTab)
	tab.now = func() time.Time { return t0 }
	u, _ := newTestUI(t, w, h, tab)
	u.Update(tab.Init()())
	press(t, u, "2")
	return u, tab
}

// deliver runs a command the tab returned (a read, not a tick) and hands
// its message to the dashboard, as the program does.
func deliver(t *testing.T, u *ui, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			deliver(t, u, c)
		}
		return
	}
	u.Update(msg)
}

func TestTracesTabList(t *testing.T) {
	src := sampleTraces()
	u, _ := newTracesUI(t, src, 100, 12)
	golden(t, "traces_list", view(t, u))
	if got := strings.Join(src.reads, ","); got != "list 50" {
		t.Errorf("reads = %s", got)
	}

	// A new trace arrives above: the selection stays on its trace.
	press(t, u, "down")
	src.list = append([]trace.Summary{{TraceID: idC, Root: "POST /api/orders/items", Start: t0, DurationNS: int64(time.Millisecond), Spans: 1, Services: []string{"gateway"}}}, src.list...)
	deliver(t, u, u.tabs[1].Update(tracesTickMsg{u.tabs[1].(*tracesTab)}))
	v := view(t, u)
	if !strings.Contains(v, "> "+idB[:8]) || !strings.Contains(v, "  "+idC[:8]) {
		t.Errorf("the selection did not stay on %s:\n%s", idB, v)
	}
}

func TestTracesTabWaterfall(t *testing.T) {
	src := sampleTraces()
	u, tab := newTracesUI(t, src, 100, 16)
	// Log lines of the trace, and of another, that the dashboard holds.
	feed(u,
		activity.Event{Kind: activity.Log, Service: "orders", Time: t0, Line: `{"time":"2026-11-25T11:59:58.001Z","level":"INFO","msg":"calling payments","trace_id":"` + idA + `","span_id":"0000000000000002"}`},
		activity.Event{Kind: activity.Log, Service: "payments", Time: t0, Line: `{"time":"2026-11-25T11:59:58.004Z","level":"ERROR","msg":"store failed","trace_id":"` + idA + `","span_id":"0000000000000003"}`},
		activity.Event{Kind: activity.Log, Service: "catalog", Time: t0, Line: `{"time":"2026-11-25T11:59:58.004Z","level":"INFO","msg":"other","trace_id":"` + idB + `"}`},
	)
	cmds := press(t, u, "enter")
	if !strings.Contains(view(t, u), "reading trace "+idA) {
		t.Errorf("no word while the trace is read:\n%s", view(t, u))
	}
	deliver(t, u, cmds[0])
	golden(t, "traces_waterfall", view(t, u))

	// A refresh while the waterfall is open reads the trace again.
	src.reads = nil
	deliver(t, u, tab.Update(tracesTickMsg{tab}))
	if got := strings.Join(src.reads, ","); got != "list 50,get "+idA && got != "get "+idA+",list 50" {
		t.Errorf("reads on a tick = %s", got)
	}

	// In a smaller window, pgdown scrolls down to the log lines.
	u.Update(tea.WindowSizeMsg{Width: 100, Height: 9})
	u.Update(tea.KeyMsg{Type: tea.KeyPgDown})
	if v := view(t, u); strings.Contains(v, "trace "+idA+"  12ms") || !strings.Contains(v, "store failed") {
		t.Errorf("pgdown did not scroll to the log lines:\n%s", v)
	}
	press(t, u, "esc")
	if v := view(t, u); !strings.Contains(v, "> "+idA[:8]) {
		t.Errorf("esc did not go back to the list:\n%s", v)
	}
}

func TestTracesTabErrors(t *testing.T) {
	src := &fakeTraces{err: errors.New("the collector is not running yet")}
	u, tab := newTracesUI(t, src, 80, 8)
	if v := view(t, u); !strings.Contains(v, "cannot read the trace collector: the collector is not running yet") {
		t.Errorf("the error is not shown:\n%s", v)
	}
	// It reads again on the next tick, and shows what it reads.
	src.err = nil
	deliver(t, u, tab.Update(tracesTickMsg{tab}))
	if v := view(t, u); !strings.Contains(v, "no traces yet") || strings.Contains(v, "cannot read") {
		t.Errorf("after the collector answered:\n%s", v)
	}
	// Enter on an empty list opens nothing.
	if cmds := press(t, u, "enter"); cmds[0] != nil || tab.open != "" {
		t.Error("enter on an empty list opened a trace")
	}
	// A trace that went (its spans dropped) says so.
	src.list = sampleTraces().list
	deliver(t, u, tab.Update(tracesTickMsg{tab}))
	deliver(t, u, press(t, u, "enter")[0])
	if v := view(t, u); !strings.Contains(v, "cannot read trace "+idA+": no such trace") {
		t.Errorf("a trace not found:\n%s", v)
	}
}

// TestTracesTabScrollsTheList keeps the cursor on screen in a list longer
// than the window.
func TestTracesTabScrollsTheList(t *testing.T) {
	src := &fakeTraces{}
	for i := 0; i < 30; i++ {
		src.list = append(src.list, trace.Summary{TraceID: fmt.Sprintf("%08x%024x", i, 1), Root: "GET /api/orders/", Start: t0, Spans: 1, Services: []string{"gateway"}})
	}
	u, _ := newTracesUI(t, src, 80, 10)
	for i := 0; i < 12; i++ {
		press(t, u, "down")
	}
	v := view(t, u)
	if !strings.Contains(v, fmt.Sprintf("> %08x", 12)) || strings.Contains(v, fmt.Sprintf("%08x", 0)) {
		t.Errorf("row 12 selected and shown, row 0 scrolled away:\n%s", v)
	}
}
