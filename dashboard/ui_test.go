package dashboard

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/dashboard/model"
	"github.com/msx-dev/msx/progress"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type fakeController struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeController) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}
func (f *fakeController) Restart(s string) { f.record("restart " + s) }
func (f *fakeController) Rebuild(s string) { f.record("rebuild " + s) }
func (f *fakeController) Quit()            { f.record("quit") }
func (f *fakeController) got() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

var names = []string{"catalog", "orders", "checkout", "payments"}

func newTestUI(t *testing.T, w, h int, tabs ...Tab) (*ui, *fakeController) {
	t.Helper()
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	f := &fakeController{}
	u := newUI(Options{Project: "shop", GatewayURL: "http://localhost:8080", Services: names, Controller: f, Tabs: tabs},
		newCommon(r), model.New(names, 100))
	u.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return u, f
}

// startup is a session that built and started four services, then saw
// traffic; at step i the clock reads t0+i*100ms.
func startup() []activity.Event {
	var es []activity.Event
	at := t0
	add := func(e activity.Event) {
		at = at.Add(100 * time.Millisecond)
		e.Time = at
		es = append(es, e)
	}
	for i, n := range names {
		if i == len(names)-1 {
			// Its image is of the sources as they are: nothing compiled.
			add(activity.Event{Kind: activity.Built, Service: n, Step: progress.Step{Kind: progress.UpToDate, Name: n}})
			add(activity.Event{Kind: activity.Starting, Service: n, Port: 8081 + i})
			continue
		}
		add(activity.Event{Kind: activity.Building, Service: n})
		add(activity.Event{Kind: activity.Built, Service: n, Duration: time.Duration(700+i*50) * time.Millisecond})
		add(activity.Event{Kind: activity.Starting, Service: n, Port: 8081 + i})
	}
	for i, n := range names {
		add(activity.Event{Kind: activity.Ready, Service: n})
		add(activity.Event{Kind: activity.Stats, Service: n, CPU: 1.5 * float64(i+1), Memory: uint64(12+i) << 20})
	}
	add(activity.Event{Kind: activity.Info, Detail: "gateway listening on http://localhost:8080"})
	for i := 0; i < 30; i++ {
		n := names[i%len(names)]
		add(activity.Event{Kind: activity.Log, Service: n, Stream: activity.Stdout,
			Line: fmt.Sprintf(`{"level":"info","msg":"request","method":"GET","path":"/api/%s/items/%d","status":200}`, n, i)})
	}
	return es
}

func feed(u *ui, es ...activity.Event) { u.Update(batchMsg(es)) }

