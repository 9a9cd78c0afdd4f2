package messaging

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite"

	"example.com/shop/platform/service"
)

// The schemas of services/*/migrations/002_events.sql, and a table for
// the tests' effects.
const (
	sqliteSchema = `
CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, subject TEXT NOT NULL,
    payload BLOB NOT NULL, headers TEXT NOT NULL, created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, ordering_key TEXT, key_seq INTEGER, key_prev TEXT);
CREATE TABLE outbox_keys (ordering_key TEXT PRIMARY KEY, seq INTEGER NOT NULL, types TEXT NOT NULL,
    prev TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE outbox_dead (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, subject TEXT NOT NULL,
    payload BLOB NOT NULL, headers TEXT NOT NULL, created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL, error TEXT NOT NULL, failed_at TIMESTAMP NOT NULL,
    ordering_key TEXT, key_seq INTEGER, key_prev TEXT);
CREATE TABLE inbox (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL,
    handled_at TIMESTAMP NOT NULL) WITHOUT ROWID;
CREATE INDEX inbox_handled_at ON inbox (handled_at);
CREATE TABLE inbox_keys (source TEXT NOT NULL, ordering_key TEXT NOT NULL, seq INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL, PRIMARY KEY (source, ordering_key)) WITHOUT ROWID;
CREATE INDEX inbox_keys_updated_at ON inbox_keys (updated_at);
CREATE TABLE effects (n INTEGER);`
	postgresSchema = `
CREATE TABLE outbox (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL,
    subject TEXT NOT NULL, payload BYTEA NOT NULL, headers TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    ordering_key TEXT, key_seq BIGINT, key_prev TEXT);
CREATE TABLE outbox_keys (ordering_key TEXT PRIMARY KEY, seq BIGINT NOT NULL, types TEXT NOT NULL,
    prev TEXT NOT NULL);
CREATE TABLE outbox_dead (seq BIGINT PRIMARY KEY, id TEXT NOT NULL, subject TEXT NOT NULL,
    payload BYTEA NOT NULL, headers TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL, error TEXT NOT NULL, failed_at TIMESTAMPTZ NOT NULL,
    ordering_key TEXT, key_seq BIGINT, key_prev TEXT);
CREATE TABLE inbox (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, source TEXT NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL);
CREATE INDEX inbox_handled_at ON inbox (handled_at);
CREATE TABLE inbox_keys (source TEXT NOT NULL, ordering_key TEXT NOT NULL, seq BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (source, ordering_key));
CREATE INDEX inbox_keys_updated_at ON inbox_keys (updated_at);
CREATE TABLE effects (n INTEGER);`
)

// PostgresURLEnv names a Postgres database the tests may create schemas
// in (postgres://user:password@127.0.0.1:5432/db?sslmode=disable): with
// it, every store test runs against Postgres as well as SQLite.
const PostgresURLEnv = "MESSAGING_TEST_POSTGRES_URL"

// stores runs f against a fresh SQLite database and, when PostgresURLEnv
// is set, a fresh schema of that Postgres database.
func stores(t *testing.T, f func(t *testing.T, db *sql.DB, d Dialect)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec(sqliteSchema); err != nil {
			t.Fatal(err)
		}
		f(t, db, SQLite)
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, postgresDB(t), Postgres)
	})
}

// postgresDB returns a connection to a new schema of the database at
// PostgresURLEnv, dropped at the end of the test; it skips the test
// without one.
func postgresDB(t *testing.T) *sql.DB {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skip(PostgresURLEnv + " is not set: no Postgres to test against")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "messaging_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("%s: %v", PostgresURLEnv, err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema) // every connection of the pool, not one
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(postgresSchema); err != nil {
		t.Fatal(err)
	}
	return db
}

// itemCreated is a publisher's event type, as its API package declares one.
type itemCreated struct {
	ItemID int64  `json:"item_id"`
	Name   string `json:"name,omitempty"`
}

func (itemCreated) EventType() string { return "item.created" }

// fakeBroker acknowledges a message unless fail says otherwise.
type fakeBroker struct {
	mu   sync.Mutex
	got  []string // ids published, in order
	msgs []*nats.Msg
	fail func(i int, id string) error
}

