package messaging

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
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

// Outbox is a publisher's table of events to send. A nil *Outbox adds
// nothing: a service in a project where nothing subscribes publishes no
// events.
type Outbox struct {
	db      *sql.DB
	dialect Dialect
	source  string
	now     func() time.Time
	wake    chan struct{}
	insert  string // in the dialect, once: Add runs in every publishing transaction
}

// NewOutbox returns the outbox of service source in db.
func NewOutbox(db *sql.DB, dialect Dialect, source string) *Outbox {
	return &Outbox{db: db, dialect: dialect, source: source, now: time.Now, wake: make(chan struct{}, 1),
		insert: dialect.q(`INSERT INTO outbox (id, subject, payload, headers, created_at) VALUES ($1, $2, $3, $4, $5)`)}
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
	_, err = exec(ctx, o.insert, ev.ID, Subject(o.source, typ), payload, string(headers), ev.Time)
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
}

// Publisher is what the relay needs of the broker: publish a batch of
// messages, each with its id, and wait for their acknowledgements.
// *Broker is one.
type Publisher interface {
	PublishBatch(ctx context.Context, msgs []*nats.Msg, ids []string) []error
}

// PublishBatch publishes msgs asynchronously, each with its id as
// Nats-Msg-Id, and returns, for each, nil once the broker acknowledged it.
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
			errs[i] = ctx.Err()
		}
	}
	return errs
}

// RelayOptions tunes the relay; zero values are the defaults.
type RelayOptions struct {
	Batch    int           // rows per round, 512
	Poll     time.Duration // how often to look without a Notify, 1s
	MaxPause time.Duration // longest wait after a failure, 5s
}

// Relay publishes the outbox until ctx ends: each round reads the oldest
// unsent events, publishes them, and removes those the broker
// acknowledged. While the broker is down nothing is removed and the relay
// waits, longer after each failure, then sends everything in order.
func (o *Outbox) Relay(ctx context.Context, pub Publisher, log *slog.Logger, opts RelayOptions) {
	if opts.Batch == 0 {
		opts.Batch = 512
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	if opts.MaxPause == 0 {
		opts.MaxPause = 5 * time.Second
	}
	pause := 50 * time.Millisecond
	for {
		n, err := o.RelayOnce(ctx, pub, opts.Batch)
		wait := opts.Poll
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			log.Warn("outbox relay: will retry", "err", err, "in", pause)
			wait = pause
			pause = min(pause*2, opts.MaxPause)
		case n == opts.Batch:
			pause = 50 * time.Millisecond
			continue // more waiting
		default:
			pause = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-time.After(wait):
		}
	}
}

// RelayOnce publishes up to batch unsent events and returns how many the
// broker acknowledged, which are then removed from the outbox: that is
// how an event is marked sent. It stops at the first event not
// acknowledged, so that events leave in order.
func (o *Outbox) RelayOnce(ctx context.Context, pub Publisher, batch int) (int, error) {
	rows, err := o.db.QueryContext(ctx, o.dialect.q(
		`SELECT seq, id, subject, payload, headers FROM outbox ORDER BY seq LIMIT $1`), batch)
	if err != nil {
		return 0, err
	}
	var list []pending
	for rows.Next() {
		var p pending
		var headers string
		if err := rows.Scan(&p.seq, &p.id, &p.subject, &p.payload, &headers); err != nil {
			rows.Close()
			return 0, err
		}
		if err := json.Unmarshal([]byte(headers), &p.headers); err != nil {
			p.headers = nil // a trace context is not worth an event
		}
		list = append(list, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(list) == 0 {
		return 0, nil
	}
	msgs := make([]*nats.Msg, len(list))
	ids := make([]string, len(list))
	seqs := make([]int64, len(list))
	for i, p := range list {
		seqs[i] = p.seq
		m := nats.NewMsg(p.subject)
		m.Data = p.payload
		for k, v := range p.headers {
			m.Header.Set(k, v)
		}
		msgs[i], ids[i] = m, p.id
	}
	errs := pub.PublishBatch(ctx, msgs, ids)
	acked := 0
	for acked < len(errs) && errs[acked] == nil {
		acked++
	}
	if acked > 0 {
		if err := o.remove(ctx, seqs[:acked]); err != nil {
			return 0, err
		}
	}
	if acked < len(errs) {
		return acked, fmt.Errorf("publishing %s: %w", list[acked].subject, errs[acked])
	}
	return acked, nil
}

// remove deletes the sent events seqs in one transaction. The outbox holds
// only what waits, so that adding to it, in every publishing transaction,
// stays cheap.
func (o *Outbox) remove(ctx context.Context, seqs []int64) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// In chunks, under every driver's limit of parameters.
	for start := 0; start < len(seqs); start += 256 {
		chunk := seqs[start:min(start+256, len(seqs))]
		ph := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, seq := range chunk {
			ph[i] = "$" + strconv.Itoa(i+1)
			args[i] = seq
		}
		q := `DELETE FROM outbox WHERE seq IN (` + strings.Join(ph, ", ") + `)`
		if _, err := tx.ExecContext(ctx, o.dialect.q(q), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Unsent counts the events not yet acknowledged by the broker.
func (o *Outbox) Unsent(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
	return n, err
}
