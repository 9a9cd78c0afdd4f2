package main

import (
	"context"
	"embed"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// PostgresStore is a Store in PostgreSQL; platform/postgres opens its pool.
type PostgresStore struct {
	pool *pgxpool.Pool
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
	var it Item
	err := s.pool.QueryRow(ctx,
		`INSERT INTO items (name) VALUES ($1) RETURNING id, name, created_at`, name,
	).Scan(&it.ID, &it.Name, &it.CreatedAt)
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM items WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
