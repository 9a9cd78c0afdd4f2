package messaging

import (
	"context"
	"database/sql"
	"encoding/json"
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

// Inbox is a subscriber's table of handled events.
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
}

// Handle applies effect to ev once: in one transaction it records ev.ID
// and, if it was not recorded before, runs effect. It returns false for an
// event already handled (a redelivery), which is then not applied again.
func (in *Inbox) Handle(ctx context.Context, ev Event, effect Effect) (bool, error) {
	applied, err := in.handle(ctx, []delivery{{ctx, ev}}, effect)
	if err != nil {
		return false, err
	}
	return applied[0], nil
}

// HandleBatch is Handle for several events in one transaction, one commit
// for all of them: how a subscriber keeps up with its publishers. An error
// of any effect rolls back every one; handle them one by one then.
// applied[i] is false for an event handled before (or earlier in evs).
func (in *Inbox) HandleBatch(ctx context.Context, evs []Event, effect Effect) ([]bool, error) {
	ds := make([]delivery, len(evs))
	for i, ev := range evs {
		ds[i] = delivery{ctx, ev}
	}
	return in.handle(ctx, ds, effect)
}

func (in *Inbox) handle(ctx context.Context, ds []delivery, effect Effect) ([]bool, error) {
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
	applied := make([]bool, len(ds))
	for i, d := range ds {
		n, err := record(d.ctx, d.ev.ID, d.ev.Type, d.ev.Source, now)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		if effect != nil {
			if err := effect(d.ctx, exec, d.ev); err != nil {
				return nil, err
			}
		}
		applied[i] = true
	}
	return applied, tx.Commit()
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
// maxAge must outlast the broker's retention (see Retention).
func (in *Inbox) Prune(ctx context.Context, maxAge time.Duration) (int64, error) {
	res, err := in.db.ExecContext(ctx, in.dialect.q(`DELETE FROM inbox WHERE handled_at < $1`), in.now().UTC().Add(-maxAge))
	if err != nil {
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
}

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
	tracer  trace.Tracer
	log     *slog.Logger
	opts    ConsumeOptions
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
		tracer: otel.Tracer("platform/messaging"), log: log, opts: opts}
	if opts.InboxMaxAge > 0 {
		go inbox.pruneEvery(ctx, time.Hour, opts.InboxMaxAge, c.stop, log)
	}
	go func() {
		defer close(c.done)
		for {
			var batch []jetstream.Msg
			select {
			case m := <-msgs:
				batch = append(batch, m)
			case <-c.stop:
				// What the drain handed over after the last batch.
				for len(msgs) > 0 {
					batch = append(batch, <-msgs)
				}
				if len(batch) > 0 {
					h.handle(context.WithoutCancel(ctx), batch)
				}
				return
			case <-ctx.Done():
				return
			}
		more:
			for len(batch) < opts.Batch {
				select {
				case m := <-msgs:
					batch = append(batch, m)
				default:
					break more
				}
			}
			h.handle(ctx, batch)
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

// handle handles a batch of messages: their events in one inbox
// transaction, acknowledged after it commits. If it fails, each is handled
// alone, so that only a failing one is retried.
func (h *consumer) handle(ctx context.Context, msgs []jetstream.Msg) {
	var ds []delivery
	var ok []jetstream.Msg
	var spans []trace.Span
	for _, msg := range msgs {
		recordLag(ctx, msg)
		// The publisher's trace continues here, across the hop.
		mctx := otel.GetTextMapPropagator().Extract(ctx, headerCarrier(msg.Headers()))
		mctx, span := h.tracer.Start(mctx, "process "+Topic(msg.Subject()), trace.WithSpanKind(trace.SpanKindConsumer))
		ev, err := decodeEvent(msg.Subject(), msg.Data())
		if err != nil {
			h.failed(mctx, msg, ev, err)
			span.RecordError(err)
			span.End()
			continue
		}
		ds = append(ds, delivery{mctx, ev})
		ok = append(ok, msg)
		spans = append(spans, span)
	}
	if len(ds) == 0 {
		return
	}
	_, err := h.inbox.handle(ctx, ds, h.effect)
	for i, d := range ds {
		if err != nil && len(ds) > 1 {
			_, err1 := h.inbox.handle(ctx, []delivery{d}, h.effect)
			h.settle(d.ctx, ok[i], d.ev, spans[i], err1)
			continue
		}
		h.settle(d.ctx, ok[i], d.ev, spans[i], err)
	}
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

// settle acknowledges a handled event, or fails it.
func (h *consumer) settle(ctx context.Context, msg jetstream.Msg, ev Event, span trace.Span, err error) {
	defer span.End()
	if err != nil {
		span.RecordError(err)
		h.failed(ctx, msg, ev, err)
		return
	}
	if err := msg.Ack(); err != nil {
		h.log.Warn("ack failed; the event will be redelivered and recognised", "event", ev.ID, "err", err)
	}
}

// failed retries an event with backoff, or dead-letters it after the last
// attempt.
func (h *consumer) failed(ctx context.Context, msg jetstream.Msg, ev Event, err error) {
	delivered := uint64(1)
	if md, mdErr := msg.Metadata(); mdErr == nil {
		delivered = md.NumDelivered
	}
	if delivered >= uint64(h.opts.MaxDeliver) {
		h.b.deadLetter(ctx, msg, h.service, err, h.log)
		return
	}
	wait := h.opts.Backoff[min(int(delivered)-1, len(h.opts.Backoff)-1)]
	h.log.Warn("event handler failed; will retry", "subject", msg.Subject(), "event", ev.ID, "attempt", delivered, "in", wait, "err", err)
	_ = msg.NakWithDelay(wait)
}

// deadLetter publishes msg to the dead-letter stream with the error, then
// terminates it: it is not delivered again.
func (b *Broker) deadLetter(ctx context.Context, msg jetstream.Msg, service string, cause error, log *slog.Logger) {
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
		return
	}
	recordDeadLetter(ctx, msg)
	log.Error("event dead-lettered after repeated failures", "subject", msg.Subject(), "dead_letter", dl.Subject, "err", cause)
	_ = msg.TermWithReason("dead-lettered")
}
