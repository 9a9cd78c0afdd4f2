package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestToEntry(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	// The payload claims another source and type: the subject's are shown.
	e := toEntry(&jetstream.RawStreamMsg{Subject: "events.orders.item.created", Sequence: 7, Time: at,
		Data: []byte(`{"id":"e1","type":"item.deleted","source":"mallory","time":"2026-01-02T02:04:05Z","data":{"item_id":1}}`)})
	if e.Seq != 7 || !e.Time.Equal(time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)) || e.Time.Location() != time.UTC ||
		e.Subject != "orders.item.created" || e.ID != "e1" || e.Type != "item.created" || e.Source != "orders" || string(e.Data) != `{"item_id":1}` {
		t.Errorf("entry = %+v (data %s)", e, e.Data)
	}
	// A message that is not an event is shown as it is, as a JSON string.
	e = toEntry(&jetstream.RawStreamMsg{Subject: "events.x.y", Data: []byte("not json")})
	var s string
	if err := json.Unmarshal(e.Data, &s); err != nil || s != "not json" || e.ID != "" {
		t.Errorf("entry of a non-event = %+v (%v)", e, err)
	}
}
