package main

import (
	"context"
	"time"

	"example.com/shop/platform/memstore"
	"example.com/shop/services/reviews/reviewsapi"
)

type Item = reviewsapi.Item

// ErrNotFound is what every Store returns for a missing item.
var ErrNotFound = memstore.ErrNotFound

// Store keeps items. Handlers depend on this interface, not on a database,
// so they are tested against MemoryStore.
type Store interface {
	// List returns a page: at most limit items with an ID above after.
	List(ctx context.Context, after int64, limit int) ([]Item, error)
	Create(ctx context.Context, name string) (Item, error)
	Get(ctx context.Context, id int64) (Item, error)
	Delete(ctx context.Context, id int64) error
}

// MemoryStore is a Store in memory.
type MemoryStore struct{ memstore.Store[Item] }

func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

func (s *MemoryStore) Create(_ context.Context, name string) (Item, error) {
	return s.Add(func(id int64) Item { return Item{ID: id, Name: name, CreatedAt: time.Now().UTC()} }), nil
}
