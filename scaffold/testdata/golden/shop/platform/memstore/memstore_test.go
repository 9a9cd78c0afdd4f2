package memstore

import (
	"context"
	"errors"
	"testing"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	var s Store[string]
	a := s.Add(func(id int64) string { return "a" })
	s.Add(func(id int64) string { return "b" })
	if got, err := s.List(ctx, 0, 10); err != nil || len(got) != 2 || got[0] != "a" || got[1] != "b" || a != "a" {
		t.Fatalf("List = %v, %v", got, err)
	}
	if v, err := s.Get(ctx, 2); err != nil || v != "b" {
		t.Fatalf("Get(2) = %q, %v", v, err)
	}
	if err := s.Delete(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete(1) = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	// IDs are never reused: a new value after a delete gets a new ID.
	var id3 int64
	s.Add(func(id int64) string { id3 = id; return "c" })
	if id3 != 3 {
		t.Fatalf("next ID = %d, want 3", id3)
	}
}
