// Package postgres opens a service's PostgreSQL database: a pgx pool with
// the service's embedded migrations applied.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"example.com/shop/platform/migrate"
)

// Open connects to the database at url (postgres://user:pass@host/db) and
// applies the migrations in dir of fsys. An empty url says how to set it.
func Open(ctx context.Context, url string, fsys fs.FS, dir string) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, errors.New("DATABASE_URL is not set: msx up sets it; by hand, export DATABASE_URL=postgres://user:password@localhost:5432/NAME")
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		// pgx errors can quote the URL; do not repeat it, it holds a password.
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	// The migrator speaks database/sql; stdlib lends it the same pool.
	db := stdlib.OpenDBFromPool(pool)
	_, err = migrate.Up(ctx, db, fsys, dir)
	db.Close() // releases the wrapper, not the pool
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return pool, nil
}