func (f *fakeBroker) PublishBatch(_ context.Context, msgs []*nats.Msg, ids []string) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
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
		if err := o.Add(ctx, SQLExec(tx), itemCreated{ItemID: int64(i + 1)}); err != nil {
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

func deadLetters(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM outbox_dead`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func effects(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM effects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func addEffect(ctx context.Context, exec Exec, _ Event) error {
	_, err := exec(ctx, `INSERT INTO effects (n) VALUES (1)`)
	return err
}

func TestNaming(t *testing.T) {
	if got := Subject("orders", "item.created"); got != "events.orders.item.created" {
		t.Errorf("Subject = %q", got)
	}
	if got := Topic("events.orders.item.deleted"); got != "orders.item.deleted" {
		t.Errorf("Topic = %q", got)
	}
	if got := ConsumerName("payments", "orders.item.created"); got != "payments_orders_item_created" {
		t.Errorf("ConsumerName = %q", got)
	}
	if got := InboxPrefix("payments"); got != "_INBOX_payments" {
		t.Errorf("InboxPrefix = %q", got)
	}
	if got := SQLite.q("UPDATE t SET a = $1 WHERE b IN ($2, $10)"); got != "UPDATE t SET a = ?1 WHERE b IN (?2, ?10)" {
		t.Errorf("SQLite placeholders: %q", got)
	}
	if got := Postgres.q("SELECT $1"); got != "SELECT $1" {
		t.Errorf("Postgres placeholders: %q", got)
	}
}

func TestOutboxOnlyWhatCommits(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		o := NewOutbox(db, d, "orders")
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
		if err := nilOutbox.Add(ctx, nil, itemCreated{}); err != nil {
			t.Fatalf("a nil outbox adds nothing, got %v", err)
		}
		nilOutbox.Notify()
	})
}

func TestRelayRemovesOnlyWhatWasAcked(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		o := NewOutbox(db, d, "orders")
		ctx := context.Background()
		addEvents(t, db, o, ctx, 5, true)

		// The broker is down: nothing is removed, the relay reports it.
		down := &fakeBroker{fail: func(int, string) error { return errors.New("no responders") }}
		for range 20 { // however long it lasts, an outage sets nothing aside
			n, err := o.RelayOnce(ctx, down, RelayOptions{Batch: 100})
			if err == nil || n != 0 || unsent(t, o) != 5 {
				t.Fatalf("broker down: n=%d err=%v unsent=%d", n, err, unsent(t, o))
			}
		}
		if n := deadLetters(t, db); n != 0 {
			t.Fatalf("an outage set %d events aside", n)
		}

		// The last three are not acknowledged: the first two are removed,
		// the rest wait.
		partial := &fakeBroker{fail: func(i int, _ string) error {
			if i >= 2 {
				return errors.New("timeout")
			}
			return nil
		}}
		n, err := o.RelayOnce(ctx, partial, RelayOptions{Batch: 100})
		if err == nil || n != 2 || unsent(t, o) != 3 {
			t.Fatalf("partial ack: n=%d err=%v unsent=%d", n, err, unsent(t, o))
		}

		// A batch smaller than the backlog: the oldest leave first.
		up := &fakeBroker{}
		n, err = o.RelayOnce(ctx, up, RelayOptions{Batch: 2})
		if err != nil || n != 2 || unsent(t, o) != 1 {
			t.Fatalf("broker back, a batch of 2: n=%d err=%v unsent=%d", n, err, unsent(t, o))
		}
		n, err = o.RelayOnce(ctx, up, RelayOptions{Batch: 100})
		if err != nil || n != 1 || unsent(t, o) != 0 {
			t.Fatalf("broker back, the rest: n=%d err=%v unsent=%d", n, err, unsent(t, o))
		}
		// Every event was published with its own id, in order; the ones
		// sent before are not published again.
		if !slices.Equal(up.got, down.got[2:5]) {
			t.Errorf("after recovery published %v, want the last three of %v", up.got, down.got[:5])
		}
		for _, m := range up.msgs {
			var ev Event
			if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Source != "orders" || ev.Type != "item.created" || m.Subject != "events.orders.item.created" {
				t.Errorf("message %s: %s (%v)", m.Subject, m.Data, err)
			}
		}
		n, err = o.RelayOnce(ctx, up, RelayOptions{Batch: 100})
		if err != nil || n != 0 {
			t.Fatalf("nothing left: n=%d err=%v", n, err)
		}
	})
}

func TestRelayCarriesTraceContext(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })

	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		o := NewOutbox(db, d, "orders")
		addEvents(t, db, o, ctx, 1, true)
		b := &fakeBroker{}
		if _, err := o.RelayOnce(context.Background(), b, RelayOptions{Batch: 10}); err != nil {
			t.Fatal(err)
		}
		if got := b.msgs[0].Header.Get("traceparent"); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
			t.Errorf("traceparent = %q", got)
		}
	})
}

// TestRelaySetsAsideWhatTheBrokerRefuses: an event the broker refuses
// while it takes the others does not hold them up; after MaxAttempts it
// is moved to outbox_dead with the error.
func TestRelaySetsAsideWhatTheBrokerRefuses(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		o := NewOutbox(db, d, "orders")
		ctx := context.Background()
		addEvents(t, db, o, ctx, 3, true)
		var poison string
		b := &fakeBroker{fail: func(_ int, id string) error {
			if poison == "" {
				poison = id // the oldest
			}
			if id == poison {
				return errors.New("maximum payload exceeded")
			}
			return nil
		}}
		opts := RelayOptions{Batch: 100, MaxAttempts: 3, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if n, err := o.RelayOnce(ctx, b, opts); n != 2 || err == nil {
			t.Fatalf("first round: n=%d err=%v, want the two others sent and an error", n, err)
		}
		for range 2 {
			addEvents(t, db, o, ctx, 1, true)
			if n, _ := o.RelayOnce(ctx, b, opts); n != 1 {
				t.Fatalf("an event behind the refused one: n=%d, want it sent", n)
			}
		}
		if unsent(t, o) != 0 || deadLetters(t, db) != 1 {
			t.Fatalf("unsent %d, dead %d; want 0 and the refused event set aside", unsent(t, o), deadLetters(t, db))
		}
		var id, cause string
		var attempts int
		if err := db.QueryRow(`SELECT id, attempts, error FROM outbox_dead`).Scan(&id, &attempts, &cause); err != nil ||
			id != poison || attempts != 3 || !strings.Contains(cause, "maximum payload") {
			t.Fatalf("outbox_dead holds %s after %d attempts (%q, %v), want %s after 3", id, attempts, cause, err, poison)
		}
	})
}

// blockingBroker holds every batch until release is closed, or ctx ends.
type blockingBroker struct {
	fakeBroker
	entered chan struct{}
	release chan struct{}
}

func (b *blockingBroker) PublishBatch(ctx context.Context, msgs []*nats.Msg, ids []string) []error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
		return b.fakeBroker.PublishBatch(ctx, msgs, ids)
	case <-ctx.Done():
		errs := make([]error, len(msgs))
		for i := range errs {
			errs[i] = ctx.Err()
		}
		return errs
	}
}

// TestRelayAckTimeout: a broker that never acknowledges holds a round for
// AckTimeout, not forever, and the events stay to be sent again.
func TestRelayAckTimeout(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		o := NewOutbox(db, d, "orders")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		addEvents(t, db, o, ctx, 2, true)
		b := &blockingBroker{entered: make(chan struct{}, 1), release: make(chan struct{})}
		start := time.Now()
		n, err := o.RelayOnce(ctx, b, RelayOptions{AckTimeout: 200 * time.Millisecond})
		if took := time.Since(start); n != 0 || err == nil || took > 5*time.Second {
			t.Fatalf("n=%d err=%v after %s; want an error after the 200ms ack timeout", n, err, took)
		}
		if unsent(t, o) != 2 {
			t.Fatalf("unsent = %d, want 2", unsent(t, o))
		}
	})
}

// TestRelayClaims: of two relays on one database (two replicas, each with
// its own connections), one at a time publishes: the other, finding the
// outbox claimed, publishes nothing, so no event leaves twice.
func TestRelayClaims(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a := NewOutbox(db, d, "orders")
		// SQLite: one process per file, so two relays of one outbox.
		b := a
		if d == Postgres {
			b = NewOutbox(reopen(t, db), d, "orders")
		}
		addEvents(t, db, a, ctx, 20, true)
		slow := &blockingBroker{entered: make(chan struct{}, 1), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := a.RelayOnce(ctx, slow, RelayOptions{Batch: 100, AckTimeout: 15 * time.Second})
			done <- err
		}()
		<-slow.entered // a is publishing, its acks not in yet
		fast := &fakeBroker{}
		second := make(chan error, 1)
		go func() {
			_, err := b.RelayOnce(ctx, fast, RelayOptions{Batch: 100})
			second <- err
		}()
		returned := false
		select {
		case err := <-second:
			returned = true
			if d == Postgres && !errors.Is(err, errBusy) {
				t.Errorf("second relay: %v, want errBusy", err)
			}
		case <-time.After(300 * time.Millisecond): // SQLite: waiting for the claim
		}
		close(slow.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !returned {
			select {
			case <-second:
			case <-ctx.Done():
				t.Fatal("the second relay never returned")
			}
		}
		if len(fast.got) != 0 || len(slow.got) != 20 {
			t.Fatalf("published %d by the claimant and %d by the other, want 20 and 0", len(slow.got), len(fast.got))
		}
	})
}

// reopen returns a second pool on db's database and schema: another
// replica's connections.
func reopen(t *testing.T, db *sql.DB) *sql.DB {
	t.Helper()
	var schema string
	if err := db.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv(PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	other, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// TestRelayDrainsAtStop: once its context ends, Relay sends what the last
// requests added before it returns.
func TestRelayDrainsAtStop(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		o := NewOutbox(db, d, "orders")
		ctx, cancel := context.WithCancel(context.Background())
		b := &fakeBroker{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			o.Relay(ctx, b, RelayOptions{Poll: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		}()
		addEvents(t, db, o, context.Background(), 7, true) // no Notify: only the drain sends them
		cancel()
		<-done
		if unsent(t, o) != 0 || len(b.got) != 7 {
			t.Fatalf("after the relay stopped: %d unsent, %d sent; want 0 and 7", unsent(t, o), len(b.got))
		}
	})
}

// TestInboxPrune: the inbox forgets what it handled longer ago than its
// retention, and keeps the rest.
func TestInboxPrune(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		in := NewInbox(db, d)
		ctx := context.Background()
		clock := time.Now()
		in.now = func() time.Time { return clock }
		old := Event{ID: NewID(), Type: "item.created", Source: "orders"}
		if _, err := in.Handle(ctx, old, nil); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(48 * time.Hour)
		recent := Event{ID: NewID(), Type: "item.created", Source: "orders"}
		if _, err := in.Handle(ctx, recent, nil); err != nil {
			t.Fatal(err)
		}
		n, err := in.Prune(ctx, 24*time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("pruned %d (%v), want 1", n, err)
		}
		if list, _ := in.List(ctx, "", 1000); len(list) != 1 || list[0].EventID != recent.ID {
			t.Fatalf("inbox = %+v, want only the recent event", list)
		}
	})
}

func TestRetentionFromEnv(t *testing.T) {
	r, err := RetentionFromEnv()
	if err != nil || r.StreamMaxAge != 7*24*time.Hour || r.StreamMaxBytes != 1<<30 || r.InboxMaxAge != r.StreamMaxAge {
		t.Fatalf("defaults: %+v, %v", r, err)
	}
	t.Setenv("EVENTS_STREAM_MAX_AGE", "1h")
	t.Setenv("EVENTS_STREAM_MAX_MB", "10")
	t.Setenv("EVENTS_INBOX_MAX_AGE", "2h")
	if r, err = RetentionFromEnv(); err != nil || r != (Retention{StreamMaxAge: time.Hour, StreamMaxBytes: 10 << 20, InboxMaxAge: 2 * time.Hour}) {
		t.Fatalf("set: %+v, %v", r, err)
	}
	t.Setenv("EVENTS_INBOX_MAX_AGE", "30m")
	if _, err := RetentionFromEnv(); err == nil || !strings.Contains(err.Error(), "applied twice") {
		t.Fatalf("an inbox that forgets before the stream does: %v", err)
	}
}

// TestStartWithoutBroker: a service with a database but no broker
// configured still writes its events, says once that they wait, and
// loses none.
func TestStartWithoutBroker(t *testing.T) {
	t.Setenv("NATS_URL", "")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(sqliteSchema); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	s := &service.Service{Name: "orders", Log: slog.New(slog.NewTextHandler(&logs, nil)), Mux: http.NewServeMux()}
	o, err := Start(context.Background(), s, db, SQLite, nil)
	if err != nil || o == nil {
		t.Fatalf("Start without a broker: outbox %v, %v; want one", o, err)
	}
	addEvents(t, db, o, context.Background(), 2, true)
	if n := unsent(t, o); n != 2 {
		t.Fatalf("unsent = %d, want the 2 events kept", n)
	}
	if strings.Count(logs.String(), "no broker configured") != 1 {
		t.Fatalf("log: %q, want it said once", logs.String())
	}
}

func TestInboxAppliesOnce(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		in := NewInbox(db, d)
		ctx := context.Background()
		ev := Event{ID: NewID(), Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":7}`)}
		for i, want := range []bool{true, false, false} {
			applied, err := in.Handle(ctx, ev, addEffect)
			if err != nil || applied != want {
				t.Fatalf("delivery %d: applied=%v err=%v, want %v", i+1, applied, err, want)
			}
		}
		if n := effects(t, db); n != 1 {
			t.Fatalf("effects = %d, want 1", n)
		}
		list, err := in.List(ctx, "", 1000)
		if err != nil || len(list) != 1 || list[0] != (Handled{EventID: ev.ID, Type: "item.created", Source: "orders"}) {
			t.Fatalf("inbox = %+v (%v)", list, err)
		}
	})
}

