package cmd

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/msx-dev/msx/eventlog"
)

func TestPrintEvent(t *testing.T) {
	e := eventlog.Entry{Seq: 3, Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Subject: "orders.item.created",
		ID: "abc", Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":1}`)}
	var b bytes.Buffer
	if err := printEvent(&b, e, false); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "2026-01-02T03:04:05.006Z\torders.item.created\tabc\t{\"item_id\":1}\n"; got != want {
		t.Errorf("plain = %q, want %q", got, want)
	}
	b.Reset()
	if err := printEvent(&b, e, true); err != nil {
		t.Fatal(err)
	}
	var back eventlog.Entry
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.ID != "abc" || back.Seq != 3 || back.Source != "orders" {
		t.Errorf("json = %s (%v)", b.String(), err)
	}
}
