package messaging

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Inbox is a subscriber's table of handled events, and of how far it got
// with each key.
//
// Order. The replicas of a subscriber compete on one durable consumer, so
// two events of one item can be in the hands of two replicas at once, and
// a redelivery (a failed handler, a replica gone) comes after later
// events in any case. So the order is kept where the effects commit: a
// keyed event carries its number among its key's events (see Outbox.Add),
// inbox_keys holds the number of the last one applied, and an event is
// applied only once the key's latest earlier event of a type this service
// handles has been; one still ahead of that waits, unacknowledged, and is
// tried again. The key's row is locked from the check to the commit, so
// two replicas cannot apply two events of a key at once.
//
// That rather than a single active consumer (a NATS priority group with a
// pinned client): one replica at a time would keep order only with one
// event in flight (MaxAckPending 1), since a NAKed or timed-out event is
// redelivered after later ones, and a failover hands a dead replica's
// unacknowledged events over only after AckWait, behind the new ones; the
// number costs a row per key and a lock, and every replica keeps working.
//
// A gap that would never close does not stall its key: an event that has
// waited GapTimeout (an earlier one was set aside in the publisher's
// outbox_dead, or expired from the stream) is applied and the wait is
// logged; an earlier event that still comes after that is applied then,
// late, and logged too, never dropped. An event this service
// dead-lettered after its handler kept failing counts as passed, so the
// key's later events go on at once.
type Inbox struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
}

// NewInbox returns the inbox in db.
func NewInbox(db *sql.DB, dialect Dialect) *Inbox {
	return &Inbox{db: db, dialect: dialect, now: time.Now}
}

// Effect is what a handler does for an event, in the transaction that
// records the event as handled: both commit, or neither.
type Effect func(ctx context.Context, exec Exec, ev Event) error

// Handlers are what a subscriber does with each topic it consumes, by
// topic as msx.yaml's subscribes spells it (orders.item.created).
type Handlers map[string]Effect

// On makes the Effect of a typed handler: it decodes the event's data into
// T, the publisher's type (ordersapi.ItemCreated), and calls fn.
func On[T Data](fn func(ctx context.Context, exec Exec, ev Event, data T) error) Effect {
	return func(ctx context.Context, exec Exec, ev Event) error {
		var data T
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return fmt.Errorf("event %s (%s.%s): %w", ev.ID, ev.Source, ev.Type, err)
		}
		return fn(ctx, exec, ev, data)
	}
}

// Topics are the topics of h, sorted.
func (h Handlers) Topics() []string { return slices.Sorted(maps.Keys(h)) }

// Effect hands an event to the handler of its topic; an event of no topic
// of h is recorded as handled and has no other effect.
func (h Handlers) Effect(ctx context.Context, exec Exec, ev Event) error {
	if fn := h[ev.Source+"."+ev.Type]; fn != nil {
		return fn(ctx, exec, ev)
	}
	return nil
}

// delivery is an event to handle and the context of its span.
type delivery struct {
	ctx context.Context
	ev  Event
	// need is the number of the latest earlier event of ev's key that
	// must be applied before it, 0 for none (see Inbox).
	need int64
	// force applies ev even though need has not been: its wait ran out.
	force bool
	// waited says that ev was found ahead of its key before, and likely
	// still is.
	waited bool
}

// outcome is what became of one event.
type outcome int

const (
	applied   outcome = iota // its effect committed
	duplicate                // handled before: not applied again
	ahead                    // an earlier event of its key comes first: not now
	late                     // applied after later events of its key, whose wait for it ran out
	skipped                  // applied though earlier events of its key never came
)

func (o outcome) applied() bool { return o == applied || o == late || o == skipped }

// needOf is the number of the latest earlier event of ev's key of a type
// that handles says this service handles (any type, for nil).
func needOf(ev Event, handles func(topic string) bool) int64 {
	var need int64
	for typ, seq := range ev.prev {
		if seq > need && (handles == nil || handles(ev.Source+"."+typ)) {
			need = seq
		}
	}
	return need
}

