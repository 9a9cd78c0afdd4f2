package dashboard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
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
	readOnce(&t.polledTab, w, h)
	return t
}

func TestEventsTabView(t *testing.T) {
	head := "120 pending  3 unacked  2 redelivered  (read 12:00:05, every 2s)"
	for _, c := range []struct {
		w, h int
		cs   []EventConsumer
		err  error
		want []string
	}{
		{100, 10, consumers(), nil, []string{
			head,
			"SERVICE   PENDING  UNACKED  REDELIVERED  SUBSCRIBES",
			"audit           0        0            0  orders.item.created, orders.item.deleted",
			"mailer          -        -            -  (not running) users.item.created",
			"payments      120        3            2  orders.item.created",
		}},
		// Rows that do not fit are counted.
		{80, 4, consumers(), nil, []string{
			head,
			"SERVICE   PENDING  UNACKED  REDELIVERED  SUBSCRIBES",
			"audit           0        0            0  orders.item.created, orders.item.delet…",
			"… 2 more",
		}},
		// A narrow terminal cuts the subjects, not the counts.
		{50, 5, consumers(), nil, []string{
			"120 pending  3 unacked  2 redelivered  (read 12:0…",
			"SERVICE   PENDING  UNACKED  REDELIVERED  SUBSCRIB…",
			"audit           0        0            0  orders.i…",
			"mailer          -        -            -  (not run…",
			"payments      120        3            2  orders.i…",
		}},
		{70, 5, nil, nil, []string{"0 pending  0 unacked  0 redelivered  (read 12:00:05, every 2s)", "no service subscribes to events"}},
		{60, 5, nil, errors.New("the broker is not running"), []string{"cannot read the event consumers: the broker is not running"}},
	} {
		got := readEventsTab(c.w, c.h, c.cs, c.err).View()
		if want := strings.Join(c.want, "\n"); got != want {
			t.Errorf("view at %dx%d:\n%s\nwant:\n%s", c.w, c.h, got, want)
		}
	}
	checkFits(t, func(w, h int) string { return readEventsTab(w, h, consumers(), nil).View() }, [][2]int{{80, 4}, {30, 10}, {20, 3}, {1, 1}, {0, 0}})
}

func TestEventsTabBeforeAndAfterAFailedRead(t *testing.T) {
	tab := NewEventsTab(func(context.Context) ([]EventConsumer, error) { return nil, nil }, time.Second).(*eventsTab)
	tab.SetSize(60, 5)
	if got := tab.View(); got != "reading the event consumers from the broker…" {
		t.Errorf("before the first read: %q", got)
	}
	// A failed read after a good one shows the failure, not stale counts.
	tab = readEventsTab(60, 5, consumers(), nil)
	tab.src = func(context.Context) ([]EventConsumer, error) { return nil, errors.New("the broker is not answering") }
	tab.Update(tab.fetch()())
	if got := tab.View(); got != "cannot read the event consumers: the broker is not answering" {
		t.Errorf("after a good read then a failed one: %q", got)
	}
}

// The polling itself is the breakers tab's, tested there; here, that
// the events tab keeps its own readings apart from another tab's.
func TestEventsTabTakesOnlyItsOwnReadings(t *testing.T) {
	tab := readEventsTab(100, 10, consumers(), nil)
	before := tab.View()
	other, breakers := &eventsTab{}, &breakersTab{}
	for _, msg := range []any{
		pollTickMsg[[]EventConsumer]{p: &other.poller},
		polledMsg[[]EventConsumer]{p: &other.poller, at: readAt},
		pollTickMsg[[]ProgramBreakers]{p: &breakers.poller},
		polledMsg[[]ProgramBreakers]{p: &breakers.poller, err: errors.New("not mine"), at: readAt},
	} {
		if tab.Update(msg) != nil || tab.View() != before {
			t.Errorf("the tab acted on %T", msg)
		}
	}
	if tab.Update(tab.Init()()) == nil {
		t.Error("its own reading scheduled no next one")
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
