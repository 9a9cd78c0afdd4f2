package messaging

// This file is not generated: e2e/messaging_platform_test.go copies it
// into a generated workspace's platform/messaging and runs it against a
// Postgres and a NATS container. It is the replicas test of issue 20:
// three publisher replicas (relay processes) and two subscriber replicas
// (consumer processes), each process with its own connections, 10,000
// events, one relay and one consumer killed with SIGKILL midway (a new
// consumer replaces it) and the broker restarted once, and then 0 lost,
// 0 applied twice, per-item order kept in the stream and in what the
// consumers applied.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RestartURLEnv is where the harness listens for "restart the broker now"
// (a POST on 127.0.0.1).
const RestartURLEnv = "MESSAGING_TEST_RESTART_URL"

// CalmEnv=1 runs the test without the kill and the restart, the 10,000
// events written before the replicas start: to measure how fast the
// relays, the broker and the consumers move them.
const CalmEnv = "MESSAGING_TEST_REPLICAS_CALM"

// replicaEnv, when set, makes the test binary one replica instead:
// "relay" or "consumer".
const replicaEnv = "MESSAGING_TEST_REPLICA"

type itemChanged struct {
	Item    int64 `json:"item"`
	Version int64 `json:"version"`
}

func (itemChanged) EventType() string { return "item.changed" }

// OrderingKey makes an item's changes one key: applied in their order.
func (c itemChanged) OrderingKey() string { return fmt.Sprintf("item/%d", c.Item) }

func TestMain(m *testing.M) {
	if role := os.Getenv(replicaEnv); role != "" {
		os.Exit(runReplica(role))
	}
	os.Exit(m.Run())
}

