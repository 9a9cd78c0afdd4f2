package activity

import (
	"testing"
	"time"

	"github.com/msx-dev/msx/progress"
)

func TestBusDeliversInOrderAndStamps(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := NewBus(func() time.Time { return at })
	var got []Event
	b.Subscribe(ObserverFunc(func(e Event) { got = append(got, e) }))
	b.Publish(Event{Kind: Building, Service: "orders"})
	b.Publish(Event{Kind: Built, Service: "orders", Time: at.Add(time.Second)})
	if len(got) != 2 || got[0].Kind != Building || got[1].Kind != Built {
		t.Fatalf("got %+v", got)
	}
	if !got[0].Time.Equal(at) || !got[1].Time.Equal(at.Add(time.Second)) {
		t.Fatalf("times %v %v", got[0].Time, got[1].Time)
	}
}

func TestKindString(t *testing.T) {
	if BuildFailed.String() != "build failed" || Kind(999).String() != "unknown" || Kind(0).String() != "unknown" {
		t.Fatal("kind names")
	}
}

func TestWordsAndSubjectOfASteps(t *testing.T) {
	network := Event{Kind: Info, Step: progress.Step{Kind: progress.Created, Object: progress.Network, Name: "shop_default"}}
	if network.Words() != "created" || network.Subject() != "network shop_default" {
		t.Errorf("network: %q %q", network.Subject(), network.Words())
	}
	built := Event{Kind: Built, Service: "orders", Step: progress.Step{Kind: progress.Built, Name: "orders", Duration: 1200 * time.Millisecond}}
	if built.Words() != "built in 1.2s" || built.Subject() != "orders" {
		t.Errorf("built: %q %q", built.Subject(), built.Words())
	}
	// Without a step, the session's own detail and service.
	restarted := Event{Kind: Restarted, Service: "orders", Detail: "restarted on request"}
	if restarted.Words() != "restarted on request" || restarted.Subject() != "orders" {
		t.Errorf("restarted: %q %q", restarted.Subject(), restarted.Words())
	}
}