func TestInboxPages(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		in := NewInbox(db, d)
		// One instant for all: the event id orders them then.
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		in.now = func() time.Time { return at }
		ctx := context.Background()
		want := map[string]bool{}
		for range 5 {
			ev := Event{ID: NewID(), Type: "item.created", Source: "orders", Data: json.RawMessage(`{}`)}
			if _, err := in.Handle(ctx, ev, nil); err != nil {
				t.Fatal(err)
			}
			want[ev.ID] = true
		}
		after, pages := "", 0
		for ; pages < 5; pages++ {
			rec := httptest.NewRecorder()
			in.ServeHTTP(rec, httptest.NewRequest("GET", "/inbox?limit=2&after="+after, nil))
			var page []Handled
			if err := json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != 200 || err != nil {
				t.Fatalf("page %d: %d %s", pages, rec.Code, rec.Body)
			}
			if len(page) == 0 {
				break
			}
			for _, h := range page {
				if !want[h.EventID] {
					t.Fatalf("page %d: %s twice or unknown", pages, h.EventID)
				}
				delete(want, h.EventID)
			}
			after = page[len(page)-1].EventID
		}
		if len(want) != 0 || pages != 3 {
			t.Errorf("%d pages, %d events never listed", pages, len(want))
		}
		for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
			rec := httptest.NewRecorder()
			in.ServeHTTP(rec, httptest.NewRequest("GET", "/inbox?"+q, nil))
			if rec.Code != 400 {
				t.Errorf("%s: %d, want 400", q, rec.Code)
			}
		}
	})
}

