package main

import (
	"context"
	"errors"
	"os"
	"testing"

	"example.com/shop/platform/postgres"
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

// TestPostgresStore needs a database it may write to: set
// TEST_DATABASE_URL=postgres://user:password@localhost:5432/db (msx db payments
// prints one while msx up runs).
func TestPostgresStore(t *testing.T) {
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		t.Skip("TEST_DATABASE_URL is not set: skipping the PostgreSQL store test")
	}
	pool, err := postgres.Open(context.Background(), url, migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	testStore(t, &PostgresStore{pool: pool})
}
