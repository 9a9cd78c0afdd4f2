// Package postgres opens a service's PostgreSQL database: a pgx pool with
// the service's embedded migrations applied, its statistics on /metrics.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"example.com/shop/platform/config"
	"example.com/shop/platform/dbtrace"
	"example.com/shop/platform/metrics"
	"example.com/shop/platform/migrate"
)

// Open connects to the database at url (postgres://user@host/db), waits for
// it to answer, and applies the migrations in dir of fsys under an advisory
// lock, so replicas starting together never collide. The password comes from
// the file DATABASE_PASSWORD_FILE names, as msx up passes it, or from the URL
// when there is no such file (by hand). An empty url says how to set it.
func Open(ctx context.Context, url string, fsys fs.FS, dir string) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, errors.New("DATABASE_URL is not set: msx up sets it; by hand, export DATABASE_URL=postgres://user:password@localhost:5432/NAME")
	}
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
	_, err = migrate.UpLocked(ctx, db, fsys, dir)
	db.Close() // releases the wrapper, not the pool
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := metrics.Register(newPoolCollector(pool, cfg.ConnConfig.Database)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return pool, nil
}