// Handle applies effect to ev once: in one transaction it records ev.ID
// and, if it was not recorded before, runs effect. It returns false for an
// event already handled (a redelivery), which is then not applied again,
// and for a keyed event whose key's earlier events have not all been
// applied, which is not applied now.
func (in *Inbox) Handle(ctx context.Context, ev Event, effect Effect) (bool, error) {
	ok, err := in.HandleBatch(ctx, []Event{ev}, effect)
	if err != nil {
		return false, err
	}
	return ok[0], nil
}

// HandleBatch is Handle for several events in one transaction, one commit
// for all of them: how a subscriber keeps up with its publishers. An error
// of any effect rolls back every one; handle them one by one then.
// applied[i] is false for an event handled before (or earlier in evs), or
// one that must wait for earlier events of its key.
func (in *Inbox) HandleBatch(ctx context.Context, evs []Event, effect Effect) ([]bool, error) {
	ds := make([]delivery, len(evs))
	for i, ev := range evs {
		ds[i] = delivery{ctx: ctx, ev: ev, need: needOf(ev, nil)}
	}
	out, err := in.handle(ctx, ds, effect)
	if err != nil {
		return nil, err
	}
	ok := make([]bool, len(out))
	for i, o := range out {
		ok[i] = o.applied()
	}
	return ok, nil
}

// inOrder is the order in which ds are handled: events without a key as
// they came, then by source, key and number. A key's events in one batch
// are then applied together, and every transaction locks keys in the same
// order, so that two replicas' transactions cannot deadlock on them.
func inOrder(ds []delivery) []int {
	order := make([]int, len(ds))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := ds[a].ev, ds[b].ev
		if (x.Key == "") != (y.Key == "") {
			if x.Key == "" {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(x.Source, y.Source), strings.Compare(x.Key, y.Key), cmp.Compare(x.Seq, y.Seq))
	})
	return order
}

func (in *Inbox) handle(ctx context.Context, ds []delivery, effect Effect) ([]outcome, error) {
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	exec := SQLExec(tx)
	insert := in.dialect.q(`INSERT INTO inbox (event_id, type, source, handled_at) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`)
	record := func(ctx context.Context, args ...any) (int64, error) { return exec(ctx, insert, args...) }
	if len(ds) > 1 {
		// Parsed once for the batch.
		stmt, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			return nil, err
		}
		defer stmt.Close()
		record = func(ctx context.Context, args ...any) (int64, error) {
			res, err := stmt.ExecContext(ctx, args...)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		}
	}
	now := in.now().UTC()
	locked := map[orderKey]int64{} // the last number applied of each key locked
	out := make([]outcome, len(ds))
	for _, i := range inOrder(ds) {
		d := ds[i]
		o := applied
		if d.ev.Key != "" {
			if o, err = in.order(tx, d, now, locked); err != nil {
				return nil, err
			}
			if o == ahead {
				out[i] = ahead
				continue
			}
		}
		n, err := record(d.ctx, d.ev.ID, d.ev.Type, d.ev.Source, now)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			out[i] = duplicate
			continue
		}
		if effect != nil {
			if err := effect(d.ctx, exec, d.ev); err != nil {
				return nil, err
			}
		}
		out[i] = o
	}
	return out, tx.Commit()
}

// orderKey is a key of one publisher.
type orderKey struct{ source, key string }