func press(t *testing.T, u *ui, keys ...string) []tea.Cmd {
	t.Helper()
	var cmds []tea.Cmd
	for _, k := range keys {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		case "up":
			msg = tea.KeyMsg{Type: tea.KeyUp}
		case "pgup":
			msg = tea.KeyMsg{Type: tea.KeyPgUp}
		case "end":
			msg = tea.KeyMsg{Type: tea.KeyEnd}
		case "tab":
			msg = tea.KeyMsg{Type: tea.KeyTab}
		case "ctrl+c":
			msg = tea.KeyMsg{Type: tea.KeyCtrlC}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		_, cmd := u.Update(msg)
		cmds = append(cmds, cmd)
	}
	return cmds
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./dashboard -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the view (go test ./dashboard -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// checkFrame asserts what every frame must be: exactly the window's height
// and no line wider than the window, or the terminal would scroll.
func checkFrame(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("frame has %d lines, window %d", len(lines), h)
	}
	for i, l := range lines {
		if n := lipgloss.Width(l); n > w {
			t.Errorf("line %d is %d wide, window %d: %q", i, n, w, l)
		}
	}
}

func view(t *testing.T, u *ui) string {
	t.Helper()
	v := u.View()
	checkFrame(t, v, u.width, u.height)
	return v
}

func TestViewGolden(t *testing.T) {
	failed := activity.Event{Time: t0.Add(time.Minute), Kind: activity.BuildFailed, Service: "orders", Duration: 900 * time.Millisecond,
		Output: "# example.com/shop/services/orders\nservices/orders/handlers.go:42:9: undefined: itemz\nservices/orders/handlers.go:57:2: missing return\n"}
	crashed := activity.Event{Time: t0.Add(2 * time.Minute), Kind: activity.Crashed, Service: "checkout", ExitCode: 2,
		Output: "panic: runtime error: index out of range [3] with length 3\ngoroutine 1 [running]:\nmain.main()"}
	cases := []struct {
		name string
		w, h int
		do   func(t *testing.T, u *ui)
	}{
		{"running", 100, 30, func(t *testing.T, u *ui) {}},
		{"build_failed", 100, 30, func(t *testing.T, u *ui) {
			feed(u, activity.Event{Time: t0.Add(59 * time.Second), Kind: activity.Building, Service: "orders"}, failed)
			press(t, u, "down")
		}},
		{"crashed_focus", 100, 30, func(t *testing.T, u *ui) {
			feed(u, crashed, activity.Event{Time: t0.Add(2 * time.Minute), Kind: activity.Restarted, Service: "checkout", Detail: "crashed"})
			press(t, u, "down", "down", "enter")
		}},
		{"filter", 100, 30, func(t *testing.T, u *ui) { press(t, u, "/", "i", "t", "e", "m", "s", "/", "1") }},
		{"help", 100, 30, func(t *testing.T, u *ui) { press(t, u, "?") }},
		{"narrow", 60, 12, func(t *testing.T, u *ui) { press(t, u, "down") }},
		{"tiny", 20, 4, func(t *testing.T, u *ui) {}},
		{"paused", 100, 20, func(t *testing.T, u *ui) {
			press(t, u, "p")
			feed(u, activity.Event{Time: t0.Add(time.Hour), Kind: activity.Log, Service: "orders", Line: "after the pause"})
		}},
		{"scrolled", 100, 20, func(t *testing.T, u *ui) { press(t, u, "pgup") }},
		{"tab", 100, 16, func(t *testing.T, u *ui) { press(t, u, "tab") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, _ := newTestUI(t, c.w, c.h, &fakeTab{})
			feed(u, startup()...)
			c.do(t, u)
			golden(t, c.name, view(t, u))
		})
	}
}

func TestResizeRedraws(t *testing.T) {
	u, _ := newTestUI(t, 100, 30)
	feed(u, startup()...)
	view(t, u)
	for _, size := range [][2]int{{40, 10}, {200, 50}, {80, 24}, {1, 1}} {
		u.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		view(t, u)
	}
}

func TestViewIsReusedUntilSomethingChanges(t *testing.T) {
	u, _ := newTestUI(t, 100, 30)
	feed(u, startup()...)
	a := u.View()
	if u.dirty {
		t.Fatal("View left the frame dirty")
	}
	if b := u.View(); b != a {
		t.Fatal("a clean frame changed")
	}
	feed(u, activity.Event{Time: t0.Add(time.Hour), Kind: activity.Log, Service: "orders", Line: "new line"})
	if c := u.View(); c == a || !strings.Contains(c, "new line") {
		t.Fatal("a batch did not redraw")
	}
}

func run(cmds []tea.Cmd) []tea.Msg {
	var msgs []tea.Msg
	for _, c := range cmds {
		if c == nil {
			continue
		}
		msg := c()
		if b, ok := msg.(tea.BatchMsg); ok {
			msgs = append(msgs, run(b)...)
		} else {
			msgs = append(msgs, msg)
		}
	}
	return msgs
}

func TestKeysCallTheController(t *testing.T) {
	u, f := newTestUI(t, 100, 30)
	feed(u, startup()...)
	run(press(t, u, "r", "down", "b", "down", "down", "down", "r", "up", "up", "up", "up", "up", "b"))
	if got, want := f.got(), "restart catalog,rebuild orders,restart payments,rebuild catalog"; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	// While the filter is being typed, r and b are text, not actions.
	run(press(t, u, "/", "r", "b"))
	if f.got() != "restart catalog,rebuild orders,restart payments,rebuild catalog" || page(u).filter != "rb" {
		t.Fatalf("filter %q calls %q", page(u).filter, f.got())
	}
	press(t, u, "esc")
	// Keys read in one chunk act one by one.
	run(press(t, u, "rb/zz"))
	if page(u).filter != "zz" || !strings.HasSuffix(f.got(), ",restart catalog,rebuild catalog") {
		t.Fatalf("chunked keys: filter %q calls %q", page(u).filter, f.got())
	}
	press(t, u, "esc")
	msgs := run(press(t, u, "q"))
	if _, ok := msgs[0].(tea.QuitMsg); !ok || !strings.HasSuffix(f.got(), ",quit") {
		t.Fatalf("q: msgs %v calls %q", msgs, f.got())
	}
	u2, f2 := newTestUI(t, 100, 30)
	page(u2).filtering = true
	msgs = run(press(t, u2, "ctrl+c"))
	if _, ok := msgs[0].(tea.QuitMsg); !ok || f2.got() != "quit" {
		t.Fatalf("ctrl+c while filtering: msgs %v calls %q", msgs, f2.got())
	}
}

func TestLogPaneFollowsFiltersPausesAndScrolls(t *testing.T) {
	u, _ := newTestUI(t, 100, 30)
	feed(u, startup()...)
	press(t, u, "down", "enter")
	if page(u).follow != "orders" {
		t.Fatalf("enter follows %q", page(u).follow)
	}
	for _, l := range u.proj.Tail(page(u).follow, "", 0, 0, 100) {
		if l.Service != "orders" {
			t.Fatalf("focused pane shows %s", l.Service)
		}
	}
	press(t, u, "enter")
	if page(u).follow != "" {
		t.Fatal("enter again returns to all")
	}
	press(t, u, "/", "x", "y", "z", "enter")
	if page(u).filter != "xyz" || page(u).filtering {
		t.Fatalf("filter %q filtering %v", page(u).filter, page(u).filtering)
	}
	if v := u.View(); strings.Contains(v, "items/") || !strings.Contains(v, "filter: xyz") {
		t.Fatalf("filter not applied:\n%s", v)
	}
	press(t, u, "esc")
	if page(u).filter != "" {
		t.Fatal("esc clears the filter")
	}
	press(t, u, "p")
	feed(u, activity.Event{Time: t0.Add(time.Hour), Kind: activity.Log, Service: "orders", Line: "while paused"})
	if strings.Contains(u.View(), "while paused") {
		t.Fatal("paused pane moved")
	}
	press(t, u, "p")
	if !strings.Contains(u.View(), "while paused") {
		t.Fatal("resumed pane did not catch up")
	}
	press(t, u, "pgup", "pgup", "pgup", "pgup", "pgup", "pgup", "pgup", "pgup")
	_, logs := page(u).layout()
	if got := len(u.proj.Tail("", "", page(u).anchor, page(u).scroll, logs)); got != logs {
		t.Fatalf("scrolled past the oldest line: %d of %d lines shown", got, logs)
	}
	press(t, u, "end")
	if page(u).scroll != 0 || page(u).anchor != 0 || page(u).paused {
		t.Fatal("end must follow again")
	}
}

// fakeTab stands in for the traces tab another package will add.
type fakeTab struct {
	w, h int
	keys []string
}

func (f *fakeTab) Title() string    { return "traces" }
func (f *fakeTab) Init() tea.Cmd    { return nil }
func (f *fakeTab) SetSize(w, h int) { f.w, f.h = w, h }
func (f *fakeTab) Keys() []key.Binding {
	return []key.Binding{key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort"))}
}
func (f *fakeTab) Update(m tea.Msg) tea.Cmd {
	if k, ok := m.(tea.KeyMsg); ok {
		f.keys = append(f.keys, k.String())
	}
	return nil
}
func (f *fakeTab) View() string {
	return fmt.Sprintf("traces tab %dx%d, keys %v", f.w, f.h, f.keys)
}

func TestTabsGetKeysOnlyWhenShown(t *testing.T) {
	tab := &fakeTab{}
	u, f := newTestUI(t, 100, 30, tab)
	press(t, u, "x", "2", "x", "r")
	if strings.Join(tab.keys, "") != "xr" || f.got() != "" {
		t.Fatalf("tab keys %v, controller %q", tab.keys, f.got())
	}
	press(t, u, "1", "y")
	if len(tab.keys) != 2 || u.active != 0 {
		t.Fatal("the services page took the keys back")
	}
	if tab.w != 100 || tab.h != 27 {
		t.Fatalf("tab size %dx%d", tab.w, tab.h)
	}
}

func page(u *ui) *servicesPage { return u.tabs[0].(*servicesPage) }

// With colours on, escapes must not change what fits: the frame keeps its
// height and no line is wider than the window once they are stripped.
func TestColourFrameFits(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	u := newUI(Options{Project: "shop", GatewayURL: "http://localhost:8080", Services: names},
		newCommon(r), model.New(names, 100))
	feed(u, startup()...)
	feed(u, activity.Event{Time: t0, Kind: activity.BuildFailed, Service: "catalog", Output: "a.go:1:1: x\nb.go:2:2: y"})
	for _, size := range [][2]int{{100, 30}, {60, 12}, {30, 8}} {
		u.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		v := view(t, u)
		if !strings.Contains(v, "\x1b[") {
			t.Fatal("no colour drawn")
		}
	}
}
