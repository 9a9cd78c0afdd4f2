// Package paymentsapi is the contract of the payments service: its routes,
// types and typed client. Its handlers serve these types and its callers
// import this package, so a change here breaks every side at compile time.
package paymentsapi

import (
	"context"
	"strconv"
	"time"

	"example.com/shop/platform/httpjson"
)

// Routes of payments, declared once for its mux and for the client.
const (
	RouteListItems  = "GET /items"
	RouteCreateItem = "POST /items"
	RouteGetItem    = "GET /items/{id}"
	RouteDeleteItem = "DELETE /items/{id}"
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

// ItemList is one page of GET /items. Next, when set, is the ?after= of
// the next page; the last page has none.
type ItemList struct {
	Items []Item `json:"items"`
	Next  *int64 `json:"next,omitempty"`
}

// Client calls payments. A call that gets an answer other than 2xx
// returns *httpjson.StatusError with the status and the error body.
type Client struct {
	baseURL string
	http    httpjson.Doer // *httpclient.Client: breaker, timeout, retries, tracing
}

func NewClient(baseURL string, hc httpjson.Doer) *Client { return &Client{baseURL, hc} }

// ListItems returns one page: the items after the one whose ID is after (0:
// from the first), at most limit of them (0: the service's default).
func (c *Client) ListItems(ctx context.Context, after int64, limit int) (out ItemList, err error) {
	return out, httpjson.Call(ctx, c.http, c.baseURL, RouteListItems+httpjson.PageQuery(after, limit), nil, &out)
}

func (c *Client) CreateItem(ctx context.Context, req CreateItemRequest) (out Item, err error) {
	return out, httpjson.Call(ctx, c.http, c.baseURL, RouteCreateItem, req, &out)
}

func (c *Client) GetItem(ctx context.Context, id int64) (out Item, err error) {
	return out, httpjson.Call(ctx, c.http, c.baseURL, RouteGetItem, nil, &out, strconv.FormatInt(id, 10))
}

func (c *Client) DeleteItem(ctx context.Context, id int64) error {
	return httpjson.Call(ctx, c.http, c.baseURL, RouteDeleteItem, nil, nil, strconv.FormatInt(id, 10))
}
