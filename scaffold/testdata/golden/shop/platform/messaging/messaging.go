// Package messaging carries events between the services of the workspace
// over NATS JetStream, never lost and never applied twice: a publisher
// writes each event to an outbox table in the same transaction as the
// change that caused it, and a relay publishes it with its id as
// JetStream's message id (duplicates within the stream's window are
// dropped) and removes it from the outbox only once the broker
// acknowledged it. A
// subscriber records each handled event id in an inbox table in the same
// transaction as the handler's effect, so a redelivered event is
// acknowledged without being applied again.
//
// The events of one aggregate (an item) are applied in the order their
// transactions committed, however many replicas publish and consume them:
// an event whose data is Keyed carries its aggregate's key and a number
// the publisher's transaction takes from a counter of that key, and the
// inbox applies a key's events by that number (see Inbox).
package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"example.com/shop/platform/config"
)

// Streams of the project: every event goes to Stream under SubjectPrefix;
// an event whose handler kept failing goes to DeadLetterStream.
const (
	Stream           = "EVENTS"
	SubjectPrefix    = "events."
	DeadLetterStream = "DEADLETTER"
	DeadLetterPrefix = "deadletter."
	// DuplicateWindow is how long the broker remembers a message id: a
	// relay that publishes an event again (it crashed before removing it
	// sent) within this window is not a second event.
	DuplicateWindow = 10 * time.Minute
)

// Subject is the broker subject of a service's event:
// Subject("orders", "item.created") is events.orders.item.created.
func Subject(source, event string) string { return SubjectPrefix + source + "." + event }

// Topic is the inverse of Subject, as msx.yaml's subscribes spells it:
// events.orders.item.created is orders.item.created.
func Topic(subject string) string { return strings.TrimPrefix(subject, SubjectPrefix) }

// ConsumerName is a subscribing service's durable consumer of one topic,
// shared by its replicas: one per topic, so that the broker can hold the
// service to the topics msx.yaml gives it (the filter is part of the
// subject the consumer is created on). ledger's of orders.item.created is
// ledger_orders_item_created.
func ConsumerName(service, topic string) string {
	return service + "_" + strings.ReplaceAll(topic, ".", "_")
}

// InboxPrefix is where a service's replies from the broker (answers, the
// events it pulls) come: its own, the only one it may subscribe to.
func InboxPrefix(service string) string { return "_INBOX_" + service }

// sourceOf splits a subject into the service that published it and the
// event's type: events.orders.item.created is orders, item.created. The
// broker lets a service publish under its own name only, so the subject,
// unlike the payload, says who sent the event.
func sourceOf(subject string) (source, typ string, ok bool) {
	rest, found := strings.CutPrefix(subject, SubjectPrefix)
	if !found {
		return "", "", false
	}
	source, typ, ok = strings.Cut(rest, ".")
	return source, typ, ok && source != "" && typ != ""
}

// Headers of a keyed event, which the relay sets from its outbox row: the
// key, the event's number among the key's events (from 1), and the number
// of the key's latest earlier event of each type, as a JSON object
// ({"item.created":1}), so that a subscriber of some of the types knows
// which earlier event it must have applied first.
const (
	KeyHeader  = "Msx-Key"
	SeqHeader  = "Msx-Seq"
	PrevHeader = "Msx-Prev"
)

// decodeEvent reads the event of a message. Its source and type are the
// subject's, whatever the payload says: a service can put any source in
// a payload, but publish only under its own name. Its key comes from the
// headers, which its publisher's relay set.
func decodeEvent(subject string, h nats.Header, data []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, err
	}
	if ev.ID == "" {
		return ev, errors.New("event has no id")
	}
	source, typ, ok := sourceOf(subject)
	if !ok {
		return ev, fmt.Errorf("subject %q is not %sSOURCE.TYPE", subject, SubjectPrefix)
	}
	ev.Source, ev.Type = source, typ
	if key := h.Get(KeyHeader); key != "" {
		seq, err := strconv.ParseInt(h.Get(SeqHeader), 10, 64)
		if err != nil || seq < 1 {
			return ev, fmt.Errorf("event %s has key %q but no number (%s %q)", ev.ID, key, SeqHeader, h.Get(SeqHeader))
		}
		if prev := h.Get(PrevHeader); prev != "" {
			if err := json.Unmarshal([]byte(prev), &ev.prev); err != nil {
				return ev, fmt.Errorf("event %s: %s: %w", ev.ID, PrevHeader, err)
			}
		}
		ev.Key, ev.Seq = key, seq
	}
	return ev, nil
}