// order decides whether the keyed event of d may be applied now and, if
// so, counts it as its key's latest, in tx, which then holds the key's
// row until it ends: another replica's event of the key waits for that,
// and then sees what this one applied. locked holds the last number of
// each key tx holds. An event at or below that number is late, or a
// duplicate, which the inbox tells.
func (in *Inbox) order(tx *sql.Tx, d delivery, now time.Time, locked map[orderKey]int64) (outcome, error) {
	k := orderKey{d.ev.Source, d.ev.Key}
	last, isLocked := locked[k]
	if !isLocked && !d.waited && !d.force {
		// The common case, the key's next event, in one statement: it
		// moves the key on only from where the event may follow.
		var res sql.Result
		var err error
		if d.need == 0 {
			res, err = tx.ExecContext(d.ctx, in.dialect.q(`INSERT INTO inbox_keys (source, ordering_key, seq, updated_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (source, ordering_key) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
				WHERE inbox_keys.seq < excluded.seq`), k.source, k.key, d.ev.Seq, now)
		} else {
			res, err = tx.ExecContext(d.ctx, in.dialect.q(`UPDATE inbox_keys SET seq = $3, updated_at = $4
				WHERE source = $1 AND ordering_key = $2 AND seq >= $5 AND seq < $3`), k.source, k.key, d.ev.Seq, now, d.need)
		}
		if err != nil {
			return 0, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, err
		} else if n == 1 {
			locked[k] = d.ev.Seq
			return applied, nil
		}
	}
	if !isLocked {
		// An event found ahead before is looked at without a lock
		// first: it is mostly still ahead, and then costs no write.
		if d.waited && !d.force {
			err := tx.QueryRowContext(d.ctx, in.dialect.q(`SELECT seq FROM inbox_keys WHERE source = $1 AND ordering_key = $2`), k.source, k.key).Scan(&last)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return 0, err
			}
			if d.ev.Seq > last && d.need > last {
				return ahead, nil
			}
		}
		if err := tx.QueryRowContext(d.ctx, in.dialect.q(`INSERT INTO inbox_keys (source, ordering_key, seq, updated_at) VALUES ($1, $2, 0, $3)
			ON CONFLICT (source, ordering_key) DO UPDATE SET updated_at = excluded.updated_at RETURNING seq`), k.source, k.key, now).Scan(&last); err != nil {
			return 0, err
		}
		locked[k] = last
	}
	o := applied
	switch {
	case d.ev.Seq <= last:
		return late, nil
	case d.need > last && !d.force:
		return ahead, nil
	case d.need > last:
		o = skipped
	}
	if _, err := tx.ExecContext(d.ctx, in.dialect.q(`UPDATE inbox_keys SET seq = $3 WHERE source = $1 AND ordering_key = $2`), k.source, k.key, d.ev.Seq); err != nil {
		return 0, err
	}
	locked[k] = d.ev.Seq
	return o, nil
}

// pass counts a keyed event as applied without applying it, so that the
// key's later events do not wait for it: one this service dead-lettered.
func (in *Inbox) pass(ctx context.Context, ev Event) error {
	if ev.Key == "" {
		return nil
	}
	_, err := in.db.ExecContext(ctx, in.dialect.q(`INSERT INTO inbox_keys (source, ordering_key, seq, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (source, ordering_key) DO UPDATE SET seq = CASE WHEN excluded.seq > inbox_keys.seq THEN excluded.seq ELSE inbox_keys.seq END,
		updated_at = excluded.updated_at`), ev.Source, ev.Key, ev.Seq, in.now().UTC())
	return err
}

// Handled is one row of the inbox, as GET /inbox shows it.
type Handled struct {
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	Source  string `json:"source"`
}

