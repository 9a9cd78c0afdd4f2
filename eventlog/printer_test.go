package eventlog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The plain lines come under a header naming their columns; JSON lines
// have none, and read back as the entry.
func TestPrinter(t *testing.T) {
	e := Entry{Seq: 3, Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Subject: "orders.item.created",
		ID: "abc", Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":1}`)}
	var b bytes.Buffer
	p := &Printer{W: &b}
	for i := 0; i < 2; i++ {
		if err := p.Print(e); err != nil {
			t.Fatal(err)
		}
	}
	line := "2026-01-02T03:04:05.006Z\torders.item.created\tabc\t{\"item_id\":1}\n"
	if got, want := b.String(), Header+"\n"+line+line; got != want {
		t.Errorf("plain = %q, want %q", got, want)
	}
	b.Reset()
	p = &Printer{W: &b, JSON: true}
	if err := p.Print(e); err != nil || strings.Contains(b.String(), "SUBJECT") {
		t.Fatalf("json output %q (%v)", b.String(), err)
	}
	var back Entry
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.ID != "abc" || back.Seq != 3 || back.Source != "orders" {
		t.Errorf("json = %s (%v)", b.String(), err)
	}
}
