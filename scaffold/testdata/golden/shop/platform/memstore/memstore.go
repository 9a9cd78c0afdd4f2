// Package memstore keeps values in memory under increasing int64 IDs: the
// store of a service without a database, and the one handler tests use.
package memstore

import (
	"cmp"
	"slices"
	"sync"
)

// Store holds values of type T by ID. It is safe for concurrent use; the
// zero value is empty and ready.
type Store[T any] struct {
	mu     sync.Mutex
	values map[int64]T
	lastID int64
}

// List returns every value, in ID order.
func (s *Store[T]) List() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.values))
	for id := range s.values {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmp.Compare)
	out := make([]T, len(ids))
	for i, id := range ids {
		out[i] = s.values[id]
	}
	return out
}

// Add stores the value that build makes for the next ID, and returns it.
func (s *Store[T]) Add(build func(id int64) T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[int64]T{}
	}
	s.lastID++
	v := build(s.lastID)
	s.values[s.lastID] = v
	return v
}

// Get returns the value with the given ID and whether there is one.
func (s *Store[T]) Get(id int64) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[id]
	return v, ok
}

// Delete removes the value with the given ID and reports whether there was one.
func (s *Store[T]) Delete(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.values[id]
	delete(s.values, id)
	return ok
}
