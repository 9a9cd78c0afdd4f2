// Package reviewsapi is the contract of the reviews service, a GraphQL
// service: its schema (schema.graphqls), the types it serves, and the
// typed client callers import. The server's execution code is generated
// from the schema and the client from operations.graphql checked against
// it, so a change to the schema breaks every side that no longer fits, at
// generate or compile time.
//
// The client is genqlient's, not gqlgen's client package: genqlient
// generates one typed Go function per operation, validated against the
// schema when it is generated, so a renamed or removed field stops the
// callers' build; gqlgen's client is an untyped helper for tests that
// would fail only at run time.
package reviewsapi

//go:generate go tool genqlient genqlient.yaml

import (
	"context"
	"net/http"
	"time"

	genqlient "github.com/Khan/genqlient/graphql"

	"example.com/shop/platform/gql"
	"example.com/shop/platform/httpjson"
)

// Item is the sample resource. Replace it with your own.
type Item struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type CreateItemRequest struct {
	Name string `json:"name"`
}

// ItemList is one page of items. Next, when set, is the after of the next
// page; the last page has none.
type ItemList struct {
	Items []Item `json:"items"`
	Next  *int64 `json:"next,omitempty"`
}

// ErrNotFound is what GetItem and DeleteItem return when there is no such
// item: a 404 *httpjson.StatusError, what a REST service's client returns,
// so that a caller answers 404 (httpjson.InternalError) whatever the API of
// the service it called. Compare with errors.Is.
var ErrNotFound error = &httpjson.StatusError{Route: "query GetItem", Status: http.StatusNotFound, Message: "item not found"}

// Client calls reviews through the operations of operations.graphql. A
// call answered with another status than 200 returns *httpjson.StatusError
// (503 with its Retry-After when reviews or one of its own dependencies
// is unavailable); an answer with GraphQL errors returns them as a
// gqlerror.List.
type Client struct {
	query, mutate genqlient.Client
}

// NewClient returns a client of the reviews at baseURL. hc is normally
// the *httpclient.Client of platform/service (breaker, retry budget,
// deadline, identity): queries go as GET, idempotent, so that it may retry
// them; mutations go as POST, never retried.
func NewClient(baseURL string, hc httpjson.Doer) *Client {
	c := &Client{}
	c.query, c.mutate = gql.NewClients(baseURL, hc)
	return c
}

// GraphQL returns the clients to call the other operations of
// operations.graphql with: query for queries, mutate for mutations.
func (c *Client) GraphQL() (query, mutate genqlient.Client) { return c.query, c.mutate }

// ListItems returns one page: the items after the one whose ID is after (0:
// from the first), at most limit of them (0: the service's default).
func (c *Client) ListItems(ctx context.Context, after int64, limit int) (ItemList, error) {
	resp, err := ListItems(ctx, c.query, after, limit)
	if err != nil {
		return ItemList{}, err
	}
	out := ItemList{Items: make([]Item, 0, len(resp.Items.Items))}
	for _, it := range resp.Items.Items {
		out.Items = append(out.Items, Item{ID: it.Id, Name: it.Name, CreatedAt: it.CreatedAt})
	}
	if resp.Items.Next != 0 {
		out.Next = &resp.Items.Next
	}
	return out, nil
}

func (c *Client) CreateItem(ctx context.Context, req CreateItemRequest) (Item, error) {
	resp, err := CreateItem(ctx, c.mutate, req.Name)
	if err != nil {
		return Item{}, err
	}
	it := resp.CreateItem
	return Item{ID: it.Id, Name: it.Name, CreatedAt: it.CreatedAt}, nil
}

func (c *Client) GetItem(ctx context.Context, id int64) (Item, error) {
	resp, err := GetItem(ctx, c.query, id)
	if err != nil {
		return Item{}, err
	}
	it := resp.Item
	if it.Id == 0 {
		return Item{}, ErrNotFound
	}
	return Item{ID: it.Id, Name: it.Name, CreatedAt: it.CreatedAt}, nil
}

func (c *Client) DeleteItem(ctx context.Context, id int64) error {
	resp, err := DeleteItem(ctx, c.mutate, id)
	if err == nil && !resp.DeleteItem {
		err = ErrNotFound
	}
	return err
}