// Event is what travels: an id unique to the event, its type
// (item.created), the service that published it, when, and its data.
type Event struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Source string          `json:"source"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`

	// Key is the aggregate of a Keyed event ("item/7"), and Seq its
	// number among the events of that key, from 1, in commit order; both
	// are empty for an event without a key. A handler receives a key's
	// events in Seq order (see Inbox).
	Key string `json:"-"`
	Seq int64  `json:"-"`
	// prev is the number of the key's latest earlier event of each type.
	prev map[string]int64
}

// Data is the data of one type of event: a struct in the publishing
// service's API package (ordersapi.ItemCreated), the contract its
// subscribers import, which names its type (item.created).
type Data interface {
	EventType() string
}

// Keyed is the data of an event about one aggregate: OrderingKey names it
// ("item/7"), unique among the publisher's aggregates. The events of one
// key reach a subscriber's handler in the order their transactions
// committed, whatever the number of replicas on either side; events of
// different keys, or without one, in any order.
type Keyed interface {
	Data
	OrderingKey() string
}

// Broker is a connection to the project's NATS server with JetStream.
type Broker struct {
	NC *nats.Conn
	JS jetstream.JetStream

	retention Retention // the streams' limits
}

// Connect connects to the broker at url and makes sure the streams exist,
// with the limits of r. It keeps reconnecting forever: while the broker is
// down, events wait in the outbox and consumers resume where they were.
//
// The broker knows each service by an nkey: its seed is the file
// NATS_NKEY_FILE names, which msx gives the service alone, and its
// replies come under its own InboxPrefix, the only one it may read.
func Connect(ctx context.Context, url, name string, r Retention, log *slog.Logger) (*Broker, error) {
	opts := []nats.Option{nats.Name(name), nats.CustomInboxPrefix(InboxPrefix(name))}
	if seed := config.String("NATS_NKEY_FILE", ""); seed != "" {
		opt, err := nats.NkeyOptionFromSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("NATS_NKEY_FILE: %w", err)
		}
		opts = append(opts, opt)
	}
	nc, err := nats.Connect(url, append(opts,
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		// A publish while disconnected fails at once rather than waiting
		// in a buffer sent after the reconnect, ahead of events of the
		// same round that were lost with the old connection.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("broker disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("broker reconnected") }),
	)...)
	if err != nil {
		return nil, fmt.Errorf("NATS_URL: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(PublishAckTimeout))
	if err != nil {
		nc.Close()
		return nil, err
	}
	b := &Broker{NC: nc, JS: js, retention: r.withDefaults()}
	if err := b.ensureStreams(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// ensureStreams creates or updates the two streams, retrying until ctx
// ends: the broker may still be starting or restarting.
func (b *Broker) ensureStreams(ctx context.Context) error {
	for {
		err := b.createStreams(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("creating the streams: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (b *Broker) createStreams(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       Stream,
		Subjects:   []string{SubjectPrefix + ">"},
		Storage:    jetstream.FileStorage,
		Duplicates: DuplicateWindow,
		MaxAge:     b.retention.StreamMaxAge,
		MaxBytes:   b.retention.StreamMaxBytes,
	}); err != nil {
		return err
	}
	_, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     DeadLetterStream,
		Subjects: []string{DeadLetterPrefix + ">"},
		Storage:  jetstream.FileStorage,
		MaxAge:   b.retention.StreamMaxAge,
		MaxBytes: b.retention.StreamMaxBytes,
	})
	return err
}

// Publish sends one event of service source straight to the broker and
// waits for its acknowledgement, without an outbox: for a service without
// a database. It guarantees less than the outbox does. Once Publish
// returns nil the broker has stored the event, and subscribers apply it
// exactly once. But nothing ties the event to the change that caused it:
// if the process stops between the change and Publish, or Publish fails
// (the broker is down), the event is lost unless the caller retries; and
// an event published before a change that then fails announces a change
// that did not happen. So publish after the change, and retry on error if
// losing an event matters (a retry within DuplicateWindow with the same
// event is not a second one only if it has the same ID: keep the Event).
// Nor does it number Keyed data: with no transaction to take the number
// in, subscribers apply such an event as it comes, in no set order.
func (b *Broker) Publish(ctx context.Context, source string, data Data) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	ev := Event{ID: NewID(), Type: data.EventType(), Source: source, Time: time.Now().UTC(), Data: raw}
	return ev, b.PublishEvent(ctx, ev)
}

// PublishEvent publishes ev as it is, its ID the broker's message id: a
// retry of the same Event within DuplicateWindow is not a second event.
func (b *Broker) PublishEvent(ctx context.Context, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	m := nats.NewMsg(Subject(ev.Source, ev.Type))
	m.Data = payload
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	for k, v := range carrier {
		m.Header.Set(k, v)
	}
	_, err = b.JS.PublishMsg(ctx, m, jetstream.WithMsgID(ev.ID))
	return err
}

// Close drains the connection: pending acknowledgements go out first.
func (b *Broker) Close() { _ = b.NC.Drain() }