// schemaURL is the Postgres URL with search_path set to schema.
func schemaURL(base, schema string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// runReplica is one replica's process: a relay of the publisher's outbox
// or a consumer into the subscriber's inbox, until SIGTERM, then a drain.
func runReplica(role string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("replica", os.Getenv("REPLICA_NAME"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	db, err := sql.Open("pgx", schemaURL(os.Getenv(PostgresURLEnv), os.Getenv("REPLICA_SCHEMA")))
	if err != nil {
		log.Error("db", "err", err)
		return 1
	}
	defer db.Close()
	b, err := Connect(context.Background(), os.Getenv(NATSURLEnv), role, Retention{}, log)
	if err != nil {
		log.Error("broker", "err", err)
		return 1
	}
	defer b.Close()
	source := os.Getenv("REPLICA_SOURCE")
	switch role {
	case "relay":
		pub := &countingBroker{Broker: b, db: db, name: os.Getenv("REPLICA_NAME")}
		NewOutbox(db, Postgres, source).Relay(ctx, pub, RelayOptions{Poll: 50 * time.Millisecond, Log: log})
	case "consumer":
		effect := On(func(ctx context.Context, exec Exec, ev Event, data itemChanged) error {
			_, err := exec(ctx, `INSERT INTO applied (event_id, item, version) VALUES ($1, $2, $3)`, ev.ID, data.Item, data.Version)
			return err
		})
		c, err := b.Consume(context.WithoutCancel(ctx), os.Getenv("REPLICA_SERVICE"), Handlers{source + ".item.changed": effect}, NewInbox(db, Postgres), log, ConsumeOptions{})
		if err != nil {
			log.Error("consume", "err", err)
			return 1
		}
		<-ctx.Done()
		c.Stop()
	}
	return 0
}

// countingBroker publishes as *Broker does and counts, in the table
// published, what the broker took as a duplicate of an event it had: an
// event published twice.
type countingBroker struct {
	*Broker
	db   *sql.DB
	name string
}

func (c *countingBroker) PublishBatch(ctx context.Context, msgs []*nats.Msg, ids []string) []error {
	errs := make([]error, len(msgs))
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		futures[i], errs[i] = c.JS.PublishMsgAsync(m, jetstream.WithMsgID(ids[i]))
	}
	sent, dups := 0, 0
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			sent++
			if ack.Duplicate {
				dups++
			}
		case err := <-f.Err():
			errs[i] = err
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	_, _ = c.db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO published (relay, acked, duplicates) VALUES ($1, $2, $3)`, c.name, sent, dups)
	return errs
}

// TestReplicas: see the top of the file.
func TestReplicas(t *testing.T) {
	base, natsURL, restartURL := os.Getenv(PostgresURLEnv), os.Getenv(NATSURLEnv), os.Getenv(RestartURLEnv)
	if base == "" || natsURL == "" || restartURL == "" {
		t.Skip("needs " + PostgresURLEnv + ", " + NATSURLEnv + " and " + RestartURLEnv)
	}
	const items, perTx, events = 500, 5, 10_000
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := hex.EncodeToString(suffix)
	source, service := "orders"+id, "payments"+id
	pubSchema, subSchema := "replicas_pub_"+id, "replicas_sub_"+id
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, s := range []string{pubSchema, subSchema} {
		if _, err := admin.Exec(`CREATE SCHEMA ` + s); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = admin.Exec(`DROP SCHEMA ` + s + ` CASCADE`) })
	}
	pub, err := sql.Open("pgx", schemaURL(base, pubSchema))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.SetMaxOpenConns(8)
	sub, err := sql.Open("pgx", schemaURL(base, subSchema))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := pub.Exec(postgresSchema + `
		CREATE TABLE items (id BIGINT PRIMARY KEY, version BIGINT NOT NULL DEFAULT 0);
		INSERT INTO items (id) SELECT generate_series(1, ` + fmt.Sprint(items) + `);
		CREATE TABLE published (relay TEXT NOT NULL, acked INT NOT NULL, duplicates INT NOT NULL);`); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Exec(postgresSchema + `
		CREATE TABLE applied (seq BIGINT GENERATED ALWAYS AS IDENTITY, event_id TEXT NOT NULL, item BIGINT NOT NULL, version BIGINT NOT NULL);`); err != nil {
		t.Fatal(err)
	}

	// The replicas: processes of this test binary, each with its own
	// connections to the database and the broker.
	var procs []*exec.Cmd
	spawn := func(role, name, schema string) (*exec.Cmd, error) {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), replicaEnv+"="+role, "REPLICA_NAME="+name, "REPLICA_SCHEMA="+schema,
			"REPLICA_SOURCE="+source, "REPLICA_SERVICE="+service)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		procs = append(procs, cmd)
		return cmd, nil
	}
	start := func(role, name, schema string) *exec.Cmd {
		cmd, err := spawn(role, name, schema)
		if err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	})
	var relays, consumers []*exec.Cmd
	startAll := func() {
		relays = []*exec.Cmd{start("relay", "relay-1", pubSchema), start("relay", "relay-2", pubSchema), start("relay", "relay-3", pubSchema)}
		consumers = []*exec.Cmd{start("consumer", "consumer-1", subSchema), start("consumer", "consumer-2", subSchema)}
	}
	calm := os.Getenv(CalmEnv) == "1"
	if !calm {
		startAll()
	}

	// The publisher's requests: each transaction changes perTx random
	// items (locked in id order) and adds an event per change; concurrent
	// changes of one item serialise on its row.
	o := NewOutbox(pub, Postgres, source)
	var written atomic.Int64
	var once sync.Once
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 9) // a writer's each, and a replica's start
	restarted := make(chan error, 1)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for written.Add(perTx) <= events {
				if err := change(ctx, pub, o, perTx, items); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				n := written.Load()
				if n >= events/2 && !calm {
					once.Do(func() {
						// Midway: one publisher replica and one
						// subscriber replica die without a word (the
						// events the subscriber held come again after
						// AckWait, behind later ones of their items), a
						// new subscriber replica starts, then the broker
						// restarts.
						_ = relays[0].Process.Signal(syscall.SIGKILL)
						_ = consumers[0].Process.Signal(syscall.SIGKILL)
						if c, err := spawn("consumer", "consumer-3", subSchema); err != nil {
							errs <- err
						} else {
							consumers = append(consumers, c)
						}
						go func() {
							resp, err := http.Post(restartURL, "text/plain", nil)
							if err == nil {
								_, _ = io.Copy(io.Discard, resp.Body)
								resp.Body.Close()
								if resp.StatusCode != http.StatusOK {
									err = fmt.Errorf("restart hook: %s", resp.Status)
								}
							}
							restarted <- err
						}()
					})
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wrote := time.Since(began)
	if calm {
		began = time.Now()
		startAll()
	} else {
		if err := <-restarted; err != nil {
			t.Fatalf("restarting the broker: %v", err)
		}
		_ = relays[0].Wait()
		_ = consumers[0].Wait()
		consumers = consumers[1:]
	}

	// Everything arrives.
	var applied, distinct int
	for {
		if err := sub.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT event_id) FROM applied`).Scan(&applied, &distinct); err != nil {
			t.Fatal(err)
		}
		if distinct >= events || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(began)
	if calm {
		t.Logf("replicas: %d events written in %s, then relayed, consumed and applied in %s: %.0f events/s from the outbox to the inbox",
			events, wrote.Round(time.Millisecond), took.Round(time.Millisecond), float64(events)/took.Seconds())
	} else {
		t.Logf("replicas: %d events written, relayed, consumed and applied in %s (written in %s): %.0f events/s end to end",
			events, took.Round(time.Millisecond), wrote.Round(time.Millisecond), float64(events)/took.Seconds())
	}

	// The survivors stop after draining, on SIGTERM.
	for _, p := range append(relays[1:], consumers...) {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range append(relays[1:], consumers...) {
		done := make(chan error, 1)
		go func() { done <- p.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("a replica exited with %v after SIGTERM", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("a replica did not stop within 20s of SIGTERM")
		}
	}
	time.Sleep(200 * time.Millisecond) // nothing more may arrive
	if err := sub.QueryRow(`SELECT count(*), count(DISTINCT event_id) FROM applied`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	var unsent, dead int
	_ = pub.QueryRow(`SELECT count(*) FROM outbox`).Scan(&unsent)
	_ = pub.QueryRow(`SELECT count(*) FROM outbox_dead`).Scan(&dead)
	if distinct != events || applied != events || unsent != 0 || dead != 0 {
		t.Fatalf("%d events written: %d applied (%d distinct, so %d lost and %d applied twice); %d unsent, %d set aside",
			events, applied, distinct, events-distinct, applied-distinct, unsent, dead)
	}
	// Published twice: only what a disruption left unconfirmed, a round
	// of the killed relay and the rounds the restart cut (512 each).
	var acked, dups int
	if err := pub.QueryRow(`SELECT coalesce(sum(acked), 0), coalesce(sum(duplicates), 0) FROM published`).Scan(&acked, &dups); err != nil {
		t.Fatal(err)
	}
	t.Logf("replicas: the relays had %d events acknowledged, %d of them duplicates of events sent before", acked, dups)
	if dups > 3*512 {
		t.Errorf("%d events published twice, more than the rounds a kill and a restart can cut short: the relays do not claim the outbox", dups)
	}
	// Every change of every item was applied once: versions 1..n.
	rows, err := sub.Query(`SELECT item, version FROM applied ORDER BY item, version`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{}
	for rows.Next() {
		var item, version int64
		if err := rows.Scan(&item, &version); err != nil {
			t.Fatal(err)
		}
		if version != want[item]+1 {
			t.Fatalf("item %d: version %d applied after %d", item, version, want[item])
		}
		want[item] = version
	}
	rows.Close()

	// Per-item order: the broker holds each item's changes in the order
	// they were made.
	stream, err := jetstreamOf(ctx, natsURL)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := stream.OrderedConsumer(ctx, Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{Subject(source, "item.changed")}})
	if err != nil {
		t.Fatal(err)
	}
	last := map[int64]int64{}
	seen := map[string]bool{}
	var stored int
	for stored < events {
		batch, err := oc.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			var ev struct {
				ID   string      `json:"id"`
				Data itemChanged `json:"data"`
			}
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatal(err)
			}
			if seen[ev.ID] {
				continue // a relay's second send after the broker's window would be one; the inbox drops it
			}
			seen[ev.ID] = true
			stored++
			if ev.Data.Version <= last[ev.Data.Item] {
				t.Fatalf("item %d: version %d stored after version %d", ev.Data.Item, ev.Data.Version, last[ev.Data.Item])
			}
			last[ev.Data.Item] = ev.Data.Version
		}
		if got == 0 {
			t.Fatalf("the stream holds %d of the %d events", stored, events)
		}
	}
	// Applied order per item, across two competing consumer replicas: the
	// broker does not promise it, the inbox does (each event's number
	// among its item's).
	var inversions int
	if err := sub.QueryRow(`SELECT count(*) FROM (SELECT version < lag(version) OVER (PARTITION BY item ORDER BY seq) AS back FROM applied) v WHERE back`).Scan(&inversions); err != nil {
		t.Fatal(err)
	}
	t.Logf("replicas: per-item order kept in the stream; %d of %d events applied after a later change of their item by the other consumer replica", inversions, events)
	if inversions != 0 {
		t.Errorf("%d of %d events applied after a later change of their item: per-item order not kept across the consumer replicas", inversions, events)
	}
}

// change is one request of the publisher: it bumps the version of n
// random items and adds one event per change, in one transaction.
func change(ctx context.Context, db *sql.DB, o *Outbox, n, items int) error {
	ids := make([]int64, 0, n)
	for len(ids) < n {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		id := int64(int(b[0])<<8|int(b[1]))%int64(items) + 1
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // one lock order: no deadlocks
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range ids {
		var v int64
		if err := tx.QueryRowContext(ctx, `UPDATE items SET version = version + 1 WHERE id = $1 RETURNING version`, id).Scan(&v); err != nil {
			return err
		}
		if err := o.Add(ctx, SQLExec(tx), itemChanged{Item: id, Version: v}); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// jetstreamOf connects to the broker to read the stream back.
func jetstreamOf(ctx context.Context, url string) (jetstream.JetStream, error) {
	b, err := Connect(ctx, url, "replicas-check", Retention{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	return b.JS, nil
}
