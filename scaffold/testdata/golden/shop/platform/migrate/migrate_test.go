package migrate

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	_ "modernc.org/sqlite"
)

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUpAppliesOnceInOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"m/002_add_rows.sql": {Data: []byte(`INSERT INTO t (name) VALUES ('a');`)},
		"m/001_create_t.sql": {Data: []byte(`CREATE TABLE t (name TEXT NOT NULL);`)},
		"m/README.txt":       {Data: []byte(`not a migration`)},
	}
	db := openSQLite(t)
	ctx := context.Background()

	n, err := Up(ctx, db, fsys, "m")
	if err != nil || n != 2 {
		t.Fatalf("first Up = %d, %v; want 2, nil", n, err)
	}
	n, err = Up(ctx, db, fsys, "m")
	if err != nil || n != 0 {
		t.Fatalf("second Up = %d, %v; want 0, nil", n, err)
	}
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("rows = %d, %v; want 1: a migration ran twice", rows, err)
	}
}

func TestFailedMigrationLeavesNoTrace(t *testing.T) {
	fsys := fstest.MapFS{
		"m/001_create_t.sql": {Data: []byte(`CREATE TABLE t (name TEXT); INSERT INTO nope VALUES (1);`)},
	}
	db := openSQLite(t)
	if _, err := Up(context.Background(), db, fsys, "m"); err == nil {
		t.Fatal("want an error from a broken migration")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 0 {
		t.Errorf("schema_migrations has %d rows, %v; want 0", n, err)
	}
	if _, err := db.Exec(`SELECT * FROM t`); err == nil {
		t.Error("table t exists: the failed migration was not rolled back")
	}
}

func TestLoadRejectsBadNames(t *testing.T) {
	for _, name := range []string{"m/create.sql", "m/0_x.sql", "m/abc_x.sql"} {
		fsys := fstest.MapFS{name: {Data: []byte(`SELECT 1;`)}}
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("Load accepted %s", name)
		}
	}
	dup := fstest.MapFS{"m/001_a.sql": {}, "m/1_b.sql": {}}
	if _, err := Load(dup, "m"); err == nil {
		t.Error("Load accepted two migrations of version 1")
	}
}

func TestUpNamesTheFailingFile(t *testing.T) {
	fsys := fstest.MapFS{
		"m/001_ok.sql":     {Data: []byte(`CREATE TABLE t (name TEXT);`)},
		"m/002_broken.sql": {Data: []byte(`INSERT INTO nope VALUES (1);`)},
	}
	n, err := Up(context.Background(), openSQLite(t), fsys, "m")
	if n != 1 || err == nil || !strings.Contains(err.Error(), "migration 002_broken.sql: ") || !strings.Contains(err.Error(), "no such table: nope") {
		t.Fatalf("Up = %d, %v; want 1 and an error naming 002_broken.sql and the database's reason", n, err)
	}
}

func TestWaitRetriesWithBackoff(t *testing.T) {
	calls := 0
	ping := func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return nil
	}
	if err := Wait(context.Background(), ping, 5*time.Second); err != nil || calls != 3 {
		t.Fatalf("Wait = %v after %d calls; want nil after 3", err, calls)
	}
	down := func(context.Context) error { return errors.New("connection refused") }
	err := Wait(context.Background(), down, 250*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 250ms: connection refused") {
		t.Fatalf("Wait on a database that never answers = %v", err)
	}
}
