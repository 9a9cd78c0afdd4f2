package model

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/progress"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func ev(k activity.Kind, svc string, f ...func(*activity.Event)) activity.Event {
	e := activity.Event{Time: t0, Kind: k, Service: svc}
	for _, fn := range f {
		fn(&e)
	}
	return e
}

func logLine(svc, text string) activity.Event {
	return ev(activity.Log, svc, func(e *activity.Event) { e.Line, e.Stream = text, activity.Stdout })
}

func TestStateTransitions(t *testing.T) {
	type step struct {
		e     activity.Event
		state State
	}
	steps := []step{
		{ev(activity.Building, "orders"), Building},
		{ev(activity.Built, "orders", func(e *activity.Event) { e.Duration = 800 * time.Millisecond }), Waiting},
		{ev(activity.Starting, "orders", func(e *activity.Event) { e.Port = 8081 }), Starting},
		{ev(activity.Ready, "orders"), Ready},
		{ev(activity.Building, "orders"), Building}, // a rebuild shows building while the old version serves
		{ev(activity.BuildFailed, "orders", func(e *activity.Event) { e.Output = "services/orders/h.go:12:3: undefined: x\n" }), Ready},
		{ev(activity.Building, "orders"), Building},
		{ev(activity.Built, "orders"), Ready},
		{ev(activity.Swapped, "orders"), Ready},
		{ev(activity.Unhealthy, "orders"), Unhealthy},
		{ev(activity.Crashed, "orders", func(e *activity.Event) { e.ExitCode = 2; e.Output = "panic: boom" }), Crashed},
		{ev(activity.Restarted, "orders", func(e *activity.Event) { e.Detail = "code changed" }), Crashed},
		{ev(activity.Starting, "orders"), Starting},
		{ev(activity.Ready, "orders"), Ready},
		{ev(activity.Stopping, "orders"), Stopping},
		{ev(activity.Stopped, "orders"), Stopped},
	}
	p := New([]string{"orders"}, 100)
	for i, st := range steps {
		p.Apply(st.e)
		if got := p.Service("orders").State(); got != st.state {
			t.Fatalf("step %d (%v): state %v, want %v", i, st.e.Kind, got, st.state)
		}
	}
	s := p.Service("orders")
	if s.Restarts != 1 || s.ExitCode != 2 || s.Port != 8081 || strings.Join(s.Output, "|") != "panic: boom" {
		t.Fatalf("service %+v", s)
	}
	if !s.Build.Done || !s.Build.OK {
		t.Fatalf("last build %+v", s.Build)
	}
}

func TestBuildFailureKeepsCompilerErrorsAndCountsAsFailing(t *testing.T) {
	p := New([]string{"orders", "catalog"}, 100)
	p.Apply(ev(activity.Ready, "catalog"))
	p.Apply(ev(activity.Ready, "orders"))
	p.Apply(ev(activity.Building, "orders"))
	if r, b, f := p.Summary(); r != 1 || b != 1 || f != 0 {
		t.Fatalf("summary while building %d %d %d", r, b, f)
	}
	out := "# example.com/shop/services/orders\nservices/orders/h.go:12:3: undefined: x\nservices/orders/h.go:14:1: missing return\n"
	p.Apply(ev(activity.BuildFailed, "orders", func(e *activity.Event) { e.Output = out; e.Duration = time.Second }))
	s := p.Service("orders")
	if len(s.Build.Errors) != 3 || s.Build.Errors[1] != "services/orders/h.go:12:3: undefined: x" {
		t.Fatalf("errors %q", s.Build.Errors)
	}
	if r, b, f := p.Summary(); r != 2 || b != 0 || f != 1 {
		t.Fatalf("summary after failure %d %d %d", r, b, f)
	}
	var texts []string
	for _, l := range p.Tail("orders", "", 0, 0, 10) {
		texts = append(texts, l.Text)
	}
	want := "ready|building|build failed in 1.00s; the previous version keeps running|# example.com/shop/services/orders|services/orders/h.go:12:3: undefined: x|services/orders/h.go:14:1: missing return"
	if got := strings.Join(texts, "|"); got != want {
		t.Fatalf("log lines\n got %s\nwant %s", got, want)
	}
	p.Apply(ev(activity.Built, "orders"))
	if _, _, f := p.Summary(); f != 0 {
		t.Fatal("a good build must clear the failure")
	}
}

