package main

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Item is the sample resource of orders. Replace it with your own.
type Item struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// ErrNotFound is returned by a Store when no item has the given ID.
var ErrNotFound = errors.New("item not found")

// Store keeps items. Handlers depend on this interface, not on a database,
// so they are tested against MemoryStore.
type Store interface {
	// List returns at most limit items with an ID above after, by ID: a
	// page of the keyset pagination GET /items serves.
	List(ctx context.Context, after int64, limit int) ([]Item, error)
	Create(ctx context.Context, name string) (Item, error)
	Get(ctx context.Context, id int64) (Item, error)
	Delete(ctx context.Context, id int64) error
}

// MemoryStore is a Store in memory: the store of a service without a
// database, and the one handler tests use. It is safe for concurrent use.
type MemoryStore struct {
	mu     sync.Mutex
	items  map[int64]Item
	nextID int64
	now    func() time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{items: make(map[int64]Item), nextID: 1, now: time.Now}
}

// List returns at most limit items with an ID above after, oldest first.
func (s *MemoryStore) List(ctx context.Context, after int64, limit int) ([]Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, 0, len(s.items))
	for _, it := range s.items {
		if it.ID > after {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b Item) int { return cmp.Compare(a.ID, b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Create stores a new item named name.
func (s *MemoryStore) Create(ctx context.Context, name string) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := Item{ID: s.nextID, Name: name, CreatedAt: s.now().UTC()}
	s.items[it.ID] = it
	s.nextID++
	return it, nil
}

// Get returns the item with the given ID, or ErrNotFound.
func (s *MemoryStore) Get(ctx context.Context, id int64) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	if !ok {
		return Item{}, ErrNotFound
	}
	return it, nil
}

// Delete removes the item with the given ID, or returns ErrNotFound.
func (s *MemoryStore) Delete(ctx context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[id]; !ok {
		return ErrNotFound
	}
	delete(s.items, id)
	return nil
}
