package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver: no cgo, so images stay FROM scratch

	"example.com/shop/platform/dbtrace"
	"example.com/shop/platform/messaging"
	"example.com/shop/platform/metrics"
	"example.com/shop/platform/migrate"
	"example.com/shop/services/orders/ordersapi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// SQLiteStore is a Store in a SQLite database file.
type SQLiteStore struct {
	db *sql.DB
	// outbox, when set, receives item.created and item.deleted in the
	// transaction of the change.
	outbox *messaging.Outbox
}

var _ Store = (*SQLiteStore)(nil)

// OpenSQLite opens (creating it and its folder if needed) the database at
// path and applies the migrations.
func OpenSQLite(ctx context.Context, path string) (*SQLiteStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the database folder: %w", err)
	}
	// WAL lets readers work while a write is in progress; busy_timeout makes
	// a connection wait for a lock instead of failing with SQLITE_BUSY.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// The path is escaped: a folder named "a?b" or "50%" must not be read
	// as the start of the options.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// SQLite has one writer at a time. One connection makes Go queue the
	// writes instead of SQLite answering "database is locked"; that is the
	// simple, correct choice at the load one service sees. If reads become
	// the bottleneck, open a second, read-only *sql.DB with more conns.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0) // keep the connection, and its pragmas, forever

	if _, err := migrate.Up(ctx, db, migrations, "migrations"); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	// The pool's statistics on /metrics: with one connection, waits for
	// it are the writes queueing.
	if err := metrics.DB("orders", db); err != nil {
		db.Close()
		return nil, err
	}
	return &SQLiteStore{db: db}, nil
}

// Ping checks the database answers, for /readyz.
func (s *SQLiteStore) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *SQLiteStore) Close() error { return s.db.Close() }

// List returns at most limit items with an ID above after, oldest first.
func (s *SQLiteStore) List(ctx context.Context, after int64, limit int) (_ []Item, err error) {
	const q = `SELECT id, name, created_at FROM items WHERE id > ? ORDER BY id LIMIT ?`
	ctx, end := dbtrace.Start(ctx, "sqlite", q)
	defer func() { end(err) }()
	rows, err := s.db.QueryContext(ctx, q, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := []Item{}
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.ID, &it.Name, &it.CreatedAt); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// Create stores a new item named name.
func (s *SQLiteStore) Create(ctx context.Context, name string) (it Item, err error) {
	const q = `INSERT INTO items (name, created_at) VALUES (?, ?) RETURNING id, name, created_at`
	ctx, end := dbtrace.Start(ctx, "sqlite", q)
	defer func() { end(err) }()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Item{}, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, q, name, time.Now().UTC()).Scan(&it.ID, &it.Name, &it.CreatedAt); err != nil {
		return Item{}, err
	}
	// In the same transaction: the event exists if and only if the item does.
	if err := s.outbox.Add(ctx, messaging.SQLExec(tx), ordersapi.ItemCreated{ItemID: it.ID, Name: it.Name}); err != nil {
		return Item{}, err
	}
	if err := tx.Commit(); err != nil {
		return Item{}, err
	}
	s.outbox.Notify()
	return it, nil
}

// Get returns the item with the given ID, or ErrNotFound.
func (s *SQLiteStore) Get(ctx context.Context, id int64) (Item, error) {
	var it Item
	const q = `SELECT id, name, created_at FROM items WHERE id = ?`
	ctx, end := dbtrace.Start(ctx, "sqlite", q)
	err := s.db.QueryRowContext(ctx, q, id).Scan(&it.ID, &it.Name, &it.CreatedAt)
	end(err) // no row is not a failed statement
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	return it, err
}

// Delete removes the item with the given ID, or returns ErrNotFound.
func (s *SQLiteStore) Delete(ctx context.Context, id int64) (err error) {
	const q = `DELETE FROM items WHERE id = ?`
	ctx, end := dbtrace.Start(ctx, "sqlite", q)
	defer func() { end(err) }()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q, id)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	if err := s.outbox.Add(ctx, messaging.SQLExec(tx), ordersapi.ItemDeleted{ItemID: id}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}
