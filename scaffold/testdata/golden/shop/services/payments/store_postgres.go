package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"example.com/shop/platform/messaging"
)

//go:embed migrations/*.sql
var migrations embed.FS

// PostgresStore is a Store in PostgreSQL; platform/postgres opens its pool.
type PostgresStore struct {
	pool *pgxpool.Pool
	// outbox, when set, receives item.created and item.deleted in the
	// transaction of the change.
	outbox *messaging.Outbox
}

// SQL is the pool as a database/sql handle, for the outbox relay and the
// inbox.
func (s *PostgresStore) SQL() *sql.DB { return stdlib.OpenDBFromPool(s.pool) }

// SetOutbox makes the store publish its items' events through o.
func (s *PostgresStore) SetOutbox(o *messaging.Outbox) { s.outbox = o }

// txExec is the messaging.Exec of a pgx transaction.
func txExec(tx pgx.Tx) messaging.Exec {
	return func(ctx context.Context, query string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, query, args...)
		return tag.RowsAffected(), err
	}
}

// List returns at most limit items with an ID above after, oldest first.
func (s *PostgresStore) List(ctx context.Context, after int64, limit int) ([]Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, created_at FROM items WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Item])
	if items == nil {
		items = []Item{}
	}
	return items, err
}

// Create stores a new item named name.
func (s *PostgresStore) Create(ctx context.Context, name string) (Item, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Item{}, err
	}
	defer tx.Rollback(ctx)
	var it Item
	if err := tx.QueryRow(ctx,
		`INSERT INTO items (name) VALUES ($1) RETURNING id, name, created_at`, name,
	).Scan(&it.ID, &it.Name, &it.CreatedAt); err != nil {
		return Item{}, err
	}
	// In the same transaction: the event exists if and only if the item does.
	if err := s.outbox.Add(ctx, txExec(tx), messaging.ItemCreated, messaging.ItemEvent{ItemID: it.ID, Name: it.Name}); err != nil {
		return Item{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Item{}, err
	}
	s.outbox.Notify()
	return it, nil
}

// Get returns the item with the given ID, or ErrNotFound.
func (s *PostgresStore) Get(ctx context.Context, id int64) (Item, error) {
	var it Item
	err := s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM items WHERE id = $1`, id).
		Scan(&it.ID, &it.Name, &it.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	return it, err
}

// Delete removes the item with the given ID, or returns ErrNotFound.
func (s *PostgresStore) Delete(ctx context.Context, id int64) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `DELETE FROM items WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	if err := s.outbox.Add(ctx, txExec(tx), messaging.ItemDeleted, messaging.ItemEvent{ItemID: id}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}
