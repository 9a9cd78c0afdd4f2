package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// testStore runs the same checks against any Store, so that every
// implementation behaves like the MemoryStore the handler tests rely on.
func testStore(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()

	a, err := s.Create(ctx, "a")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	b, err := s.Create(ctx, "b")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if a.ID == 0 || b.ID <= a.ID || a.Name != "a" || a.CreatedAt.IsZero() {
		t.Fatalf("created %+v then %+v", a, b)
	}

	got, err := s.Get(ctx, a.ID)
	if err != nil || got.ID != a.ID || got.Name != "a" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, a)
	}

	list, err := s.List(ctx, 0, 100)
	if err != nil || len(list) < 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	// A page: at most limit items, after the given id, by id.
	page, err := s.List(ctx, a.ID, 1)
	if err != nil || len(page) != 1 || page[0].ID != b.ID {
		t.Fatalf("List(after %d, limit 1) = %v, %v; want [%d]", a.ID, page, err, b.ID)
	}

	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
}

func TestMemoryStore(t *testing.T) {
	testStore(t, NewMemoryStore())
}

func TestSQLiteStore(t *testing.T) {
	// A folder name that a DSN would misread unless the path is escaped.
	path := filepath.Join(t.TempDir(), "a?b #50%", "reviews.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at %s: %v", path, err)
	}
	testStore(t, s)
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	s.Close()

	// Opening again migrates nothing and keeps the data.
	s, err = OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	list, err := s.List(context.Background(), 0, 100)
	if err != nil || len(list) != 1 || list[0].Name != "b" {
		t.Errorf("after reopen List = %v, %v; want [b]", list, err)
	}
}
