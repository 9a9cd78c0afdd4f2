// Package migrate applies SQL migrations embedded in a program to its
// database at start-up.
//
// Migrations are files named NNN_description.sql (001_create_items.sql),
// applied in version order, each in its own transaction together with the
// row that records it in schema_migrations, so a migration is applied
// entirely and once, or not at all. Running Up again applies only what is
// new. There are no down migrations: to undo, write a new migration.
//
// Several replicas starting at once against PostgreSQL must not race: UpLocked
// holds a PostgreSQL advisory lock while it migrates, so the first replica
// applies what is new and the others, once it is done, find nothing to do.
// Wait retries a database that is still starting, with backoff, so that a
// service started beside its database does not crash while it initialises.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DB is what migrations run on: a *sql.DB, or one *sql.Conn of it when a
// session-level lock must be held throughout.
type DB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

var (
	_ DB = (*sql.DB)(nil)
	_ DB = (*sql.Conn)(nil)
)

// LockKey is the PostgreSQL advisory lock UpLocked holds: one per database
// (advisory locks are per database), the same for every replica.
const LockKey int64 = 0x6d73785f6d6967 // "msx_mig"

// UpLocked is Up on PostgreSQL under an advisory lock, so that replicas
// starting together apply each migration once: the others wait for the
// lock, then find the migrations applied.
func UpLocked(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) (int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, LockKey); err != nil {
		return 0, fmt.Errorf("take the migration lock: %w", err)
	}
	// The lock is the session's: closing the connection releases it too,
	// should the unlock fail.
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, LockKey)
	return Up(ctx, conn, fsys, dir)
}

// Wait calls ping until it succeeds, with backoff from 100ms doubling to at
// most 2s, for at most timeout: a database that is still starting is not a
// reason to crash. The error is ping's last one.
func Wait(ctx context.Context, ping func(context.Context) error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		err := ping(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("the database did not answer within %s: %w", timeout, err)
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// Migration is one file of SQL.
type Migration struct {
	Version int
	Name    string // the file name
	SQL     string
}

// Load reads the *.sql files of dir in fsys, sorted by version.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name it NNN_description.sql, NNN a positive number", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Up applies the migrations of dir in fsys that db has not seen yet and
// returns how many it applied. The SQL it writes itself is portable across
// SQLite and PostgreSQL.
func Up(ctx context.Context, db DB, fsys fs.FS, dir string) (int, error) {
	migrations, err := Load(fsys, dir)
	if err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		if err := apply(ctx, db, m); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func appliedVersions(ctx context.Context, db DB) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func apply(ctx context.Context, db DB, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	// The version is an int parsed from the file name, so formatting it
	// into the statement is safe, and spares the two dialects' different
	// placeholders ($1 and ?). Should another process have applied the
	// same migration meanwhile (SQLite, or Up without the lock), this
	// insert fails and the transaction rolls back.
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version) VALUES ("+strconv.Itoa(m.Version)+")"); err != nil {
		return fmt.Errorf("migration %s: record version: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}
