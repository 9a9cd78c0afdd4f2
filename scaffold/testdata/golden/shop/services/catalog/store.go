package main

import (
	"context"
	"errors"
	"time"

	"example.com/shop/platform/memstore"
	"example.com/shop/services/catalog/catalogapi"
)

type Item = catalogapi.Item

var ErrNotFound = errors.New("item not found")

// Store keeps items. Handlers depend on this interface, not on a database,
// so they are tested against MemoryStore.
type Store interface {
	List(ctx context.Context) ([]Item, error)
	Create(ctx context.Context, name string) (Item, error)
	Get(ctx context.Context, id int64) (Item, error)
	Delete(ctx context.Context, id int64) error
}

// MemoryStore is a Store in memory.
type MemoryStore struct{ items memstore.Store[Item] }

func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

func (s *MemoryStore) List(context.Context) ([]Item, error) { return s.items.List(), nil }

func (s *MemoryStore) Create(_ context.Context, name string) (Item, error) {
	return s.items.Add(func(id int64) Item { return Item{ID: id, Name: name, CreatedAt: time.Now().UTC()} }), nil
}

func (s *MemoryStore) Get(_ context.Context, id int64) (Item, error) {
	if it, ok := s.items.Get(id); ok {
		return it, nil
	}
	return Item{}, ErrNotFound
}

func (s *MemoryStore) Delete(_ context.Context, id int64) error {
	if !s.items.Delete(id) {
		return ErrNotFound
	}
	return nil
}
