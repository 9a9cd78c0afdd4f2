package memstore

import "testing"

func TestStore(t *testing.T) {
	var s Store[string]
	a := s.Add(func(id int64) string { return "a" })
	s.Add(func(id int64) string { return "b" })
	if got := s.List(); len(got) != 2 || got[0] != "a" || got[1] != "b" || a != "a" {
		t.Fatalf("List = %v", got)
	}
	if v, ok := s.Get(2); !ok || v != "b" {
		t.Fatalf("Get(2) = %q, %v", v, ok)
	}
	if !s.Delete(1) || s.Delete(1) {
		t.Fatal("Delete(1) twice did not report true then false")
	}
	if _, ok := s.Get(1); ok {
		t.Fatal("Get after Delete found the value")
	}
	// IDs are never reused: a new value after a delete gets a new ID.
	var id3 int64
	s.Add(func(id int64) string { id3 = id; return "c" })
	if id3 != 3 {
		t.Fatalf("next ID = %d, want 3", id3)
	}
}
