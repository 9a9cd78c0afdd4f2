package messaging

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/shop/platform/config"
	"example.com/shop/platform/service"
)

// Start gives a service with a database the outbox its store adds events
// to, in the transaction of each change, and relays it to the broker at
// NATS_URL. Without NATS_URL (msx up sets it once some service
// subscribes) the relay says so once and the events wait in the outbox
// until the service runs with a broker: they are never dropped. With
// handlers, their topics are consumed into the inbox, and GET /inbox on
// the admin listener (for msx, behind the admin token) shows what was
// handled. At shutdown, after the server has drained, the
// relay publishes the events of the last requests and the consumer
// finishes what it fetched, each for at most DrainTimeout.
func Start(ctx context.Context, s *service.Service, db *sql.DB, d Dialect, handlers Handlers) (*Outbox, error) {
	r, err := RetentionFromEnv()
	if err != nil {
		return nil, err
	}
	outbox := NewOutbox(db, d, s.Name)
	s.OnStop(observeBacklog(outbox))
	url := config.String("NATS_URL", "")
	if url == "" {
		s.Log.Warn("no broker configured (NATS_URL is unset): events wait in the outbox, and none are consumed, until the service runs with one")
		return outbox, nil
	}
	broker, err := Connect(ctx, url, s.Name, r, s.Log)
	if err != nil {
		return nil, err
	}
	s.OnStop(broker.Close) // last: after the relay and the consumer
	// Both run until OnStop, not until the signal: the server still
	// serves, and adds events, while it drains.
	run, stop := context.WithCancel(context.WithoutCancel(ctx))
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		outbox.Relay(run, broker, RelayOptions{Log: s.Log, DrainTimeout: DrainTimeout})
	}()
	s.OnStop(func() { stop(); <-relayed })
	if len(handlers) == 0 {
		return outbox, nil
	}
	inbox := NewInbox(db, d)
	consumer, err := broker.Consume(run, s.Name, handlers, inbox, s.Log, ConsumeOptions{InboxMaxAge: r.InboxMaxAge, DrainTimeout: DrainTimeout})
	if err != nil {
		return nil, err
	}
	s.OnStop(consumer.Stop)
	s.Admin.Handle("GET /inbox", inbox)
	return outbox, nil
}

// DrainTimeout bounds what the relay and the consumer each still do at
// shutdown, once the server has drained.
const DrainTimeout = 5 * time.Second

// Retention bounds what is kept of events: msx.yaml's events section, as
// msx up passes it in the environment.
type Retention struct {
	// StreamMaxAge is how long the broker keeps an event (and a dead
	// letter), EVENTS_STREAM_MAX_AGE, 7 days: a subscriber that stays away
	// longer misses the older ones.
	StreamMaxAge time.Duration
	// StreamMaxBytes is the most each stream stores,
	// EVENTS_STREAM_MAX_MB, 1 GiB; beyond it the oldest events go.
	StreamMaxBytes int64
	// InboxMaxAge is how long a subscriber remembers an event it handled,
	// EVENTS_INBOX_MAX_AGE, the stream's age: an event the broker still
	// holds can be delivered again, and must be recognised.
	InboxMaxAge time.Duration
}

func (r Retention) withDefaults() Retention {
	if r.StreamMaxAge == 0 {
		r.StreamMaxAge = 7 * 24 * time.Hour
	}
	if r.StreamMaxBytes == 0 {
		r.StreamMaxBytes = 1 << 30
	}
	if r.InboxMaxAge == 0 {
		r.InboxMaxAge = r.StreamMaxAge
	}
	return r
}

// RetentionFromEnv reads the Retention that msx up passes.
func RetentionFromEnv() (Retention, error) {
	var r Retention
	var err error
	if r.StreamMaxAge, err = config.Duration("EVENTS_STREAM_MAX_AGE", 0); err != nil {
		return r, err
	}
	mb, err := config.Int64("EVENTS_STREAM_MAX_MB", 0)
	if err != nil {
		return r, err
	}
	r.StreamMaxBytes = mb << 20
	if r.InboxMaxAge, err = config.Duration("EVENTS_INBOX_MAX_AGE", 0); err != nil {
		return r, err
	}
	if r.StreamMaxAge < 0 || r.StreamMaxBytes < 0 || r.InboxMaxAge < 0 {
		return r, fmt.Errorf("EVENTS_STREAM_MAX_AGE, EVENTS_STREAM_MAX_MB and EVENTS_INBOX_MAX_AGE must not be negative")
	}
	r = r.withDefaults()
	if r.InboxMaxAge < r.StreamMaxAge {
		return r, fmt.Errorf("EVENTS_INBOX_MAX_AGE (%s) is shorter than EVENTS_STREAM_MAX_AGE (%s): an event redelivered after the inbox forgot it would be applied twice", r.InboxMaxAge, r.StreamMaxAge)
	}
	return r, nil
}

// PgxExec is the Exec of a pgx transaction.
func PgxExec(tx pgx.Tx) Exec {
	return func(ctx context.Context, query string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, query, args...)
		return tag.RowsAffected(), err
	}
}