func TestInboxFailedEffectIsNotRecorded(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		in := NewInbox(db, d)
		ctx := context.Background()
		ev := Event{ID: NewID(), Type: "item.deleted", Source: "orders", Data: json.RawMessage(`{"item_id":1}`)}
		boom := errors.New("boom")
		if _, err := in.Handle(ctx, ev, func(ctx context.Context, exec Exec, ev Event) error {
			if err := addEffect(ctx, exec, ev); err != nil {
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
		if n := effects(t, db); n != 0 {
			t.Fatalf("the failed effect was kept: %d rows", n)
		}
	})
}

func TestInboxBatch(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		in := NewInbox(db, d)
		ctx := context.Background()
		ev := func() Event {
			return Event{ID: NewID(), Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":1}`)}
		}
		a, b, c := ev(), ev(), ev()
		if _, err := in.Handle(ctx, a, addEffect); err != nil {
			t.Fatal(err)
		}
		// a was handled before; b comes twice in the batch (a redelivery
		// fetched with the original): each is applied once, in one commit.
		applied, err := in.HandleBatch(ctx, []Event{a, b, c, b}, addEffect)
		if err != nil || !slices.Equal(applied, []bool{false, true, true, false}) {
			t.Fatalf("applied = %v, %v; want [false true true false]", applied, err)
		}
		if n := effects(t, db); n != 3 {
			t.Fatalf("effects = %d, want 3", n)
		}
		// One failing effect rolls back the whole batch: nothing recorded.
		e, f := ev(), ev()
		boom := errors.New("boom")
		_, err = in.HandleBatch(ctx, []Event{e, f}, func(ctx context.Context, exec Exec, ev Event) error {
			if err := addEffect(ctx, exec, ev); err != nil {
				return err
			}
			if ev.ID == f.ID {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || effects(t, db) != 3 {
			t.Fatalf("err = %v, effects = %d; want the effect's error and 3", err, effects(t, db))
		}
		if list, _ := in.List(ctx, "", 1000); len(list) != 3 {
			t.Fatalf("inbox has %d events after a failed batch, want 3", len(list))
		}
	})
}

func TestHandlers(t *testing.T) {
	var got []itemCreated
	h := Handlers{
		"orders.item.created": On(func(_ context.Context, _ Exec, _ Event, data itemCreated) error {
			got = append(got, data)
			return nil
		}),
		"catalog.item.created": On(func(context.Context, Exec, Event, itemCreated) error { return nil }),
	}
	if topics := h.Topics(); !slices.Equal(topics, []string{"catalog.item.created", "orders.item.created"}) {
		t.Errorf("Topics = %v", topics)
	}
	ctx := context.Background()
	ev := Event{ID: "1", Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":7,"name":"a"}`)}
	if err := h.Effect(ctx, nil, ev); err != nil || len(got) != 1 || got[0] != (itemCreated{ItemID: 7, Name: "a"}) {
		t.Errorf("typed handler got %+v, %v", got, err)
	}
	if err := h.Effect(ctx, nil, Event{ID: "2", Type: "item.deleted", Source: "orders"}); err != nil || len(got) != 1 {
		t.Errorf("an event of no topic: %v, handler called %d times", err, len(got))
	}
	bad := Event{ID: "3", Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":"x"}`)}
	if err := h.Effect(ctx, nil, bad); err == nil {
		t.Error("data that do not decode into the publisher's type: no error")
	}
}

// fakeMsg is a delivered message that records how it was settled.
type fakeMsg struct {
	jetstream.Msg
	data      []byte
	headers   nats.Header
	delivered uint64
	settled   string
	subject   string
}

func (m *fakeMsg) Data() []byte         { return m.data }
func (m *fakeMsg) Headers() nats.Header { return m.headers }
func (m *fakeMsg) Subject() string {
	if m.subject != "" {
		return m.subject
	}
	return "events.orders.item.created"
}
func (m *fakeMsg) Ack() error        { m.settled = "ack"; return nil }
func (m *fakeMsg) Nak() error        { m.settled = "nak"; return nil }
func (m *fakeMsg) InProgress() error { return nil }
func (m *fakeMsg) NakWithDelay(time.Duration) error {
	m.settled = "nak"
	return nil
}

// handleMsgs hands msgs to h as they arrive in one batch, and returns
// those that wait for an earlier event of their key.
func (h *consumer) handleMsgs(ctx context.Context, msgs ...jetstream.Msg) []*inflight {
	var batch []*inflight
	for _, m := range msgs {
		batch = h.arrived(ctx, batch, m)
	}
	return h.handle(ctx, batch)
}
func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: m.delivered}, nil
}

// TestConsumerBatch: a fetched batch is handled in one transaction and
// acknowledged after it; when one effect fails, the others are still
// applied once and acknowledged, and only that one is retried.
func TestConsumerBatch(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		msg := func(ev Event) *fakeMsg {
			b, _ := json.Marshal(ev)
			return &fakeMsg{data: b, delivered: 1}
		}
		event := func(id int) Event {
			return Event{ID: NewID(), Type: "item.created", Source: "orders", Data: json.RawMessage(fmt.Sprintf(`{"item_id":%d}`, id))}
		}
		var failing string
		h := &consumer{service: "payments", inbox: NewInbox(db, d), tracer: otel.Tracer("test"),
			log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			opts: ConsumeOptions{MaxDeliver: 5, Backoff: []time.Duration{time.Second}},
			effect: func(ctx context.Context, exec Exec, ev Event) error {
				if ev.ID == failing {
					return errors.New("boom")
				}
				return addEffect(ctx, exec, ev)
			}}
		ctx := context.Background()
		first := []*fakeMsg{msg(event(1)), msg(event(2)), {data: []byte("not json"), delivered: 1}}
		h.handleMsgs(ctx, first[0], first[1], first[2])
		if first[0].settled != "ack" || first[1].settled != "ack" || first[2].settled != "nak" || effects(t, db) != 2 {
			t.Fatalf("settled %q %q %q, effects %d; want ack ack nak, 2", first[0].settled, first[1].settled, first[2].settled, effects(t, db))
		}
		ev3, ev4 := event(3), event(4)
		failing = ev4.ID
		again := msg(event(1))
		again.data = first[0].data // a redelivery
		second := []*fakeMsg{msg(ev3), msg(ev4), again}
		h.handleMsgs(ctx, second[0], second[1], second[2])
		if second[0].settled != "ack" || second[1].settled != "nak" || second[2].settled != "ack" || effects(t, db) != 3 {
			t.Fatalf("settled %q %q %q, effects %d; want ack nak ack, 3", second[0].settled, second[1].settled, second[2].settled, effects(t, db))
		}
	})
}

// TestConsumerSourceFromSubject: the handler and the inbox see the source
// and type of the subject, which the broker lets only the source publish
// on, never those a payload claims.
func TestConsumerSourceFromSubject(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		var applied []string
		h := &consumer{service: "payments", inbox: NewInbox(db, d), tracer: otel.Tracer("test"),
			log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			opts: ConsumeOptions{MaxDeliver: 5, Backoff: []time.Duration{time.Second}},
			effect: Handlers{"orders.item.created": func(_ context.Context, _ Exec, ev Event) error {
				applied = append(applied, ev.ID+" "+ev.Source+"."+ev.Type)
				return nil
			}}.Effect}
		forged := func(id, subject string) *fakeMsg {
			// Every payload claims to be orders' item.created.
			b, _ := json.Marshal(Event{ID: id, Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":1}`)})
			return &fakeMsg{data: b, delivered: 1, subject: subject}
		}
		ctx := context.Background()
		msgs := []*fakeMsg{
			forged("from-mallory", "events.mallory.item.created"),
			forged("deleted", "events.orders.item.deleted"),
			forged("real", "events.orders.item.created"),
		}
		h.handleMsgs(ctx, msgs[0], msgs[1], msgs[2])
		if !slices.Equal(applied, []string{"real orders.item.created"}) {
			t.Errorf("applied %q, want only the event on orders' subject", applied)
		}
		list, err := NewInbox(db, d).List(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range list {
			got[e.EventID] = e.Source + "." + e.Type
		}
		if got["from-mallory"] != "mallory.item.created" || got["deleted"] != "orders.item.deleted" {
			t.Errorf("inbox records %v, want the subjects' sources and types", got)
		}
		// A subject that names no source is no event.
		bad := forged("x", "events.orders")
		h.handleMsgs(ctx, bad)
		if bad.settled != "nak" {
			t.Errorf("an event on %s: %q, want nak", bad.subject, bad.settled)
		}
	})
}

// TestConsumerContinuesTrace: the consumer's span is a child of the span
// whose context the publisher put in the message's headers, so one trace
// shows the request and the work it caused.
func TestConsumerContinuesTrace(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		ev, _ := json.Marshal(Event{ID: NewID(), Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":1}`)})
		msg := &fakeMsg{data: ev, delivered: 1,
			headers: nats.Header{"traceparent": []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}}
		h := &consumer{service: "payments", inbox: NewInbox(db, d), tracer: tp.Tracer("test"),
			log: slog.New(slog.NewTextHandler(io.Discard, nil)), effect: addEffect,
			opts: ConsumeOptions{MaxDeliver: 5, Backoff: []time.Duration{time.Second}}}
		h.handleMsgs(context.Background(), msg)
		spans := rec.Ended()
		if msg.settled != "ack" || len(spans) == 0 {
			t.Fatalf("settled %q, %d spans", msg.settled, len(spans))
		}
		s := spans[len(spans)-1]
		if s.Name() != "process orders.item.created" || s.SpanKind() != trace.SpanKindConsumer ||
			s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
			t.Errorf("span %q kind %v trace %s parent %s, want the publisher's trace and span as parent",
				s.Name(), s.SpanKind(), s.SpanContext().TraceID(), s.Parent().SpanID())
		}
	})
}

// NATSURLEnv names a NATS server with JetStream to test against
// (nats://127.0.0.1:4222): with it, TestBroker runs.
const NATSURLEnv = "MESSAGING_TEST_NATS_URL"

// TestBroker runs the whole path on a real broker, for each store: events
// relayed from an outbox and published directly reach a durable consumer
// and are applied once; a relay that publishes them again (it crashed
// before removing them) adds nothing, the broker drops the duplicates.
func TestBroker(t *testing.T) {
	url := os.Getenv(NATSURLEnv)
	if url == "" {
		t.Skip(NATSURLEnv + " is not set: no broker to test against")
	}
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		b, err := Connect(ctx, url, "test", Retention{}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		source, service := "orders"+hex.EncodeToString(suffix), "payments"+hex.EncodeToString(suffix)

		o := NewOutbox(db, d, source)
		addEvents(t, db, o, ctx, 3, true)
		if _, err := db.Exec(`CREATE TABLE relayed AS SELECT * FROM outbox`); err != nil {
			t.Fatal(err)
		}
		if n, err := o.RelayOnce(ctx, b, RelayOptions{Batch: 100}); err != nil || n != 3 || unsent(t, o) != 0 {
			t.Fatalf("relayed %d, %v, %d left; want 3, none left", n, err, unsent(t, o))
		}
		for i := range 2 {
			if _, err := b.Publish(ctx, source, itemCreated{ItemID: int64(10 + i)}); err != nil {
				t.Fatal(err)
			}
		}
		c, err := b.Consume(ctx, service, Handlers{source + ".item.created": addEffect}, NewInbox(db, d), log, ConsumeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		waitEffects := func(want int) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for effects(t, db) < want && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if n := effects(t, db); n != want {
				t.Fatalf("effects = %d, want %d", n, want)
			}
		}
		waitEffects(5)
		// The relay crashed after the broker's ack, before it removed the
		// events: it publishes the same events again.
		if _, err := db.Exec(`INSERT INTO outbox (id, subject, payload, headers, created_at)
			SELECT id, subject, payload, headers, created_at FROM relayed`); err != nil {
			t.Fatal(err)
		}
		if n, err := o.RelayOnce(ctx, b, RelayOptions{Batch: 100}); err != nil || n != 3 {
			t.Fatalf("relayed again %d, %v; want 3", n, err)
		}
		// One more, so that there is something to wait for after them.
		if _, err := b.Publish(ctx, source, itemCreated{ItemID: 20}); err != nil {
			t.Fatal(err)
		}
		waitEffects(6)
		time.Sleep(200 * time.Millisecond)
		if n := effects(t, db); n != 6 {
			t.Fatalf("effects = %d after the duplicates, want 6", n)
		}
		if list, err := NewInbox(db, d).List(ctx, "", 1000); err != nil || len(list) != 6 {
			t.Fatalf("inbox = %d events (%v), want 6", len(list), err)
		}
	})
}

