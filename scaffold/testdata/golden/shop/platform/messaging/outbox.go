package messaging

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
)

// Dialect is the SQL dialect of a store: the queries here are written
// with $1 placeholders, which SQLite spells ?1.
type Dialect int

// Dialects of the stores msx generates.
const (
	Postgres Dialect = iota
	SQLite
)

var dollar = regexp.MustCompile(`\$(\d+)`)

func (d Dialect) q(query string) string {
	if d == SQLite {
		return dollar.ReplaceAllString(query, "?$1")
	}
	return query
}

// Exec runs a statement in the caller's transaction and returns the rows
// it affected: the one thing the outbox and the inbox need of it, so that
// a store on database/sql and one on pgx both fit.
type Exec func(ctx context.Context, query string, args ...any) (int64, error)

// SQLExec is the Exec of a database/sql transaction.
func SQLExec(tx *sql.Tx) Exec {
	return func(ctx context.Context, query string, args ...any) (int64, error) {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
}

// Outbox is a publisher's table of events to send. Start gives every
// service with a database one, broker or not: an event waits in it until
// a broker acknowledges it. A nil *Outbox adds nothing (a store without a
// database has none).
type Outbox struct {
	db      *sql.DB
	dialect Dialect
	source  string
	now     func() time.Time
	wake    chan struct{}
	// The statements of Add, in the dialect, once: Add runs in every
	// publishing transaction. bump is SQLite's alone.
	insert, bump, insertKeyed string
	round                     sync.Mutex // one relay round at a time in this process
}

// NewOutbox returns the outbox of service source in db.
func NewOutbox(db *sql.DB, dialect Dialect, source string) *Outbox {
	o := &Outbox{db: db, dialect: dialect, source: source, now: time.Now, wake: make(chan struct{}, 1),
		insert: dialect.q(`INSERT INTO outbox (id, subject, payload, headers, created_at) VALUES ($1, $2, $3, $4, $5)`),
		insertKeyed: dialect.q(`INSERT INTO outbox (id, subject, payload, headers, created_at, ordering_key, key_seq, key_prev)
			SELECT $1, $2, $3, $4, $5, ordering_key, seq, prev FROM outbox_keys WHERE ordering_key = $6`),
	}
	// The key's next number, and its latest number of each type: a SET
	// reads the row as it was, so prev gets the types before this event.
	// On Postgres in the statement that inserts the event: one round trip.
	if dialect == Postgres {
		o.insertKeyed = `WITH k AS (
			INSERT INTO outbox_keys (ordering_key, seq, types, prev) VALUES ($6, 1, jsonb_build_object($7::text, 1)::text, '{}')
			ON CONFLICT (ordering_key) DO UPDATE SET seq = outbox_keys.seq + 1, prev = outbox_keys.types,
				types = (outbox_keys.types::jsonb || jsonb_build_object($7::text, outbox_keys.seq + 1))::text
			RETURNING ordering_key, seq, prev)
			INSERT INTO outbox (id, subject, payload, headers, created_at, ordering_key, key_seq, key_prev)
			SELECT $1, $2, $3::bytea, $4, $5::timestamptz, ordering_key, seq, prev FROM k`
	} else {
		o.bump = dialect.q(`INSERT INTO outbox_keys (ordering_key, seq, types, prev) VALUES ($1, 1, json_object($2, 1), '{}')
			ON CONFLICT (ordering_key) DO UPDATE SET seq = outbox_keys.seq + 1, prev = outbox_keys.types,
				types = json_set(outbox_keys.types, '$."' || $2 || '"', outbox_keys.seq + 1)`)
	}
	return o
}

// NewID returns a new event id: 128 random bits.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Add writes an event to the outbox in the caller's transaction, with the
// trace context of ctx: it is sent if and only if the transaction commits.
// Its type is data's (ordersapi.ItemCreated is item.created). Call Notify
// after the commit.
//
// When data is Keyed, the event also takes the next number of its key
// from the key's counter in outbox_keys, an upsert that locks the
// counter's row until the transaction ends: a concurrent transaction
// adding an event of the same key waits there, so the numbers of a key
// follow the order its transactions commit in, and a number is never
// used by a transaction that rolls back (the counter rolls back with it).
// The event also records the key's latest number of each other type, so
// that a subscriber of some of the types does not wait for the others.
// The counters stay, one row per key: a key that started again
// from 1 would look to its subscribers like events they already had.
// Like row locks, the counters' locks want one order: transactions that
// add events of the same keys in opposite orders can deadlock (Postgres
// then fails one), so add them in the order the change locked its rows.
func (o *Outbox) Add(ctx context.Context, exec Exec, data Data) error {
	if o == nil {
		return nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	typ := data.EventType()
	ev := Event{ID: NewID(), Type: typ, Source: o.source, Time: o.now().UTC(), Data: raw}
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	headers, err := json.Marshal(carrier)
	if err != nil {
		return err
	}
	k, ok := data.(Keyed)
	if !ok || k.OrderingKey() == "" {
		_, err = exec(ctx, o.insert, ev.ID, Subject(o.source, typ), payload, string(headers), ev.Time)
		return err
	}
	key := k.OrderingKey()
	if o.bump == "" {
		_, err = exec(ctx, o.insertKeyed, ev.ID, Subject(o.source, typ), payload, string(headers), ev.Time, key, typ)
		return err
	}
	if _, err := exec(ctx, o.bump, key, typ); err != nil {
		return err
	}
	_, err = exec(ctx, o.insertKeyed, ev.ID, Subject(o.source, typ), payload, string(headers), ev.Time, key)
	return err
}

// Notify wakes the relay after a commit, so that an event leaves at once
// rather than at the next poll.
func (o *Outbox) Notify() {
	if o == nil {
		return
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// pending is one unsent row.
type pending struct {
	seq         int64
	id, subject string
	payload     []byte
	headers     map[string]string
	attempts    int
	// The event's key, its number and the key's earlier numbers by type,
	// when it has a key (see Add).
	key, prev sql.NullString
	keySeq    sql.NullInt64
}

// Publisher is what the relay needs of the broker: publish a batch of
// messages, each with its id, and wait for their acknowledgements until
// ctx ends. *Broker is one.
type Publisher interface {
	PublishBatch(ctx context.Context, msgs []*nats.Msg, ids []string) []error
}

// PublishBatch publishes msgs asynchronously, each with its id as
// Nats-Msg-Id, and returns, for each, nil once the broker acknowledged it,
// or why not (ctx's error for an ack that did not come in time).
func (b *Broker) PublishBatch(ctx context.Context, msgs []*nats.Msg, ids []string) []error {
	errs := make([]error, len(msgs))
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		futures[i], errs[i] = b.JS.PublishMsgAsync(m, jetstream.WithMsgID(ids[i]))
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs[i] = err
		case <-ctx.Done():
			errs[i] = fmt.Errorf("no acknowledgement: %w", ctx.Err())
		}
	}
	return errs
}

// PublishAckTimeout is how long a published event waits for the broker's
// acknowledgement before it counts as not sent (and is sent again).
const PublishAckTimeout = 5 * time.Second

// RelayOptions tunes the relay; zero values are the defaults.
type RelayOptions struct {
	Batch    int           // rows per round, 512
	Poll     time.Duration // how often to look without a Notify, 1s
	MaxPause time.Duration // longest wait after a failure, 5s
	// AckTimeout bounds the wait for the broker's acknowledgements of a
	// round, PublishAckTimeout: an event not acknowledged by then is sent
	// again later.
	AckTimeout time.Duration
	// MaxAttempts is how many times the broker may refuse an event while
	// it accepts others before the event is set aside in outbox_dead, so
	// that it does not hold up the rest; 8.
	MaxAttempts int
	// DrainTimeout bounds the last rounds once ctx ends, 5s.
	DrainTimeout time.Duration
	// Log is where the relay says what it set aside; slog's default.
	Log *slog.Logger
}

func (o RelayOptions) withDefaults() RelayOptions {
	if o.Batch == 0 {
		o.Batch = 512
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.MaxPause == 0 {
		o.MaxPause = 5 * time.Second
	}
	if o.AckTimeout == 0 {
		o.AckTimeout = PublishAckTimeout
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// errBusy is a round that found another relay in one.
var errBusy = errors.New("another relay holds the outbox")

// Relay publishes the outbox until ctx ends: each round reads the oldest
// unsent events, publishes them, and removes those the broker
// acknowledged. While the broker is down nothing is removed and the relay
// waits, longer after each failure, then sends everything in order. A
// round is never cut short by ctx: once ctx ends, the relay publishes
// what is left (the events of the requests the server drained) for at
// most DrainTimeout, then returns.
func (o *Outbox) Relay(ctx context.Context, pub Publisher, opts RelayOptions) {
	opts = opts.withDefaults()
	log := opts.Log
	round := context.WithoutCancel(ctx)
	pause := 50 * time.Millisecond
	for ctx.Err() == nil {
		n, err := o.RelayOnce(round, pub, opts)
		wait := opts.Poll
		switch {
		case errors.Is(err, errBusy):
			// Another replica's relay is in a round: look again soon,
			// it may have finished before this one's events committed.
			wait = min(opts.Poll, 100*time.Millisecond)
		case err != nil:
			log.Warn("outbox relay: will retry", "err", err, "in", pause)
			wait = pause
			pause = min(pause*2, opts.MaxPause)
		case n == opts.Batch:
			pause = 50 * time.Millisecond
			continue // more waiting
		default:
			pause = 50 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-t.C:
		}
		t.Stop()
	}
	drain, cancel := context.WithTimeout(round, opts.DrainTimeout)
	defer cancel()
	for drain.Err() == nil {
		n, err := o.RelayOnce(drain, pub, opts)
		if errors.Is(err, errBusy) {
			return // another replica's relay is sending them
		}
		if err != nil || n < opts.Batch {
			break
		}
	}
	left, _ := o.Unsent(round)
	if left > 0 {
		log.Warn("outbox relay stopped with events unsent; the next relay sends them", "unsent", left)
	}
}

// RelayOnce is one round of the relay: it claims the outbox, publishes up
// to opts.Batch unsent events, removes the ones the broker acknowledged
// and returns how many those were.
//
// Claiming. On Postgres a round is one transaction that first takes a
// transaction-scoped advisory lock on the outbox, so that of several
// replicas one relay at a time reads, publishes and removes; a replica
// that finds the lock taken returns errBusy and looks again soon. One
// relay at a time rather than FOR UPDATE SKIP LOCKED: relays publishing
// disjoint rows side by side would let an item's later event overtake an
// earlier one held by a slower relay, and one relay publishing batches
// asynchronously keeps up with the database's commits. A relay killed
// mid-round loses its connection, so its transaction rolls back and its
// lock goes with it: the next round sends those events again with the
// same message ids, which the broker drops as duplicates within
// DuplicateWindow (and the inbox after it). SQLite has a single writer
// and one process per file, so the round is claimed by a mutex.
//
// Order. A round reads committed rows in seq order, and a keyed event's
// row is inserted only once its key's counter is locked (see Add), after
// the commit of the key's previous event: so the events of a key leave in
// the order of their numbers, which is their commit order. That holds on
// one relay, not beyond it: an event the broker refused while it took a
// later one of the same key is sent in a later round, after it, and one
// set aside in outbox_dead never leaves. What keeps a subscriber's order
// is the number each keyed event carries, which its inbox applies in
// sequence (see Inbox); the relay's order only makes waiting rare. Events
// of different keys may leave in the order they were added rather than
// committed: ordering those by commit needs a commit-time order Postgres
// does not give without track_commit_timestamp, and nothing promises an
// order between keys. (Watermill's ordering by transaction id under the
// snapshot's xmin is not commit order either: a transaction id is taken
// at a transaction's first write, so a transaction that changed another
// item first and then waited for this item's lock has the lower id and
// the later change.) SQLite commits one transaction at a time, so seq
// order is commit order.
//
// Failures. An event the broker does not acknowledge stays for the next
// round. When the broker acknowledged others of the round, the failure is
// that event's own and counts as an attempt; after MaxAttempts it is
// moved to outbox_dead, counted in messaging.outbox.dead_lettered and
// logged, so the rest are not held up behind it. A round in which
// nothing was acknowledged (the broker is down) counts no attempts.
func (o *Outbox) RelayOnce(ctx context.Context, pub Publisher, opts RelayOptions) (int, error) {
	opts = opts.withDefaults()
	o.round.Lock()
	defer o.round.Unlock()
	var q querier = o.db
	var tx *sql.Tx
	if o.dialect == Postgres {
		var err error
		if tx, err = o.db.BeginTx(ctx, nil); err != nil {
			return 0, err
		}
		defer tx.Rollback()
		var mine bool
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock('outbox'::regclass::oid::bigint)`).Scan(&mine); err != nil {
			return 0, err
		}
		if !mine {
			return 0, errBusy
		}
		q = tx
	}
	list, err := o.unsent(ctx, q, opts.Batch)
	if err != nil || len(list) == 0 {
		return 0, err
	}
	msgs := make([]*nats.Msg, len(list))
	ids := make([]string, len(list))
	for i, p := range list {
		m := nats.NewMsg(p.subject)
		m.Data = p.payload
		for k, v := range p.headers {
			m.Header.Set(k, v)
		}
		if p.key.Valid {
			m.Header.Set(KeyHeader, p.key.String)
			m.Header.Set(SeqHeader, strconv.FormatInt(p.keySeq.Int64, 10))
			m.Header.Set(PrevHeader, p.prev.String)
		}
		msgs[i], ids[i] = m, p.id
	}
	pctx, cancel := context.WithTimeout(ctx, opts.AckTimeout)
	errs := pub.PublishBatch(pctx, msgs, ids)
	cancel()
	var acked []int64
	var firstErr error
	for i, err := range errs {
		if err == nil {
			acked = append(acked, list[i].seq)
		} else if firstErr == nil {
			firstErr = fmt.Errorf("publishing %s: %w", list[i].subject, err)
		}
	}
	if tx == nil {
		if tx, err = o.db.BeginTx(ctx, nil); err != nil {
			return 0, err
		}
		defer tx.Rollback()
	}
	if err := o.execIn(ctx, tx, `DELETE FROM outbox WHERE seq IN (%s)`, acked); err != nil {
		return 0, err
	}
	var dead []pending
	if len(acked) > 0 {
		var retry []int64
		for i, err := range errs {
			if err == nil {
				continue
			}
			if list[i].attempts+1 >= opts.MaxAttempts {
				dead = append(dead, list[i])
				if err := o.bury(ctx, tx, list[i], err); err != nil {
					return 0, err
				}
				continue
			}
			retry = append(retry, list[i].seq)
		}
		if err := o.execIn(ctx, tx, `UPDATE outbox SET attempts = attempts + 1 WHERE seq IN (%s)`, retry); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	for _, p := range dead {
		deadLettered.Add(ctx, 1)
		opts.Log.Error("outbox event set aside in outbox_dead after repeated refusals", "event", p.id, "subject", p.subject, "attempts", p.attempts+1)
	}
	return len(acked), firstErr
}

// deadLettered counts the events the relay set aside.
var deadLettered, _ = otel.Meter("platform/messaging").Int64Counter("messaging.outbox.dead_lettered",
	metric.WithDescription("Events the outbox relay moved to outbox_dead after the broker kept refusing them"))

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// unsent reads up to batch events in the order they leave (see RelayOnce).
func (o *Outbox) unsent(ctx context.Context, q querier, batch int) ([]pending, error) {
	rows, err := q.QueryContext(ctx, o.dialect.q(`SELECT seq, id, subject, payload, headers, attempts, ordering_key, key_seq, key_prev
		FROM outbox ORDER BY seq LIMIT $1`), batch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []pending
	for rows.Next() {
		var p pending
		var headers string
		if err := rows.Scan(&p.seq, &p.id, &p.subject, &p.payload, &headers, &p.attempts, &p.key, &p.keySeq, &p.prev); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(headers), &p.headers); err != nil {
			p.headers = nil // a trace context is not worth an event
		}
		list = append(list, p)
	}
	return list, rows.Err()
}

// execIn runs stmt, whose %s is a list of placeholders, for the rows
// seqs, in chunks under every driver's limit of parameters. Sent events
// are deleted: the outbox holds only what waits, so that adding to it, in
// every publishing transaction, stays cheap.
func (o *Outbox) execIn(ctx context.Context, tx *sql.Tx, stmt string, seqs []int64) error {
	for start := 0; start < len(seqs); start += 256 {
		chunk := seqs[start:min(start+256, len(seqs))]
		ph := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, seq := range chunk {
			ph[i] = "$" + strconv.Itoa(i+1)
			args[i] = seq
		}
		if _, err := tx.ExecContext(ctx, o.dialect.q(fmt.Sprintf(stmt, strings.Join(ph, ", "))), args...); err != nil {
			return err
		}
	}
	return nil
}

// bury moves an event the broker kept refusing to outbox_dead, with why.
func (o *Outbox) bury(ctx context.Context, tx *sql.Tx, p pending, cause error) error {
	if _, err := tx.ExecContext(ctx, o.dialect.q(`INSERT INTO outbox_dead
		(seq, id, subject, payload, headers, created_at, attempts, error, failed_at, ordering_key, key_seq, key_prev)
		SELECT seq, id, subject, payload, headers, created_at, attempts + 1, $2, $3, ordering_key, key_seq, key_prev FROM outbox WHERE seq = $1`),
		p.seq, cause.Error(), o.now().UTC()); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, o.dialect.q(`DELETE FROM outbox WHERE seq = $1`), p.seq)
	return err
}

// Unsent counts the events not yet acknowledged by the broker.
func (o *Outbox) Unsent(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
	return n, err
}
