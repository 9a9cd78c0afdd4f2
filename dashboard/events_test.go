package dashboard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

func consumers() []EventConsumer {
	return []EventConsumer{
		{Service: "payments", Subscribes: []string{"orders.item.created"}, Pending: 120, Unacked: 3, Redelivered: 2},
		{Service: "audit", Subscribes: []string{"orders.item.created", "orders.item.deleted"}, Pending: 0},
		{Service: "mailer", Subscribes: []string{"users.item.created"}, Problem: "not running"},
	}
}

// readEventsTab is an events tab of the given size that has read cs.
func readEventsTab(w, h int, cs []EventConsumer, err error) *eventsTab {
	t := NewEventsTab(func(context.Context) ([]EventConsumer, error) { return cs, err }, 2*time.Second).(*eventsTab)
	t.now = func() time.Time { return readAt }
	t.SetSize(w, h)
	t.Update(t.fetch()())
	return t
}

func TestEventsTabView(t *testing.T) {
	got := readEventsTab(100, 10, consumers(), nil).View()
	want := strings.Join([]string{
		"120 pending  3 unacked  2 redelivered  (read 12:00:05, every 2s)",
		"SERVICE   PENDING  UNACKED  REDELIVERED  SUBSCRIBES",
		"audit           0        0            0  orders.item.created, orders.item.deleted",
		"mailer          -        -            -  (not running) users.item.created",
		"payments      120        3            2  orders.item.created",
	}, "\n")
	if got != want {
		t.Errorf("view at 100x10:\n%s\nwant:\n%s", got, want)
	}
}

func TestEventsTabFitsItsSize(t *testing.T) {
	for _, size := range [][2]int{{80, 4}, {30, 10}, {20, 3}, {1, 1}, {0, 0}} {
		w, h := size[0], size[1]
		got := readEventsTab(w, h, consumers(), nil).View()
		lines := strings.Split(got, "\n")
		if got == "" {
			lines = nil
		}
		if len(lines) > h {
			t.Errorf("%dx%d: %d lines", w, h, len(lines))
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > w {
				t.Errorf("%dx%d: line %q is wider than %d", w, h, l, w)
			}
		}
	}
	// Rows that do not fit are counted; a narrow terminal cuts the
	// subjects, not the counts.
	got := readEventsTab(80, 4, consumers(), nil).View()
	if !strings.HasSuffix(got, "\naudit           0        0            0  orders.item.created, orders.item.delet…\n… 2 more") {
		t.Errorf("view at 80x4:\n%s", got)
	}
	got = readEventsTab(50, 10, consumers(), nil).View()
	if !strings.Contains(got, "\npayments      120        3            2  orders.i…") {
		t.Errorf("view at 50x10:\n%s", got)
	}
}

func TestEventsTabBeforeAndAfterAFailedRead(t *testing.T) {
	tab := NewEventsTab(func(context.Context) ([]EventConsumer, error) { return nil, nil }, time.Second).(*eventsTab)
	tab.SetSize(60, 5)
	if got := tab.View(); got != "reading the event consumers from the broker…" {
		t.Errorf("before the first read: %q", got)
	}
	got := readEventsTab(60, 5, nil, errors.New("the broker is not running")).View()
	if got != "cannot read the event consumers: the broker is not running" {
		t.Errorf("after a failed read: %q", got)
	}
	// A failed read after a good one shows the failure, not stale counts.
	tab = readEventsTab(60, 5, consumers(), nil)
	tab.src = func(context.Context) ([]EventConsumer, error) { return nil, errors.New("the broker is not answering") }
	tab.Update(tab.fetch()())
	if got := tab.View(); got != "cannot read the event consumers: the broker is not answering" {
		t.Errorf("after a good read then a failed one: %q", got)
	}
	if got := readEventsTab(60, 5, nil, nil).View(); !strings.HasSuffix(got, "\nno service subscribes to events") {
		t.Errorf("with no consumer: %q", got)
	}
}

func TestEventsTabReadsAgainAfterEachReading(t *testing.T) {
	reads := 0
	tab := NewEventsTab(func(context.Context) ([]EventConsumer, error) {
		reads++
		return consumers(), nil
	}, time.Second).(*eventsTab)
	if tick := tab.Update(tab.Init()()); tick == nil {
		t.Fatal("a reading scheduled no next one")
	}
	if next := tab.Update(pollTickMsg[[]EventConsumer]{p: &tab.poller}); next == nil {
		t.Fatal("the tick started no reading")
	} else {
		next()
	}
	if reads != 2 {
		t.Errorf("read %d times after one tick, want 2", reads)
	}
	// Neither another events tab's messages nor the breakers tab's are its own.
	other := &eventsTab{}
	breakers := &breakersTab{}
	for _, msg := range []any{
		pollTickMsg[[]EventConsumer]{p: &other.poller}, polledMsg[[]EventConsumer]{p: &other.poller},
		pollTickMsg[[]ProgramBreakers]{p: &breakers.poller}, polledMsg[[]ProgramBreakers]{p: &breakers.poller},
	} {
		if tab.Update(msg) != nil {
			t.Errorf("the tab acted on %T", msg)
		}
	}
}

func TestEventsTabInTheDashboard(t *testing.T) {
	u, _ := newTestUI(t, 100, 12, readTab(0, 0, sample(), nil), readEventsTab(0, 0, consumers(), nil))
	press(t, u, "3")
	got := view(t, u)
	if !strings.Contains(got, "[3 events]") || !strings.Contains(got, "payments      120        3            2") {
		t.Errorf("dashboard on the events tab:\n%s", got)
	}
}