func TestUnknownServiceIsAddedAndUnknownKindIgnored(t *testing.T) {
	p := New([]string{"a"}, 10)
	p.Apply(ev(activity.Ready, "b"))
	p.Apply(ev(activity.Kind(999), "a"))
	if len(p.Services()) != 2 || p.Services()[1].Name != "b" || p.Service("a").State() != Waiting {
		t.Fatalf("services %+v", p.Services())
	}
	p.Apply(ev(activity.Stats, "a", func(e *activity.Event) { e.CPU, e.Memory, e.Port = 12.5, 3<<20, 18080 }))
	if s := p.Service("a"); !s.HasStats || s.CPU != 12.5 || s.Memory != 3<<20 || s.Port != 18080 {
		t.Fatalf("stats %+v", s)
	}
	p.Apply(ev(activity.Warning, "", func(e *activity.Event) { e.Detail = "inotify limit reached" }))
	if p.Notice != "warning: inotify limit reached" {
		t.Fatalf("notice %q", p.Notice)
	}
}

func TestRingBounds(t *testing.T) {
	r := NewRing(3)
	for i := 1; i <= 7; i++ {
		r.Push(Line{Seq: uint64(i)})
		want := min(i, 3)
		if r.Len() != want {
			t.Fatalf("after %d pushes len %d", i, r.Len())
		}
		if r.At(0).Seq != uint64(i-want+1) || r.At(r.Len()-1).Seq != uint64(i) {
			t.Fatalf("after %d pushes oldest %d newest %d", i, r.At(0).Seq, r.At(r.Len()-1).Seq)
		}
	}
	p := New([]string{"a", "b"}, 5)
	for i := 0; i < 1000; i++ {
		p.Apply(logLine("a", fmt.Sprint("a", i)))
		p.Apply(logLine("b", fmt.Sprint("b", i)))
	}
	if p.Service("a").Logs.Len() != 5 || p.Service("b").Logs.Len() != 5 || len(p.Service("a").Logs.buf) != 5 {
		t.Fatal("ring grew past its capacity")
	}
}

func TestTailMergesFiltersAnchorsAndSkips(t *testing.T) {
	p := New([]string{"a", "b"}, 100)
	for i := 0; i < 10; i++ {
		p.Apply(logLine("a", fmt.Sprint("a", i)))
		if i%2 == 0 {
			p.Apply(logLine("b", fmt.Sprint("b", i)))
		}
	}
	texts := func(ls []Line) string {
		var s []string
		for _, l := range ls {
			s = append(s, l.Text)
		}
		return strings.Join(s, " ")
	}
	if got := texts(p.Tail("", "", 0, 0, 5)); got != "b6 a7 a8 b8 a9" {
		t.Fatalf("all: %s", got)
	}
	if got := texts(p.Tail("b", "", 0, 0, 3)); got != "b4 b6 b8" {
		t.Fatalf("b: %s", got)
	}
	if got := texts(p.Tail("", "B", 0, 0, 10)); got != "" {
		t.Fatalf("smart case: an upper-case filter matches case: %s", got)
	}
	if got := texts(p.Tail("", "b", 0, 1, 2)); got != "b4 b6" {
		t.Fatalf("filter and skip: %s", got)
	}
	anchor := p.LastSeq()
	p.Apply(logLine("a", "later"))
	if got := texts(p.Tail("a", "", anchor, 0, 2)); got != "a8 a9" {
		t.Fatalf("anchored: %s", got)
	}
	if got := texts(p.Tail("nope", "", 0, 0, 2)); got != "" {
		t.Fatalf("unknown: %s", got)
	}
}

