package eventlog

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCheckSubject(t *testing.T) {
	for _, ok := range []string{"orders.item.created", "orders.>", "*.item.deleted", ">", "orders.*.created"} {
		if err := CheckSubject(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "orders..created", "orders.>.created", "ord*rs.item", "orders item", ".orders", "orders."} {
		if err := CheckSubject(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A program publishes what it likes: its subject, ID and payload are
// printed escaped, and --json stays the same JSON value.
func TestEntryHostile(t *testing.T) {
	e := Entry{Seq: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Subject: "orders.item.created",
		ID: "id\x1b[2J", Type: "item.created", Source: "orders", Data: json.RawMessage("{\"name\":\"\\u001b]0;t\\u0007\u009b\u202e\"}")}
	if got, want := e.Text(), "2026-01-02T03:04:05.006Z\torders.item.created\tid\\x1b[2J\t{\"name\":\"\\u001b]0;t\\u0007\\u009b\\u202e\"}"; got != want {
		t.Errorf("Text = %q\nwant %q", got, want)
	}
	js, err := e.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(js), "\x1b\x07\u009b\u202e") {
		t.Errorf("JSON prints a control raw: %q", js)
	}
	var back Entry
	if err := json.Unmarshal(js, &back); err != nil || back.ID != e.ID {
		t.Fatalf("JSON %s: %v", js, err)
	}
	var a, b any
	_ = json.Unmarshal(back.Data, &a)
	_ = json.Unmarshal(e.Data, &b)
	if a.(map[string]any)["name"] != b.(map[string]any)["name"] {
		t.Errorf("data changed: %s", back.Data)
	}
}
