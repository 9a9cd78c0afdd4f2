package events

import (
	"testing"
	"time"
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