// List returns at most limit handled events, oldest first, from the one
// after the event whose id is after ("" for the first).
func (in *Inbox) List(ctx context.Context, after string, limit int) ([]Handled, error) {
	rows, err := in.db.QueryContext(ctx, in.dialect.q(`SELECT event_id, type, source FROM inbox
		WHERE $1 = '' OR (handled_at, event_id) > (SELECT handled_at, event_id FROM inbox WHERE event_id = $1)
		ORDER BY handled_at, event_id LIMIT $2`), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Handled{}
	for rows.Next() {
		var h Handled
		if err := rows.Scan(&h.EventID, &h.Type, &h.Source); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Prune forgets the events handled more than maxAge ago and returns how
// many it forgot. A redelivery of one of them would be applied again, so
// maxAge must outlast the broker's retention (see Retention). It also
// forgets the keys no event came for in maxAge: the next event of such a
// key, which follows one the inbox no longer knows, waits GapTimeout once
// and is then applied.
func (in *Inbox) Prune(ctx context.Context, maxAge time.Duration) (int64, error) {
	before := in.now().UTC().Add(-maxAge)
	res, err := in.db.ExecContext(ctx, in.dialect.q(`DELETE FROM inbox WHERE handled_at < $1`), before)
	if err != nil {
		return 0, err
	}
	if _, err := in.db.ExecContext(ctx, in.dialect.q(`DELETE FROM inbox_keys WHERE updated_at < $1`), before); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ServeHTTP serves the inbox as JSON, a page at a time: GET
// /inbox?limit=100&after=EVENT_ID, where after is the last event_id of
// the page before. It is on the admin listener, for msx only: the events
// name items a public caller may not see.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if r.URL.Query().Get("limit") == "" {
		limit, err = 100, nil
	}
	if err != nil || limit < 1 || limit > 1000 {
		http.Error(w, `{"error":"limit must be a number from 1 to 1000"}`, http.StatusBadRequest)
		return
	}
	list, err := in.List(r.Context(), r.URL.Query().Get("after"), limit)
	if err != nil {
		http.Error(w, `{"error":"cannot read the inbox"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// ConsumeOptions tunes delivery; zero values are the defaults.
type ConsumeOptions struct {
	// MaxDeliver is how many times an event is tried before it goes to
	// the dead-letter stream, 5.
	MaxDeliver int
	// Backoff is the wait before the nth redelivery; the last value
	// repeats. Default 100ms, 500ms, 2s, 5s.
	Backoff []time.Duration
	// AckWait is how long the broker waits for an ack before it
	// redelivers, 30s.
	AckWait time.Duration
	// Batch is how many events that have arrived are handled together,
	// in one inbox transaction, at most; 256.
	Batch int
	// InboxMaxAge is how long the inbox remembers a handled event
	// (Retention.InboxMaxAge); the consumer prunes it hourly. 0 keeps all.
	InboxMaxAge time.Duration
	// DrainTimeout bounds Stop's wait for the events already fetched to
	// be handled, 5s; those not handled by then are delivered again.
	DrainTimeout time.Duration
	// GapTimeout is how long a keyed event waits for an earlier event of
	// its key before it is applied without it (see Inbox), twice AckWait:
	// longer than AckWait, so that an earlier event a replica took with it
	// when it died is redelivered, and applied, before the wait runs out.
	GapTimeout time.Duration
}

// aheadRetry is how soon an event that waits for an earlier one of its
// key is tried again: the earlier one is mostly in another replica's
// transaction, about to commit.
const aheadRetry = 20 * time.Millisecond

// Consumer is one service's durable consumer of its subscriptions.
type Consumer struct {
	cc   []jetstream.ConsumeContext
	stop chan struct{}
	done chan struct{}
	once sync.Once
	// drain bounds Stop's wait for the fetched events to be handled.
	drain time.Duration
}

// Stop stops fetching, then drains: the events already fetched are
// handled and acknowledged, for at most DrainTimeout, rather than left to
// be redelivered to another replica once the broker's AckWait ran out.
func (c *Consumer) Stop() {
	c.once.Do(func() {
		// Each consumer stops fetching and hands over what it fetched.
		for _, cc := range c.cc {
			cc.Drain()
		}
		t := time.NewTimer(c.drain)
		defer t.Stop()
	drained:
		for _, cc := range c.cc {
			select {
			case <-cc.Closed():
			case <-t.C:
				c.stopAll()
				break drained
			}
		}
		close(c.stop)
	})
	<-c.done
}

// stopAll stops fetching for every topic.
func (c *Consumer) stopAll() {
	for _, cc := range c.cc {
		cc.Stop()
	}
}

// consumer is what handling a batch needs.
type consumer struct {
	b       *Broker
	service string
	inbox   *Inbox
	effect  Effect
	handles func(topic string) bool // the topics of the handlers; nil: all
	tracer  trace.Tracer
	log     *slog.Logger
	opts    ConsumeOptions
	now     func() time.Time // time.Now if nil
}

// inflight is a fetched event that is not settled yet: its span runs
// from its arrival to its ack, however long it waits for its key.
type inflight struct {
	msg     jetstream.Msg
	ctx     context.Context // the span's
	span    trace.Span
	ev      Event
	since   time.Time // when it arrived
	touched time.Time // when the broker's AckWait for it last started
	waited  bool      // found ahead of its key before
}

// Consume creates (or updates) service's durable consumer of the topics of
// handlers and hands the events, in batches of those that have arrived, to
// the inbox. Acknowledgements are explicit and follow the commit: an
// event is acked once handled (or found handled before), nacked with
// backoff when its effect fails, and after MaxDeliver attempts published
// to the dead-letter stream with the error, logged, and terminated, so
// that the rest keep flowing.
func (b *Broker) Consume(ctx context.Context, service string, handlers Handlers, inbox *Inbox, log *slog.Logger, opts ConsumeOptions) (*Consumer, error) {
	if opts.MaxDeliver == 0 {
		opts.MaxDeliver = 5
	}
	if len(opts.Backoff) == 0 {
		opts.Backoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second}
	}
	if opts.AckWait == 0 {
		opts.AckWait = 30 * time.Second
	}
	if opts.Batch == 0 {
		opts.Batch = 256
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 5 * time.Second
	}
	if opts.GapTimeout == 0 {
		opts.GapTimeout = 2 * opts.AckWait
	}
	c := &Consumer{stop: make(chan struct{}), done: make(chan struct{}), drain: opts.DrainTimeout}
	msgs := make(chan jetstream.Msg, opts.Batch)
	// One consumer per topic, its one filter in the subject it is created
	// on, which the broker checks against the service's permissions; all
	// feed the same batches.
	for _, t := range handlers.Topics() {
		var cons jetstream.Consumer
		var err error
		for {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			cons, err = b.JS.CreateOrUpdateConsumer(cctx, Stream, jetstream.ConsumerConfig{
				Durable:       ConsumerName(service, t),
				FilterSubject: SubjectPrefix + t,
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       opts.AckWait,
				MaxDeliver:    opts.MaxDeliver,
				DeliverPolicy: jetstream.DeliverAllPolicy,
			})
			cancel()
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				c.stopAll()
				return nil, fmt.Errorf("creating consumer %s: %w", ConsumerName(service, t), err)
			case <-time.After(250 * time.Millisecond):
			}
		}
		cc, err := cons.Consume(func(msg jetstream.Msg) {
			select {
			case msgs <- msg:
			case <-c.stop:
			case <-ctx.Done():
			}
		})
		if err != nil {
			c.stopAll()
			return nil, err
		}
		c.cc = append(c.cc, cc)
	}
	h := &consumer{b: b, service: service, inbox: inbox, effect: handlers.Effect,
		handles: func(topic string) bool { return handlers[topic] != nil },
		tracer:  otel.Tracer("platform/messaging"), log: log, opts: opts}
	if opts.InboxMaxAge > 0 {
		go inbox.pruneEvery(ctx, time.Hour, opts.InboxMaxAge, c.stop, log)
	}
	go func() {
		defer close(c.done)
		// Events that wait for an earlier one of their key: tried again
		// every aheadRetry, unacknowledged meanwhile.
		var waiting []*inflight
		var retry <-chan time.Time // not reset by arrivals: a steady flow does not starve the waiting
		for {
			var batch []*inflight
			if retry == nil && len(waiting) > 0 {
				retry = time.After(aheadRetry)
			}
			select {
			case m := <-msgs:
				batch = h.arrived(ctx, batch, m)
			case <-retry:
				retry = nil
				batch, waiting = waiting, nil
			case <-c.stop:
				// What the drain handed over after the last batch.
				batch = waiting
				for len(msgs) > 0 {
					batch = h.arrived(ctx, batch, <-msgs)
				}
				// Still waiting: to another replica at once, rather
				// than after AckWait.
				for _, f := range h.handle(context.WithoutCancel(ctx), batch) {
					_ = f.msg.Nak()
					f.span.End()
				}
				// Acks are sent without waiting for the broker: a round
				// trip makes sure it has them before Stop returns, so that
				// none of these events goes to another replica after
				// AckWait (seen under load: 4 of 40 still pending).
				_ = b.NC.FlushTimeout(c.drain)
				return
			case <-ctx.Done():
				return
			}
		more:
			for len(batch) < opts.Batch {
				select {
				case m := <-msgs:
					batch = h.arrived(ctx, batch, m)
				default:
					break more
				}
			}
			waiting = append(waiting, h.handle(ctx, batch)...)
		}
	}()
	return c, nil
}

// pruneEvery prunes the inbox now and every interval until stop or ctx.
func (in *Inbox) pruneEvery(ctx context.Context, interval, maxAge time.Duration, stop <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := in.Prune(ctx, maxAge); err != nil {
			log.Warn("pruning the inbox failed; will retry", "err", err, "in", interval)
		} else if n > 0 {
			log.Info("inbox pruned", "events", n, "older_than", maxAge.String())
		}
		select {
		case <-t.C:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (h *consumer) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// arrived appends a fetched message to batch, its span started and its
// event decoded; one that is no event is failed at once.
func (h *consumer) arrived(ctx context.Context, batch []*inflight, msg jetstream.Msg) []*inflight {
	recordLag(ctx, msg)
	// The publisher's trace continues here, across the hop.
	mctx := otel.GetTextMapPropagator().Extract(ctx, headerCarrier(msg.Headers()))
	mctx, span := h.tracer.Start(mctx, "process "+Topic(msg.Subject()), trace.WithSpanKind(trace.SpanKindConsumer))
	ev, err := decodeEvent(msg.Subject(), msg.Headers(), msg.Data())
	if err != nil {
		h.failed(mctx, msg, ev, err)
		span.RecordError(err)
		span.End()
		return batch
	}
	now := h.clock()
	return append(batch, &inflight{msg: msg, ctx: mctx, span: span, ev: ev, since: now, touched: now})
}

// handle handles a batch of events in one inbox transaction, each
// acknowledged after it commits. If it fails, each is handled alone, so
// that only a failing one is retried. It returns those that wait for an
// earlier event of their key, unsettled, for the caller to try again.
func (h *consumer) handle(ctx context.Context, batch []*inflight) (waiting []*inflight) {
	if len(batch) == 0 {
		return nil
	}
	now := h.clock()
	ds := make([]delivery, len(batch))
	for i, f := range batch {
		ds[i] = delivery{ctx: f.ctx, ev: f.ev, need: needOf(f.ev, h.handles), force: now.Sub(f.since) >= h.opts.GapTimeout, waited: f.waited}
	}
	out, err := h.inbox.handle(ctx, ds, h.effect)
	if err != nil && len(ds) > 1 {
		// One by one, a key's events in order.
		out = make([]outcome, len(ds))
		errs := make([]error, len(ds))
		for _, i := range inOrder(ds) {
			var o []outcome
			if o, errs[i] = h.inbox.handle(ctx, ds[i:i+1], h.effect); errs[i] == nil {
				out[i] = o[0]
			}
		}
		for i, f := range batch {
			if w := h.settle(f, out[i], errs[i]); w {
				waiting = append(waiting, f)
			}
		}
		return h.keepAlive(waiting, now)
	}
	for i, f := range batch {
		o := ahead
		if err == nil {
			o = out[i]
		}
		if w := h.settle(f, o, err); w {
			waiting = append(waiting, f)
		}
	}
	return h.keepAlive(waiting, now)
}

// keepAlive tells the broker that events waiting longer than a third of
// AckWait are still being worked on, so that it does not redeliver them
// to another replica while their wait lasts.
func (h *consumer) keepAlive(waiting []*inflight, now time.Time) []*inflight {
	for _, f := range waiting {
		if now.Sub(f.touched) >= h.opts.AckWait/3 {
			_ = f.msg.InProgress()
			f.touched = now
		}
	}
	return waiting
}

// headerCarrier reads a message's trace context. NATS headers keep the
// case they were written in (traceparent), which an http.Header carrier
// would look up as Traceparent: the keys are lowercased, as the
// propagators ask for them.
func headerCarrier(h nats.Header) propagation.MapCarrier {
	c := propagation.MapCarrier{}
	for k, v := range h {
		if len(v) > 0 {
			c[strings.ToLower(k)] = v[0]
		}
	}
	return c
}

// settle acknowledges a handled event, or fails it; it reports an event
// that waits for an earlier one of its key, which it leaves unsettled.
func (h *consumer) settle(f *inflight, o outcome, err error) (waits bool) {
	if err == nil && o == ahead {
		f.waited = true
		return true
	}
	defer f.span.End()
	if err != nil {
		f.span.RecordError(err)
		h.failed(f.ctx, f.msg, f.ev, err)
		return false
	}
	switch o {
	case late:
		h.log.Warn("event applied after later events of its key, which had waited for it too long", "event", f.ev.ID, "key", f.ev.Key, "seq", f.ev.Seq)
	case skipped:
		h.log.Warn("event applied without earlier events of its key, which did not come in time", "event", f.ev.ID, "key", f.ev.Key, "seq", f.ev.Seq, "waited", h.opts.GapTimeout.String())
	}
	if err := f.msg.Ack(); err != nil {
		h.log.Warn("ack failed; the event will be redelivered and recognised", "event", f.ev.ID, "err", err)
	}
	return false
}

// failed retries an event with backoff, or dead-letters it after the last
// attempt.
func (h *consumer) failed(ctx context.Context, msg jetstream.Msg, ev Event, err error) {
	delivered := uint64(1)
	if md, mdErr := msg.Metadata(); mdErr == nil {
		delivered = md.NumDelivered
	}
	if delivered >= uint64(h.opts.MaxDeliver) {
		if h.b.deadLetter(ctx, msg, h.service, err, h.log) {
			// The key's later events need not wait for it.
			if err := h.inbox.pass(ctx, ev); err != nil {
				h.log.Warn("the later events of a dead-lettered event's key wait for it until GapTimeout", "event", ev.ID, "key", ev.Key, "err", err)
			}
		}
		return
	}
	wait := h.opts.Backoff[min(int(delivered)-1, len(h.opts.Backoff)-1)]
	h.log.Warn("event handler failed; will retry", "subject", msg.Subject(), "event", ev.ID, "attempt", delivered, "in", wait, "err", err)
	_ = msg.NakWithDelay(wait)
}

// deadLetter publishes msg to the dead-letter stream with the error, then
// terminates it: it is not delivered again. It reports whether it did.
func (b *Broker) deadLetter(ctx context.Context, msg jetstream.Msg, service string, cause error, log *slog.Logger) bool {
	dl := nats.NewMsg(DeadLetterPrefix + service + "." + Topic(msg.Subject()))
	dl.Data = msg.Data()
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader {
			dl.Header[k] = v
		}
	}
	dl.Header.Set("Msx-Error", cause.Error())
	dl.Header.Set("Msx-Subject", msg.Subject())
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.JS.PublishMsg(pctx, dl); err != nil {
		// Not terminated: it will be delivered once more, and dead-lettered then.
		log.Error("dead-lettering failed", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(time.Second)
		return false
	}
	recordDeadLetter(ctx, msg)
	log.Error("event dead-lettered after repeated failures", "subject", msg.Subject(), "dead_letter", dl.Subject, "err", cause)
	_ = msg.TermWithReason("dead-lettered")
	return true
}
