package messaging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite"
)

// schema is the SQLite schema of services/*/migrations/002_events.sql.
const schema = `
CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL,
    payload BLOB NOT NULL, headers TEXT NOT NULL, created_at TIMESTAMP NOT NULL, sent_at TIMESTAMP);
CREATE TABLE inbox (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL,
    item_id INTEGER NOT NULL, handled_at TIMESTAMP NOT NULL);
CREATE TABLE effects (n INTEGER);`

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	return db
}

// fakeBroker acknowledges a message unless fail says otherwise.
type fakeBroker struct {
	got  []string // ids published, in order
	msgs []*nats.Msg
	fail func(i int, id string) error
}

func (f *fakeBroker) PublishBatch(_ context.Context, msgs []*nats.Msg, ids []string) []error {
	errs := make([]error, len(msgs))
	for i := range msgs {
		f.got = append(f.got, ids[i])
		f.msgs = append(f.msgs, msgs[i])
		if f.fail != nil {
			errs[i] = f.fail(i, ids[i])
		}
	}
	return errs
}

func addEvents(t *testing.T, db *sql.DB, o *Outbox, ctx context.Context, n int, commit bool) {
	t.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for i := range n {
		if err := o.Add(ctx, SQLExec(tx), ItemCreated, ItemEvent{ItemID: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if commit {
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func unsent(t *testing.T, o *Outbox) int {
	t.Helper()
	n, err := o.Unsent(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNaming(t *testing.T) {
	if got := Subject("orders", ItemCreated); got != "events.orders.item.created" {
		t.Errorf("Subject = %q", got)
	}
	if got := Topic("events.orders.item.deleted"); got != "orders.item.deleted" {
		t.Errorf("Topic = %q", got)
	}
	if got := ConsumerName("payments"); got != "payments" {
		t.Errorf("ConsumerName = %q", got)
	}
	if got := SQLite.q("UPDATE t SET a = $1 WHERE b IN ($2, $10)"); got != "UPDATE t SET a = ?1 WHERE b IN (?2, ?10)" {
		t.Errorf("SQLite placeholders: %q", got)
	}
	if got := Postgres.q("SELECT $1"); got != "SELECT $1" {
		t.Errorf("Postgres placeholders: %q", got)
	}
}

func TestOutboxOnlyWhatCommits(t *testing.T) {
	db := openDB(t)
	o := NewOutbox(db, SQLite, "orders")
	ctx := context.Background()
	addEvents(t, db, o, ctx, 2, false) // rolled back
	if n := unsent(t, o); n != 0 {
		t.Fatalf("a rolled-back transaction left %d events", n)
	}
	addEvents(t, db, o, ctx, 3, true)
	if n := unsent(t, o); n != 3 {
		t.Fatalf("unsent = %d, want 3", n)
	}
	var nilOutbox *Outbox
	if err := nilOutbox.Add(ctx, nil, ItemCreated, ItemEvent{}); err != nil {
		t.Fatalf("a nil outbox adds nothing, got %v", err)
	}
	nilOutbox.Notify()
}

func TestRelayMarksSentOnlyOnAck(t *testing.T) {
	db := openDB(t)
	o := NewOutbox(db, SQLite, "orders")
	ctx := context.Background()
	addEvents(t, db, o, ctx, 5, true)

	// The broker is down: nothing is marked sent, the relay reports it.
	down := &fakeBroker{fail: func(int, string) error { return errors.New("no responders") }}
	n, err := o.RelayOnce(ctx, down, 100)
	if err == nil || n != 0 || unsent(t, o) != 5 {
		t.Fatalf("broker down: n=%d err=%v unsent=%d", n, err, unsent(t, o))
	}

	// The third is not acknowledged: the first two are marked, and the
	// rest wait so that events leave in order.
	partial := &fakeBroker{fail: func(i int, _ string) error {
		if i == 2 {
			return errors.New("timeout")
		}
		return nil
	}}
	n, err = o.RelayOnce(ctx, partial, 100)
	if err == nil || n != 2 || unsent(t, o) != 3 {
		t.Fatalf("partial ack: n=%d err=%v unsent=%d", n, err, unsent(t, o))
	}

	up := &fakeBroker{}
	n, err = o.RelayOnce(ctx, up, 100)
	if err != nil || n != 3 || unsent(t, o) != 0 {
		t.Fatalf("broker back: n=%d err=%v unsent=%d", n, err, unsent(t, o))
	}
	// Every event was published with its own id; the ones sent before
	// are not published again.
	if !slices.Equal(up.got, down.got[2:]) {
		t.Errorf("after recovery published %v, want the last three of %v", up.got, down.got)
	}
	for _, m := range up.msgs {
		var ev Event
		if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Source != "orders" || ev.Type != ItemCreated || m.Subject != "events.orders.item.created" {
			t.Errorf("message %s: %s (%v)", m.Subject, m.Data, err)
		}
	}
	n, err = o.RelayOnce(ctx, up, 100)
	if err != nil || n != 0 {
		t.Fatalf("nothing left: n=%d err=%v", n, err)
	}
}

func TestRelayCarriesTraceContext(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })

	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	db := openDB(t)
	o := NewOutbox(db, SQLite, "orders")
	addEvents(t, db, o, ctx, 1, true)
	b := &fakeBroker{}
	if _, err := o.RelayOnce(context.Background(), b, 10); err != nil {
		t.Fatal(err)
	}
	if got := b.msgs[0].Header.Get("traceparent"); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("traceparent = %q", got)
	}
}

func TestInboxAppliesOnce(t *testing.T) {
	db := openDB(t)
	in := NewInbox(db, SQLite)
	ctx := context.Background()
	ev := Event{ID: NewID(), Type: ItemCreated, Source: "orders", Data: json.RawMessage(`{"item_id":7}`)}
	effect := func(ctx context.Context, exec Exec, ev Event) error {
		_, err := exec(ctx, `INSERT INTO effects (n) VALUES (1)`)
		return err
	}
	for i, want := range []bool{true, false, false} {
		applied, err := in.Handle(ctx, ev, effect)
		if err != nil || applied != want {
			t.Fatalf("delivery %d: applied=%v err=%v, want %v", i+1, applied, err, want)
		}
	}
	var effects int
	if err := db.QueryRow(`SELECT COUNT(*) FROM effects`).Scan(&effects); err != nil || effects != 1 {
		t.Fatalf("effects = %d (%v), want 1", effects, err)
	}
	list, err := in.List(ctx)
	if err != nil || len(list) != 1 || list[0] != (Handled{EventID: ev.ID, Type: ItemCreated, Source: "orders", ItemID: 7}) {
		t.Fatalf("inbox = %+v (%v)", list, err)
	}
}

func TestInboxFailedEffectIsNotRecorded(t *testing.T) {
	db := openDB(t)
	in := NewInbox(db, SQLite)
	ctx := context.Background()
	ev := Event{ID: NewID(), Type: ItemDeleted, Source: "orders", Data: json.RawMessage(`{"item_id":1}`)}
	boom := errors.New("boom")
	if _, err := in.Handle(ctx, ev, func(ctx context.Context, exec Exec, _ Event) error {
		if _, err := exec(ctx, `INSERT INTO effects (n) VALUES (1)`); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the effect's", err)
	}
	// Neither the id nor the effect: the redelivery applies it.
	applied, err := in.Handle(ctx, ev, nil)
	if err != nil || !applied {
		t.Fatalf("redelivery after a failure: applied=%v err=%v", applied, err)
	}
	var effects int
	_ = db.QueryRow(`SELECT COUNT(*) FROM effects`).Scan(&effects)
	if effects != 0 {
		t.Fatalf("the failed effect was kept: %d rows", effects)
	}
}
