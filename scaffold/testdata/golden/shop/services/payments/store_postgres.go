package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"example.com/shop/platform/config"
	"example.com/shop/platform/dbtrace"
	"example.com/shop/platform/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// PostgresStore is a Store in PostgreSQL.
type PostgresStore struct {
	pool *pgxpool.Pool
}

var _ Store = (*PostgresStore)(nil)

// OpenPostgres connects to the database at url (postgres://user@host/db),
// waits for it to answer, and applies the migrations. The password comes
// from the file DATABASE_PASSWORD_FILE names, as msx up passes it, or from
// the URL when there is no such file (by hand).
func OpenPostgres(ctx context.Context, url string) (*PostgresStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx errors can quote the URL, and a URL can hold a password.
		return nil, errors.New("DATABASE_URL is not a valid postgres:// URL")
	}
	pw, err := config.File("DATABASE_PASSWORD_FILE")
	if err != nil {
		return nil, err
	}
	if pw != "" {
		cfg.ConnConfig.Password = pw
	}
	// A span per statement, named after it, without its parameters.
	cfg.ConnConfig.Tracer = dbtrace.PGX{}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	wait, err := config.Duration("DATABASE_WAIT", 60*time.Second)
	if err != nil {
		pool.Close()
		return nil, err
	}
	// The database may still be starting (a new volume takes seconds to
	// initialise): wait for it rather than crash.
	if err := migrate.Wait(ctx, pool.Ping, wait); err != nil {
		pool.Close()
		return nil, err
	}
	// The migrator speaks database/sql; stdlib lends it the same pool.
	db := stdlib.OpenDBFromPool(pool)
	_, err = migrate.UpLocked(ctx, db, migrations, "migrations")
	db.Close() // releases the wrapper, not the pool
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return &PostgresStore{pool: pool}, nil
}

// Ping checks the database answers, for /readyz.
func (s *PostgresStore) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool.
func (s *PostgresStore) Close() { s.pool.Close() }

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
