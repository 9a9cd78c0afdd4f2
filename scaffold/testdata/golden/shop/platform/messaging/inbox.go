package messaging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// Handle applies effect to ev once: in one transaction it records ev.ID
// and, if it was not recorded before, runs effect. It returns false for an
// event already handled (a redelivery), which is then not applied again.
func (in *Inbox) Handle(ctx context.Context, ev Event, effect Effect) (bool, error) {
	var data ItemEvent
	_ = json.Unmarshal(ev.Data, &data) // item_id is shown by /inbox when there is one
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	exec := SQLExec(tx)
	n, err := exec(ctx, in.dialect.q(`INSERT INTO inbox (event_id, type, source, item_id, handled_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING`),
		ev.ID, ev.Type, ev.Source, data.ItemID, in.now().UTC())
	if err != nil {
		return false, err
	}
	if n == 0 {
		return false, nil
	}
	if effect != nil {
		if err := effect(ctx, exec, ev); err != nil {
			return false, err
		}
	}
	return true, tx.Commit()
}

// Handled is one row of the inbox, as GET /inbox shows it.
type Handled struct {
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	Source  string `json:"source"`
	ItemID  int64  `json:"item_id"`
}

// List returns the handled events, oldest first.
func (in *Inbox) List(ctx context.Context) ([]Handled, error) {
	rows, err := in.db.QueryContext(ctx, `SELECT event_id, type, source, item_id FROM inbox ORDER BY handled_at, event_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Handled{}
	for rows.Next() {
		var h Handled
		if err := rows.Scan(&h.EventID, &h.Type, &h.Source, &h.ItemID); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ServeHTTP serves the inbox as JSON: GET /inbox.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	list, err := in.List(r.Context())
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
}

// Consumer is one service's durable consumer of its subscriptions.
type Consumer struct {
	cc jetstream.ConsumeContext
}

// Stop stops fetching; messages being handled finish.
func (c *Consumer) Stop() { c.cc.Stop() }

// Consume creates (or updates) service's durable consumer of topics
// (orders.item.created) and hands each event to inbox.Handle with effect.
// Acknowledgements are explicit: an event is acked once handled (or found
// handled before), nacked with backoff when effect fails, and after
// MaxDeliver attempts published to the dead-letter stream with the error,
// logged, and terminated, so that the rest keep flowing.
func (b *Broker) Consume(ctx context.Context, service string, topics []string, inbox *Inbox, effect Effect, log *slog.Logger, opts ConsumeOptions) (*Consumer, error) {
	if opts.MaxDeliver == 0 {
		opts.MaxDeliver = 5
	}
	if len(opts.Backoff) == 0 {
		opts.Backoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 5 * time.Second}
	}
	if opts.AckWait == 0 {
		opts.AckWait = 30 * time.Second
	}
	subjects := make([]string, len(topics))
	for i, t := range topics {
		subjects[i] = SubjectPrefix + t
	}
	var cons jetstream.Consumer
	var err error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cons, err = b.JS.CreateOrUpdateConsumer(cctx, Stream, jetstream.ConsumerConfig{
			Durable:        ConsumerName(service),
			FilterSubjects: subjects,
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        opts.AckWait,
			MaxDeliver:     opts.MaxDeliver,
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		})
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("creating consumer %s: %w", service, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	tracer := otel.Tracer("platform/messaging")
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		b.handle(ctx, msg, service, inbox, effect, tracer, log, opts)
	})
	if err != nil {
		return nil, err
	}
	return &Consumer{cc: cc}, nil
}

func (b *Broker) handle(ctx context.Context, msg jetstream.Msg, service string, inbox *Inbox, effect Effect,
	tracer trace.Tracer, log *slog.Logger, opts ConsumeOptions) {
	// The publisher's trace continues here, across the hop.
	ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(msg.Headers()))
	ctx, span := tracer.Start(ctx, "process "+Topic(msg.Subject()), trace.WithSpanKind(trace.SpanKindConsumer))
	defer span.End()

	var ev Event
	err := json.Unmarshal(msg.Data(), &ev)
	if err == nil && ev.ID == "" {
		err = errors.New("event has no id")
	}
	if err == nil {
		_, err = inbox.Handle(ctx, ev, effect)
	}
	if err == nil {
		if err := msg.Ack(); err != nil {
			log.Warn("ack failed; the event will be redelivered and recognised", "event", ev.ID, "err", err)
		}
		return
	}
	span.RecordError(err)
	delivered := uint64(1)
	if md, mdErr := msg.Metadata(); mdErr == nil {
		delivered = md.NumDelivered
	}
	if delivered >= uint64(opts.MaxDeliver) {
		b.deadLetter(ctx, msg, service, err, log)
		return
	}
	wait := opts.Backoff[min(int(delivered)-1, len(opts.Backoff)-1)]
	log.Warn("event handler failed; will retry", "subject", msg.Subject(), "event", ev.ID, "attempt", delivered, "in", wait, "err", err)
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
	log.Error("event dead-lettered after repeated failures", "subject", msg.Subject(), "dead_letter", dl.Subject, "err", cause)
	_ = msg.TermWithReason("dead-lettered")
}