// A program's escape sequences are shown as msx logs shows them, never
// passed to the terminal under the dashboard (nor silently dropped, which
// hid what the program printed).
func TestSanitizeShowsControlSequences(t *testing.T) {
	if got := sanitize("a\tb\x1b[31mred\x1b[0m\r\u009b\u202e"); got != `a    b\x1b[31mred\x1b[0m\r\u009b\u202e` {
		t.Fatalf("%q", got)
	}
	p := New([]string{"orders"}, 10)
	p.Apply(activity.Event{Kind: activity.Crashed, Service: "orders", Output: "boom\x1b]0;t\x07\nline 2"})
	p.Apply(activity.Event{Kind: activity.Unhealthy, Service: "orders", Detail: "says \x1b[2J"})
	p.Apply(activity.Event{Kind: activity.Log, Service: "orders", Line: `{"level":"INFO","msg":"m\u001b[2J"}`})
	var got string
	for _, l := range p.Tail("orders", "", 0, 0, 10) {
		got += l.Text + "|"
	}
	got += strings.Join(p.Service("orders").Output, "|")
	p.Apply(activity.Event{Kind: activity.Warning, Detail: "engine said \x1b[2J"})
	got += p.Notice
	if strings.ContainsAny(got, "\x1b\x07") {
		t.Fatalf("raw control in the model: %q", got)
	}
	if got := sanitize("plain"); got != "plain" {
		t.Fatal(got)
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{800 * time.Millisecond: "0.80s", 12345 * time.Millisecond: "12.35s", 0: "0.00s"} {
		if got := Seconds(d); got != want {
			t.Errorf("%v: %s", d, got)
		}
	}
}

func TestProjectWideAndNonServiceEvents(t *testing.T) {
	p := New([]string{"orders"}, 10)
	p.Apply(ev(activity.Info, "", func(e *activity.Event) {
		e.Step = progress.Step{Kind: progress.Created, Object: progress.Network, Name: "shop_default"}
	}))
	p.Apply(ev(activity.Info, "", func(e *activity.Event) {
		e.Step = progress.Step{Kind: progress.Removed, Object: progress.Container, Name: "shop-orders", Reason: "this up failed"}
	}))
	if len(p.Services()) != 1 {
		t.Fatalf("a network or a container became a service: %+v", p.Services()[1])
	}
	if p.Notice != "shop-orders: removed (this up failed)" {
		t.Fatalf("notice %q", p.Notice)
	}
	p.Apply(ev(activity.Stopping, "", func(e *activity.Event) { e.Detail = "stopping (graceful)" }))
	if p.Notice != "stopping (graceful)" {
		t.Fatalf("notice %q", p.Notice)
	}
	p.Apply(ev(activity.Kind(99), "", func(e *activity.Event) { e.Detail = "a kind from later work" }))
	if p.Notice != "unknown: a kind from later work" {
		t.Fatalf("notice %q", p.Notice)
	}
	p.Apply(ev(activity.Stats, "", func(e *activity.Event) { e.CPU = 1 }))
	if got := len(p.Tail("", "", 0, 0, 100)); got != 4 {
		t.Fatalf("%d project lines", got)
	}
}

func TestNotesDoNotRepeatTheSessionsWords(t *testing.T) {
	p := New([]string{"orders"}, 10)
	p.Apply(ev(activity.Built, "orders", func(e *activity.Event) {
		e.Step, e.Duration = progress.Step{Kind: progress.Built, Name: "orders", Duration: 800 * time.Millisecond}, 800*time.Millisecond
	}))
	p.Apply(ev(activity.Restarted, "orders", func(e *activity.Event) { e.Detail = "restarted on request" }))
	p.Apply(ev(activity.Swapped, "orders", func(e *activity.Event) { e.Detail = "code changed"; e.Duration = 200 * time.Millisecond }))
	p.Apply(ev(activity.Building, "orders", func(e *activity.Event) { e.Step = progress.Step{Kind: progress.Compiling, Name: "orders"} }))
	p.Apply(ev(activity.Built, "orders", func(e *activity.Event) { e.Duration = 300 * time.Millisecond }))
	var got []string
	for _, l := range p.Tail("orders", "", 0, 0, 10) {
		got = append(got, l.Text)
	}
	if want := "built in 0.8s|restarted on request|swapped in 0.20s: code changed|compiling|built in 0.30s"; strings.Join(got, "|") != want {
		t.Fatalf("got %s", strings.Join(got, "|"))
	}
	// The start's build keeps its duration: it travels typed.
	if b := p.Service("orders").Build; !b.OK || b.Duration != 300*time.Millisecond {
		t.Errorf("build = %+v", b)
	}
}

func TestFilterResultsFollowNewLinesAndFilterChanges(t *testing.T) {
	p := New([]string{"a"}, 10)
	p.Apply(logLine("a", "GET /x"))
	if len(p.Tail("a", "post", 0, 0, 10)) != 0 || len(p.Tail("a", "get", 0, 0, 10)) != 1 {
		t.Fatal("first filters")
	}
	p.Apply(logLine("a", "POST /y"))
	if got := p.Tail("a", "post", 0, 0, 10); len(got) != 1 || got[0].Text != "POST /y" {
		t.Fatalf("a line after the filter: %+v", got)
	}
	if got := p.Tail("a", "get", 0, 0, 10); len(got) != 1 || got[0].Text != "GET /x" {
		t.Fatalf("back to an earlier filter: %+v", got)
	}
	if got := p.Tail("a", "POST", 0, 0, 10); len(got) != 1 {
		t.Fatalf("smart case: %+v", got)
	}
}

// The build-failed warning goes when a later build leaves no build
// failing, not minutes later when another notice happens to replace it;
// a warning about something else stays.
func TestBuildFailedNoticeClearsOnTheNextGoodBuild(t *testing.T) {
	p := New([]string{"gateway", "orders"}, 10)
	failWarn := func() {
		p.Apply(ev(activity.BuildFailed, "gateway"))
		p.Apply(ev(activity.BuildFailed, "orders"))
		p.Apply(ev(activity.Warning, "", func(e *activity.Event) {
			e.Detail = "the build failed; the previous version keeps serving until the next good build"
		}))
	}
	failWarn()
	if p.Notice == "" {
		t.Fatal("no notice after a failed build")
	}
	p.Apply(ev(activity.Built, "orders"))
	if p.Notice == "" {
		t.Error("notice cleared while gateway's build still fails")
	}
	p.Apply(ev(activity.Built, "gateway"))
	if p.Notice != "" {
		t.Errorf("notice %q stays after good builds of every program", p.Notice)
	}
	p.Apply(ev(activity.Warning, "", func(e *activity.Event) { e.Detail = "inotify limit reached" }))
	p.Apply(ev(activity.Built, "orders"))
	if p.Notice != "warning: inotify limit reached" {
		t.Errorf("a good build cleared an unrelated notice: %q", p.Notice)
	}
}

// Matching lists the services a filter names or whose held lines match;
// it follows new lines, and forgets a match the buffer dropped.
func TestMatchingFollowsLinesAndForgetsDroppedOnes(t *testing.T) {
	p := New([]string{"orders", "payments", "catalog"}, 3)
	names := func(filter string) string {
		var out []string
		for _, s := range p.Matching(filter) {
			out = append(out, s.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(""); got != "orders,payments,catalog" {
		t.Fatalf("no filter: %s", got)
	}
	p.Apply(logLine("catalog", "slow query"))
	if got := names("pay"); got != "payments" {
		t.Errorf("pay: %s", got)
	}
	if got := names("slow"); got != "catalog" {
		t.Errorf("slow: %s", got)
	}
	p.Apply(logLine("orders", "slow too"))
	if got := names("slow"); got != "orders,catalog" {
		t.Errorf("slow after a new line: %s", got)
	}
	for range 3 {
		p.Apply(logLine("catalog", "fine"))
	}
	if got := names("slow"); got != "orders" {
		t.Errorf("slow once catalog's line was dropped: %s", got)
	}
	// The log pane shows the lines of the services the filter names.
	if got := p.Tail("", "cat", 0, 0, 10); len(got) != 3 || got[0].Service != "catalog" {
		t.Errorf("Tail under cat: %+v", got)
	}
}

func TestBreakerAndDeadLetterEvents(t *testing.T) {
	p := New([]string{"orders"}, 10)
	p.Apply(ev(activity.BreakerChanged, "orders", func(e *activity.Event) { e.Upstream, e.State = "payments", "open\x1b[2J" }))
	if got := p.Tail("orders", "", 0, 0, 10); len(got) != 1 || got[0].Text != `breaker payments: open\x1b[2J` {
		t.Errorf("orders' lines = %+v", got)
	}
	if s := p.Service("orders"); s.Failing() || s.Runtime != Waiting {
		t.Errorf("a breaker changed the service's state: %+v", s)
	}
	p.Apply(ev(activity.DeadLettered, "", func(e *activity.Event) { e.Count, e.Total = 2, 3 }))
	if p.Notice != "2 events dead-lettered (3 in all): a handler kept failing" {
		t.Errorf("notice %q", p.Notice)
	}
}
