package main

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"example.com/shop/platform/httpjson"
	"example.com/shop/services/orders/ordersapi"
	"example.com/shop/services/reviews/graph"
	"example.com/shop/services/reviews/reviewsapi"
)

const maxNameLen = 200 // characters of an item's name

// api holds what the resolvers of reviews need. It is gqlgen's
// ResolverRoot: after a schema change, go generate, then the compiler
// lists the resolvers to add or change here.
type api struct {
	store        Store
	ordersClient *ordersapi.Client
}

var _ graph.ResolverRoot = (*api)(nil)

func (a *api) Query() graph.QueryResolver       { return queryResolver{a} }
func (a *api) Mutation() graph.MutationResolver { return mutationResolver{a} }

type queryResolver struct{ *api }

func (r queryResolver) Items(ctx context.Context, after *int64, limit *int) (*reviewsapi.ItemList, error) {
	from, n := int64(0), httpjson.DefaultPageSize
	if after != nil {
		from = *after
	}
	if limit != nil {
		if *limit < 1 || *limit > httpjson.MaxPageSize {
			return nil, gqlerror.Errorf("limit must be a whole number from 1 to %d", httpjson.MaxPageSize)
		}
		n = *limit
	}
	// One more than asked for tells whether there is a next page.
	items, err := r.store.List(ctx, from, n+1)
	if err != nil {
		return nil, err
	}
	page, next := httpjson.NextPage(items, n, func(it Item) int64 { return it.ID })
	if page == nil {
		page = []Item{}
	}
	return &reviewsapi.ItemList{Items: page, Next: next}, nil
}

func (r queryResolver) Item(ctx context.Context, id int64) (*reviewsapi.Item, error) {
	it, err := r.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &it, nil
}

type mutationResolver struct{ *api }

func (r mutationResolver) CreateItem(ctx context.Context, name string) (*reviewsapi.Item, error) {
	if name = strings.TrimSpace(name); name == "" || utf8.RuneCountInString(name) > maxNameLen {
		return nil, gqlerror.Errorf("name must have 1 to %d characters", maxNameLen)
	}
	it, err := r.store.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return &it, nil
}

func (r mutationResolver) DeleteItem(ctx context.Context, id int64) (bool, error) {
	err := r.store.Delete(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
