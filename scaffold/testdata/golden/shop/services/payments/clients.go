package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"example.com/shop/platform/httpclient"
)

// dependencies holds a typed client for each service payments calls.
type dependencies struct {
	catalog *CatalogClient
	orders  *OrdersClient
}

// CatalogClient calls the catalog service. Each call goes through a
// circuit breaker, with a timeout, and GETs are retried with backoff.
type CatalogClient struct {
	baseURL string
	http    *httpclient.Client
}

// NewCatalogClient returns a client of the catalog service at baseURL
// (http://host:port).
func NewCatalogClient(baseURL string, hc *httpclient.Client) *CatalogClient {
	return &CatalogClient{baseURL: strings.TrimSuffix(baseURL, "/"), http: hc}
}

// ListItems returns the items of catalog.
func (c *CatalogClient) ListItems(ctx context.Context) ([]Item, error) {
	var body struct {
		Items []Item `json:"items"`
	}
	if err := getJSON(ctx, c.http, c.baseURL+"/items", &body); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return body.Items, nil
}

// OrdersClient calls the orders service. Each call goes through a
// circuit breaker, with a timeout, and GETs are retried with backoff.
type OrdersClient struct {
	baseURL string
	http    *httpclient.Client
}

// NewOrdersClient returns a client of the orders service at baseURL
// (http://host:port).
func NewOrdersClient(baseURL string, hc *httpclient.Client) *OrdersClient {
	return &OrdersClient{baseURL: strings.TrimSuffix(baseURL, "/"), http: hc}
}

// ListItems returns the items of orders.
func (c *OrdersClient) ListItems(ctx context.Context) ([]Item, error) {
	var body struct {
		Items []Item `json:"items"`
	}
	if err := getJSON(ctx, c.http, c.baseURL+"/items", &body); err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	return body.Items, nil
}

// getJSON GETs url and decodes its JSON answer into v; any status but 200
// is an error.
func getJSON(ctx context.Context, hc *httpclient.Client, url string, v any) error {
	resp, err := hc.Get(ctx, url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 10<<20)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return nil
}

// upstreamResult is one dependency's part of the /upstream answer: its
// items, or the error that kept us from getting them.
type upstreamResult struct {
	Items []Item `json:"items,omitzero"` // nil is left out, empty is []
	Error string `json:"error,omitempty"`
}

// listUpstream answers GET /upstream: each dependency's items, fetched
// concurrently through its typed client. A failing dependency does not fail
// the others: its key holds {"error": "..."} instead of {"items": [...]}.
//
// The status is 200 even then: the answer is complete about what failed,
// and a 5xx would count as a failure of this whole service in the
// gateway's circuit breaker, cutting its healthy routes because one of its
// dependencies is down. Callers and monitoring read the "error" keys.
func (a *api) listUpstream(w http.ResponseWriter, r *http.Request) {
	calls := map[string]func(context.Context) ([]Item, error){
		"catalog": a.deps.catalog.ListItems,
		"orders":  a.deps.orders.ListItems,
	}

	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		results = make(map[string]upstreamResult, len(calls))
	)
	for name, call := range calls {
		wg.Go(func() {
			items, err := call(r.Context())
			res := upstreamResult{Items: items}
			if err != nil {
				res = upstreamResult{Error: err.Error()}
				a.log.WarnContext(r.Context(), "dependency failed", "dependency", name, "error", err.Error())
			} else if items == nil {
				res.Items = []Item{}
			}
			mu.Lock()
			defer mu.Unlock()
			results[name] = res
		})
	}
	wg.Wait()

	writeJSON(w, http.StatusOK, results)
}
