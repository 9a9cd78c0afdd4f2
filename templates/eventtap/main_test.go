package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

type fakeMsg struct {
	jetstream.Msg
	subject string
	data    []byte
}

func (m fakeMsg) Subject() string { return m.subject }
func (m fakeMsg) Data() []byte    { return m.data }
func (m fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: 7}, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}, nil
}

func TestToEntry(t *testing.T) {
	e := toEntry(fakeMsg{subject: "events.orders.item.created",
		data: []byte(`{"id":"e1","type":"item.created","source":"orders","time":"2026-01-02T02:04:05Z","data":{"item_id":1}}`)})
	if e.Seq != 7 || !e.Time.Equal(time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)) || e.Time.Location() != time.UTC ||
		e.Subject != "orders.item.created" || e.ID != "e1" || e.Type != "item.created" || e.Source != "orders" || string(e.Data) != `{"item_id":1}` {
		t.Errorf("entry = %+v (data %s)", e, e.Data)
	}
	// A message that is not an event is shown as it is, as a JSON string.
	e = toEntry(fakeMsg{subject: "events.x.y", data: []byte("not json")})
	var s string
	if err := json.Unmarshal(e.Data, &s); err != nil || s != "not json" || e.ID != "" {
		t.Errorf("entry of a non-event = %+v (%v)", e, err)
	}
}
