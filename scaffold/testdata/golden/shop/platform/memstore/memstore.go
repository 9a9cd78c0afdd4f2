// Package memstore keeps values in memory under increasing int64 IDs: the
// store of a service without a database, and the one handler tests use.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
)

// ErrNotFound is returned when no value has the given ID.
var ErrNotFound = errors.New("not found")

// Store holds values of type T by ID. It is safe for concurrent use; the
// zero value is empty and ready. Its methods take a context and return an
// error like those of a database store, so that it can stand in for one.
type Store[T any] struct {
	mu     sync.Mutex
	values map[int64]T
	lastID int64
}

// List returns at most limit values with an ID above after, in ID order.
func (s *Store[T]) List(_ context.Context, after int64, limit int) ([]T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.values))
	for id := range s.values {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, cmp.Compare)
	if len(ids) > limit {
		ids = ids[:max(limit, 0)]
	}
	out := make([]T, len(ids))
	for i, id := range ids {
		out[i] = s.values[id]
	}
	return out, nil
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

// Get returns the value with the given ID, or ErrNotFound.
func (s *Store[T]) Get(_ context.Context, id int64) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[id]
	if !ok {
		return v, ErrNotFound
	}
	return v, nil
}

// Delete removes the value with the given ID, or returns ErrNotFound.
func (s *Store[T]) Delete(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.values[id]; !ok {
		return ErrNotFound
	}
	delete(s.values, id)
	return nil
}
