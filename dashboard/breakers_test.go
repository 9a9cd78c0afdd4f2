package dashboard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var readAt = time.Date(2026, 11, 26, 12, 0, 5, 0, time.UTC)

func sample() []ProgramBreakers {
	return []ProgramBreakers{
		{Program: "gateway", Breakers: map[string]string{"orders": "open", "catalog": "closed", "checkout": "closed"}},
		{Program: "checkout", Breakers: map[string]string{"orders": "half-open", "catalog": "closed"}},
		{Program: "orders", Breakers: map[string]string{}},
		{Program: "payments", Problem: "admin listener not answering"},
	}
}

// readTab is a breakers tab of the given size that has read programs.
func readTab(w, h int, programs []ProgramBreakers, err error) *breakersTab {
	t := NewBreakersTab(func(context.Context) ([]ProgramBreakers, error) { return programs, err }, 2*time.Second).(*breakersTab)
	readOnce(&t.polledTab, w, h)
	return t
}

func TestBreakersTabOpenFirst(t *testing.T) {
	got := readTab(80, 10, sample(), nil).View()
	want := strings.Join([]string{
		"1 open  1 half-open  3 closed  (read 12:00:05, every 2s)",
		"PROGRAM   UPSTREAM  STATE",
		"gateway   orders    OPEN: calls refused at once",
		"checkout  orders    half-open: probing",
		"orders              no breakers (calls no other service)",
		"payments            admin listener not answering",
		"checkout  catalog   closed",
		"gateway   catalog   closed",
		"gateway   checkout  closed",
	}, "\n")
	if got != want {
		t.Errorf("view at 80x10:\n%s\nwant:\n%s", got, want)
	}
}

func TestBreakersTabFitsItsSize(t *testing.T) {
	checkFits(t, func(w, h int) string { return readTab(w, h, sample(), nil).View() }, [][2]int{{80, 5}, {30, 10}, {20, 3}, {1, 1}, {0, 0}})
	// Rows that do not fit are counted, and the open breaker stays in view.
	got := readTab(80, 5, sample(), nil).View()
	if !strings.Contains(got, "gateway   orders    OPEN") || !strings.HasSuffix(got, "… 5 more") {
		t.Errorf("view at 80x5:\n%s", got)
	}
}

func TestBreakersTabBeforeAndAfterAFailedRead(t *testing.T) {
	tab := NewBreakersTab(func(context.Context) ([]ProgramBreakers, error) { return nil, nil }, time.Second).(*breakersTab)
	tab.SetSize(60, 5)
	if got := tab.View(); !strings.HasPrefix(got, "reading the breakers") {
		t.Errorf("before the first read: %q", got)
	}
	got := readTab(60, 5, nil, errors.New("engine not answering")).View()
	if got != "cannot read the breakers: engine not answering" {
		t.Errorf("after a failed read: %q", got)
	}
	if got := readTab(60, 5, nil, nil).View(); !strings.HasSuffix(got, "no program is running") {
		t.Errorf("with no program: %q", got)
	}
}

func TestBreakersTabReadsAgainAfterEachReading(t *testing.T) {
	reads := 0
	tab := NewBreakersTab(func(context.Context) ([]ProgramBreakers, error) {
		reads++
		return sample(), nil
	}, time.Second).(*breakersTab)
	msg := tab.Init()()
	if reads != 1 {
		t.Fatalf("Init's command read %d times, want 1", reads)
	}
	if tick := tab.Update(msg); tick == nil {
		t.Fatal("a reading scheduled no next one")
	}
	// The tick (as tea.Tick delivers it) asks for another reading.
	next := tab.Update(pollTickMsg[[]ProgramBreakers]{p: &tab.poller})
	if next == nil {
		t.Fatal("the tick started no reading")
	}
	next()
	if reads != 2 {
		t.Errorf("read %d times after one tick, want 2", reads)
	}
	// Another tab's messages are not this one's.
	other := &breakersTab{}
	if tab.Update(pollTickMsg[[]ProgramBreakers]{p: &other.poller}) != nil || tab.Update(polledMsg[[]ProgramBreakers]{p: &other.poller}) != nil {
		t.Error("the tab acted on another tab's message")
	}
}

func TestBreakersTabInTheDashboard(t *testing.T) {
	tab := readTab(0, 0, sample(), nil)
	u, _ := newTestUI(t, 100, 12, tab)
	press(t, u, "2")
	got := view(t, u)
	if !strings.Contains(got, "[2 breakers]") || !strings.Contains(got, "gateway   orders    OPEN") {
		t.Errorf("dashboard on the breakers tab:\n%s", got)
	}
}

// A program's admin listener names its breakers and states: what it says
// is shown escaped, as is an error reading it.
func TestBreakersTabHostile(t *testing.T) {
	got := readTab(120, 10, []ProgramBreakers{
		{Program: "orders", Breakers: map[string]string{"x\x1b[2J": "open\x1b]0;t\x07"}},
		{Program: "payments", Problem: "said \u009b2J"},
	}, nil).View()
	got += readTab(120, 10, nil, errors.New("read \x1b[2J")).View()
	if strings.ContainsAny(got, "\x1b\x07\u009b") || !strings.Contains(got, `x\x1b[2J`) {
		t.Errorf("view:\n%q", got)
	}
}