// TestConsumerDrainsAtStop: Stop handles and acknowledges the events the
// consumer already fetched instead of leaving them to the broker's
// AckWait; and the streams have the retention limits they were given.
func TestConsumerDrainsAtStop(t *testing.T) {
	url := os.Getenv(NATSURLEnv)
	if url == "" {
		t.Skip(NATSURLEnv + " is not set: no broker to test against")
	}
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		b, err := Connect(ctx, url, "test", Retention{StreamMaxAge: 90 * 24 * time.Hour}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		info, err := b.JS.Stream(ctx, Stream)
		if err != nil || info.CachedInfo().Config.MaxAge != 90*24*time.Hour || info.CachedInfo().Config.MaxBytes != 1<<30 {
			t.Fatalf("stream limits: %+v, %v", info.CachedInfo().Config, err)
		}
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		source, service := "orders"+hex.EncodeToString(suffix), "payments"+hex.EncodeToString(suffix)
		for i := range 40 {
			if _, err := b.Publish(ctx, source, itemCreated{ItemID: int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		started := make(chan struct{}, 1)
		slow := func(ctx context.Context, exec Exec, ev Event) error {
			select {
			case started <- struct{}{}:
			default:
			}
			time.Sleep(10 * time.Millisecond)
			return addEffect(ctx, exec, ev)
		}
		c, err := b.Consume(ctx, service, Handlers{source + ".item.created": slow}, NewInbox(db, d), log, ConsumeOptions{Batch: 4})
		if err != nil {
			t.Fatal(err)
		}
		<-started
		c.Stop()
		cons, err := b.JS.Consumer(ctx, Stream, ConsumerName(service, source+".item.created"))
		if err != nil {
			t.Fatal(err)
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumAckPending != 0 || effects(t, db) != int(ci.AckFloor.Consumer) {
			t.Fatalf("after Stop: %d fetched events unacknowledged, %d applied, %d acknowledged; want all fetched applied and acknowledged",
				ci.NumAckPending, effects(t, db), ci.AckFloor.Consumer)
		}
		_ = b.JS.DeleteConsumer(ctx, Stream, ConsumerName(service, source+".item.created"))
	})
}

// TestServiceStopsAfterTheRelayDrains: a service that Start wired stops,
// at the end of its context (SIGTERM), only after its relay has sent the
// events of its last requests.
func TestServiceStopsAfterTheRelayDrains(t *testing.T) {
	url := os.Getenv(NATSURLEnv)
	if url == "" {
		t.Skip(NATSURLEnv + " is not set: no broker to test against")
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one writer, as the generated store has
	defer db.Close()
	if _, err := db.Exec(sqliteSchema); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NATS_URL", url)
	t.Setenv("LISTEN_ADDR", "127.0.0.1:0")
	t.Setenv("DRAIN_DELAY", "0s")
	ctx, stop := context.WithCancel(context.Background())
	var o *Outbox
	ran := make(chan error, 1)
	go func() {
		ran <- service.Run(ctx, service.Options{Name: "orders" + NewID()[:8]}, func(ctx context.Context, s *service.Service) error {
			var err error
			o, err = Start(ctx, s, db, SQLite, nil)
			if err != nil {
				return err
			}
			// The last request's events, committed as the signal
			// comes, without a Notify: only the drain sends them.
			defer stop()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			for i := range 5 {
				if err := o.Add(ctx, SQLExec(tx), itemCreated{ItemID: int64(i)}); err != nil {
					return err
				}
			}
			return tx.Commit()
		})
	}()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the service did not stop")
	}
	if n := unsent(t, o); n != 0 {
		t.Fatalf("the service stopped with %d events unsent", n)
	}
}

// itemEvent is a keyed event type: its events are applied in order per item.
type itemEvent struct {
	ItemID int64 `json:"item_id"`
	Kind   string
}

func (c itemEvent) EventType() string   { return "item." + c.Kind }
func (c itemEvent) OrderingKey() string { return fmt.Sprintf("item/%d", c.ItemID) }

// TestOutboxKeys: a keyed event takes the next number of its key in its
// transaction (a rolled-back one takes none) and records the key's latest
// number of each other type; the relay sends them in the headers.
func TestOutboxKeys(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		o := NewOutbox(db, d, "orders")
		ctx := context.Background()
		add := func(commit bool, evs ...Data) {
			t.Helper()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			for _, ev := range evs {
				if err := o.Add(ctx, SQLExec(tx), ev); err != nil {
					t.Fatal(err)
				}
			}
			if commit {
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			}
		}
		add(true, itemEvent{1, "created"}, itemEvent{2, "created"})
		add(false, itemEvent{1, "changed"})
		add(true, itemEvent{1, "changed"}, itemCreated{ItemID: 1})
		add(true, itemEvent{1, "changed"}, itemEvent{1, "deleted"})
		f := &fakeBroker{}
		if n, err := o.RelayOnce(ctx, f, RelayOptions{}); err != nil || n != 6 {
			t.Fatalf("relayed %d, %v; want 6", n, err)
		}
		var got []string
		for _, m := range f.msgs {
			// As a map: each database spells its JSON objects its own way.
			prev := m.Header.Get(PrevHeader)
			if prev != "" {
				var p map[string]int64
				if err := json.Unmarshal([]byte(prev), &p); err != nil {
					t.Fatalf("%s: %q: %v", PrevHeader, prev, err)
				}
				b, _ := json.Marshal(p)
				prev = string(b)
			}
			got = append(got, strings.Join([]string{m.Subject, m.Header.Get(KeyHeader), m.Header.Get(SeqHeader), prev}, " "))
		}
		want := []string{
			"events.orders.item.created item/1 1 {}",
			"events.orders.item.created item/2 1 {}",
			`events.orders.item.changed item/1 2 {"item.created":1}`,
			"events.orders.item.created   ", // no key: no number
			`events.orders.item.changed item/1 3 {"item.changed":2,"item.created":1}`,
			`events.orders.item.deleted item/1 4 {"item.changed":3,"item.created":1}`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("published\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// What the subscriber reads back.
		ev, err := decodeEvent(f.msgs[5].Subject, f.msgs[5].Header, f.msgs[5].Data)
		if err != nil || ev.Key != "item/1" || ev.Seq != 4 || needOf(ev, nil) != 3 ||
			needOf(ev, func(topic string) bool { return topic == "orders.item.created" }) != 1 {
			t.Errorf("decoded %+v, %v", ev, err)
		}
	})
}

// keyed is an event of key item/1 numbered seq, after the numbers prev.
func keyed(seq int64, typ string, prev map[string]int64) Event {
	return Event{ID: NewID(), Type: typ, Source: "orders", Data: json.RawMessage(`{}`), Key: "item/1", Seq: seq, prev: prev}
}

// TestInboxAppliesAKeyInOrder: an event ahead of its key's next one is
// neither applied nor recorded until the earlier one is; a subscriber of
// some types waits only for those; a wait that ran out applies the event,
// and an earlier one that comes after that is applied late, not dropped.
func TestInboxAppliesAKeyInOrder(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		in := NewInbox(db, d)
		ctx := context.Background()
		var order []int64
		effect := func(ctx context.Context, exec Exec, ev Event) error {
			order = append(order, ev.Seq)
			return addEffect(ctx, exec, ev)
		}
		handle := func(d delivery) outcome {
			t.Helper()
			d.ctx = ctx
			if d.need == 0 {
				d.need = needOf(d.ev, nil)
			}
			out, err := in.handle(ctx, []delivery{d}, effect)
			if err != nil {
				t.Fatal(err)
			}
			return out[0]
		}
		e1 := keyed(1, "item.created", nil)
		e2 := keyed(2, "item.changed", map[string]int64{"item.created": 1})
		e3 := keyed(3, "item.changed", map[string]int64{"item.created": 1, "item.changed": 2})
		for i, c := range []struct {
			ev   Event
			want outcome
		}{{e2, ahead}, {e3, ahead}, {e1, applied}, {e1, duplicate}, {e3, ahead}, {e2, applied}, {e3, applied}, {e2, duplicate}} {
			if got := handle(delivery{ev: c.ev}); got != c.want {
				t.Fatalf("step %d: event %d: %v, want %v", i+1, c.ev.Seq, got, c.want)
			}
		}
		// One batch in any order: applied in the key's order.
		e4 := keyed(4, "item.changed", map[string]int64{"item.created": 1, "item.changed": 3})
		e5 := keyed(5, "item.deleted", map[string]int64{"item.created": 1, "item.changed": 4})
		if ok, err := in.HandleBatch(ctx, []Event{e5, e4}, effect); err != nil || !slices.Equal(ok, []bool{true, true}) {
			t.Fatalf("batch: %v, %v", ok, err)
		}
		if !slices.Equal(order, []int64{1, 2, 3, 4, 5}) || effects(t, db) != 5 {
			t.Fatalf("applied %v (%d effects), want 1 to 5", order, effects(t, db))
		}
		// A subscriber of item.deleted alone waits for no item.changed
		// (event 6, which it never gets).
		e7 := keyed(7, "item.deleted", map[string]int64{"item.created": 1, "item.changed": 6, "item.deleted": 5})
		onlyDeleted := func(topic string) bool { return topic == "orders.item.deleted" }
		if got := handle(delivery{ev: e7, need: needOf(e7, onlyDeleted)}); got != applied {
			t.Fatalf("event 7 for a subscriber of item.deleted: %v, want applied", got)
		}
		// A gap that does not close: event 9 waited long enough.
		e9 := keyed(9, "item.changed", map[string]int64{"item.changed": 8})
		if got := handle(delivery{ev: e9}); got != ahead {
			t.Fatalf("event 9: %v, want ahead", got)
		}
		if got := handle(delivery{ev: e9, force: true}); got != skipped {
			t.Fatalf("event 9 after its wait: %v, want skipped", got)
		}
		e8 := keyed(8, "item.changed", map[string]int64{"item.changed": 6})
		if got := handle(delivery{ev: e8}); got != late {
			t.Fatalf("event 8 after 9: %v, want late", got)
		}
		if got := handle(delivery{ev: e8}); got != duplicate {
			t.Fatalf("event 8 again: %v, want duplicate", got)
		}
		// A dead-lettered event lets the next ones go on.
		if err := in.pass(ctx, keyed(10, "item.changed", nil)); err != nil {
			t.Fatal(err)
		}
		if got := handle(delivery{ev: keyed(11, "item.changed", map[string]int64{"item.changed": 10})}); got != applied {
			t.Fatalf("event 11 after 10 was passed: %v, want applied", got)
		}
	})
}

// TestConsumerWaitsForItsKey: the consumer keeps an event ahead of its
// key unsettled and applies it once the earlier one is; one that waited
// GapTimeout is applied without it.
func TestConsumerWaitsForItsKey(t *testing.T) {
	stores(t, func(t *testing.T, db *sql.DB, d Dialect) {
		msg := func(ev Event) *fakeMsg {
			b, _ := json.Marshal(ev)
			prev, _ := json.Marshal(ev.prev)
			return &fakeMsg{data: b, delivered: 1, headers: nats.Header{KeyHeader: {ev.Key},
				SeqHeader: {fmt.Sprint(ev.Seq)}, PrevHeader: {string(prev)}}}
		}
		now := time.Now()
		var order []int64
		h := &consumer{service: "payments", inbox: NewInbox(db, d), tracer: otel.Tracer("test"),
			log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			opts: ConsumeOptions{MaxDeliver: 5, Backoff: []time.Duration{time.Second}, AckWait: 30 * time.Second, GapTimeout: time.Minute},
			now:  func() time.Time { return now },
			effect: func(ctx context.Context, exec Exec, ev Event) error {
				order = append(order, ev.Seq)
				return nil
			}}
		ctx := context.Background()
		m1 := msg(keyed(1, "item.created", nil))
		m2 := msg(keyed(2, "item.created", map[string]int64{"item.created": 1}))
		m3 := msg(keyed(3, "item.created", map[string]int64{"item.created": 2}))
		waiting := h.handleMsgs(ctx, m3, m2)
		if len(waiting) != 2 || m2.settled != "" || m3.settled != "" {
			t.Fatalf("events 2 and 3 before 1: %d waiting, settled %q %q", len(waiting), m2.settled, m3.settled)
		}
		if w := h.handleMsgs(ctx, m1); len(w) != 0 || m1.settled != "ack" {
			t.Fatalf("event 1: %d waiting, settled %q", len(w), m1.settled)
		}
		if w := h.handle(ctx, waiting); len(w) != 0 || m2.settled != "ack" || m3.settled != "ack" || !slices.Equal(order, []int64{1, 2, 3}) {
			t.Fatalf("after event 1: %d waiting, settled %q %q, applied %v", len(w), m2.settled, m3.settled, order)
		}
		m5 := msg(keyed(5, "item.created", map[string]int64{"item.created": 4}))
		waiting = h.handleMsgs(ctx, m5)
		now = now.Add(time.Minute)
		if w := h.handle(ctx, waiting); len(w) != 0 || m5.settled != "ack" || !slices.Equal(order, []int64{1, 2, 3, 5}) {
			t.Fatalf("event 5 after GapTimeout: %d waiting, settled %q, applied %v", len(w), m5.settled, order)
		}
	})
}
