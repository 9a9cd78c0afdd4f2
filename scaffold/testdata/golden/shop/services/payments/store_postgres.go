package main

import (
	"context"
	"embed"
	"errors"

	"example.com/shop/platform/messaging"
	"example.com/shop/services/payments/paymentsapi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// PostgresStore is a Store in PostgreSQL; platform/postgres opens its pool.
type PostgresStore struct {
	pool   *pgxpool.Pool
	outbox *messaging.Outbox // item events, added in the transaction of the change
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
func (s *PostgresStore) Create(ctx context.Context, name string) (it Item, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO items (name) VALUES ($1) RETURNING id, name, created_at`, name).Scan(&it.ID, &it.Name, &it.CreatedAt); err != nil {
			return err
		}
		return s.outbox.Add(ctx, messaging.PgxExec(tx), paymentsapi.ItemCreated{ItemID: it.ID, Name: it.Name})
	})
	s.outbox.Notify()
	return it, err
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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if tag, err := tx.Exec(ctx, `DELETE FROM items WHERE id = $1`, id); err != nil {
			return err
		} else if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return s.outbox.Add(ctx, messaging.PgxExec(tx), paymentsapi.ItemDeleted{ItemID: id})
	})
	s.outbox.Notify()
	return err
}
