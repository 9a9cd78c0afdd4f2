package dashboard

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/dashboard/model"
)

// fifty is a session of 50 services (s01 to s50), the collector and the
// gateway: s07 crashed, s12 is building, the rest ready and logging.
func fifty(t *testing.T, w, h int) *ui {
	t.Helper()
	var all []string
	for i := 1; i <= 50; i++ {
		all = append(all, fmt.Sprintf("s%02d", i))
	}
	all = append(all, "collector", "gateway")
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	u := newUI(Options{Project: "shop", GatewayURL: "http://localhost:8080", Services: all, Controller: &fakeController{}},
		newCommon(r), model.New(all, 100))
	u.Update(tea.WindowSizeMsg{Width: w, Height: h})
	at := t0
	var es []activity.Event
	add := func(e activity.Event) {
		at = at.Add(10 * time.Millisecond)
		e.Time = at
		es = append(es, e)
	}
	for i, n := range all {
		add(activity.Event{Kind: activity.Built, Service: n, Duration: 900 * time.Millisecond})
		add(activity.Event{Kind: activity.Starting, Service: n, Port: 9000 + i})
		add(activity.Event{Kind: activity.Ready, Service: n})
		add(activity.Event{Kind: activity.Stats, Service: n, CPU: 0.1, Memory: 8 << 20})
	}
	add(activity.Event{Kind: activity.Crashed, Service: "s07", ExitCode: 2, Output: "panic: boom"})
	add(activity.Event{Kind: activity.Building, Service: "s12"})
	for i := 0; i < 200; i++ {
		n := all[i%50]
		add(activity.Event{Kind: activity.Log, Service: n, Stream: activity.Stdout,
			Line: fmt.Sprintf(`{"level":"info","msg":"request","path":"/items/%d","status":200}`, i)})
	}
	add(activity.Event{Kind: activity.Log, Service: "s23", Stream: activity.Stdout, Line: `{"level":"warn","msg":"slow query","table":"items"}`})
	feed(u, es...)
	return u
}

func selectedLine(v string) string {
	for _, l := range strings.Split(v, "\n") {
		if strings.HasPrefix(l, "> ") {
			return l
		}
	}
	return ""
}

func TestFiftyServicesGolden(t *testing.T) {
	cases := []struct {
		name string
		w, h int
		keys []string
	}{
		{"fifty", 80, 24, []string{"down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down"}},
		{"fifty_filter", 80, 24, []string{"/", "s", "4", "enter"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := fifty(t, c.w, c.h)
			press(t, u, c.keys...)
			golden(t, c.name, view(t, u))
		})
	}
}

// The table scrolls with the selection, moving no more than it must, and
// keeps it in view across resizes; the log pane keeps lines to read.
func TestFiftyServicesTableScrollsWithTheSelection(t *testing.T) {
	u := fifty(t, 80, 24)
	for i := 1; i <= 50; i++ {
		press(t, u, "down")
		want := fmt.Sprintf("> s%02d", i+1)
		if i+1 > 50 {
			want = "> collector"
		}
		if got := selectedLine(view(t, u)); !strings.HasPrefix(got, want) {
			t.Fatalf("after %d downs the selected row shown is %q, want %s", i, got, want)
		}
	}
	press(t, u, "down", "down")
	if got := selectedLine(view(t, u)); !strings.HasPrefix(got, "> gateway") {
		t.Fatalf("the last row: %q", got)
	}
	top := page(u).top
	press(t, u, "up", "up")
	if page(u).top != top {
		t.Errorf("moving up within the window scrolled it from %d to %d", top, page(u).top)
	}
	for _, size := range [][2]int{{200, 60}, {80, 24}, {60, 12}, {80, 24}} {
		u.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		v := view(t, u)
		if got := selectedLine(v); !strings.HasPrefix(got, "> s50") {
			t.Errorf("at %dx%d the selected row is %q:\n%s", size[0], size[1], got, v)
		}
	}
	_, logs := page(u).layout()
	if logs < 8 {
		t.Errorf("at 80x24 the log pane has %d lines", logs)
	}
	if v := view(t, u); !strings.Contains(v, "services 44-52 of 52") {
		t.Errorf("the table does not say which rows it shows:\n%s", v)
	}
	// The keys act on the selected service.
	f := u.ctrl.(*fakeController)
	run(press(t, u, "r"))
	if f.got() != "restart s50" {
		t.Errorf("r called %q", f.got())
	}
}

// A filter narrows the table as well as the logs: to the services whose
// name or shown log lines match; the header still counts every service.
func TestFiftyServicesFilterNarrowsTheTable(t *testing.T) {
	u := fifty(t, 80, 24)
	for range 44 {
		press(t, u, "down")
	}
	press(t, u, "/", "s", "4")
	v := view(t, u)
	if got := selectedLine(v); !strings.HasPrefix(got, "> s45") {
		t.Errorf("the selection moved off s45 under a filter that lists it: %q", got)
	}
	for _, n := range []string{"s01 ", "s23 ", "s50 ", "collector"} {
		if strings.Contains(v, "  "+n) {
			t.Errorf("%s is listed under the filter s4:\n%s", n, v)
		}
	}
	if !strings.Contains(v, "s40 ") || !strings.Contains(v, "10 of 52 services match") || !strings.Contains(v, "s49       | INFO") {
		t.Errorf("the filter's rows:\n%s", v)
	}
	if !strings.Contains(v, "50/52 ready  1 building  1 failing") {
		t.Errorf("the header counts changed with the filter:\n%s", strings.SplitN(v, "\n", 2)[0])
	}
	press(t, u, "esc", "/", "s", "l", "o", "w", "enter")
	v = view(t, u)
	if got := selectedLine(v); !strings.HasPrefix(got, "> s23") {
		t.Errorf("a filter that matches only s23's log line selects %q:\n%s", got, v)
	}
	if !strings.Contains(v, "1 of 52 services match") || !strings.Contains(v, "slow query") {
		t.Errorf("the filter slow:\n%s", v)
	}
	press(t, u, "/", "z", "z", "z", "enter")
	v = view(t, u)
	if selectedLine(v) != "" || !strings.Contains(v, "0 of 52 services match") {
		t.Errorf("a filter that matches nothing:\n%s", v)
	}
	f := u.ctrl.(*fakeController)
	run(press(t, u, "r"))
	if f.got() != "" {
		t.Errorf("r with no row listed called %q", f.got())
	}
	press(t, u, "esc")
	if got := selectedLine(view(t, u)); got == "" {
		t.Error("no row selected once the filter is cleared")
	}
}
