package messaging

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"

	"example.com/shop/platform/config"
	"example.com/shop/platform/service"
)

// Start connects a service with a database to the broker when NATS_URL is
// set (msx up sets it once some service subscribes) and returns the outbox
// its store adds events to, in the transaction of each change; nil, and
// nothing started, without a broker. With handlers, their topics are
// consumed into the inbox, and GET /inbox on the admin listener (for msx,
// behind the admin token) shows what was handled.
func Start(ctx context.Context, s *service.Service, db *sql.DB, d Dialect, handlers Handlers) (*Outbox, error) {
	url := config.String("NATS_URL", "")
	if url == "" {
		return nil, nil
	}
	broker, err := Connect(ctx, url, s.Name, s.Log)
	if err != nil {
		return nil, err
	}
	s.OnStop(broker.Close)
	outbox := NewOutbox(db, d, s.Name)
	go outbox.Relay(ctx, broker, s.Log, RelayOptions{})
	if len(handlers) == 0 {
		return outbox, nil
	}
	inbox := NewInbox(db, d)
	consumer, err := broker.Consume(ctx, s.Name, handlers, inbox, s.Log, ConsumeOptions{})
	if err != nil {
		return nil, err
	}
	s.OnStop(consumer.Stop)
	s.Admin.Handle("GET /inbox", inbox)
	return outbox, nil
}

// PgxExec is the Exec of a pgx transaction.
func PgxExec(tx pgx.Tx) Exec {
	return func(ctx context.Context, query string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, query, args...)
		return tag.RowsAffected(), err
	}
}
