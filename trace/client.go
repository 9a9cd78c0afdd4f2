// Package trace reads the spans the project's collector keeps and draws
// them: a list of recent traces, and one trace as a waterfall. Decoding
// OTLP and storing spans happen in the collector itself (its source is
// templates/collector/spans, whose types this package shares).
package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/msx-dev/msx/templates/collector/spans"
)

// The collector's types, as msx trace uses them.
type (
	Summary = spans.Summary
	Trace   = spans.Trace
	Span    = spans.SpanJSON
	Query   = spans.Query
)

// Client reads a collector's query API.
type Client struct {
	// BaseURL is http://127.0.0.1:PORT, the collector's published port.
	BaseURL string
	HTTP    *http.Client
}

// Errors of Get, worded by the caller.
var (
	ErrNotFound  = errors.New("no such trace")
	ErrAmbiguous = errors.New("ambiguous trace ID prefix")
)

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// List returns the most recent traces matching q, newest first.
func (c *Client) List(ctx context.Context, q Query) ([]Summary, error) {
	v := url.Values{}
	if q.Service != "" {
		v.Set("service", q.Service)
	}
	if q.MinDuration > 0 {
		v.Set("min_duration", q.MinDuration.String())
	}
	if q.Errors {
		v.Set("errors", "true")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out []Summary
	if err := c.get(ctx, "/api/traces?"+v.Encode(), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Get returns one trace by its ID or a unique prefix of it.
func (c *Client) Get(ctx context.Context, id string) (Trace, error) {
	var t Trace
	err := c.get(ctx, "/api/traces/"+url.PathEscape(id), &t)
	return t, err
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrAmbiguous
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("the collector answered %s: %s", resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Finder reads a collector whose address is looked up when first needed
// and again after a failed read: the collector's published port changes
// when its container is recreated, and an attached msx up starts it after
// the dashboard does. It is safe for concurrent use.
type Finder struct {
	// Find returns the collector's base URL, http://127.0.0.1:PORT.
	Find func(ctx context.Context) (string, error)
	HTTP *http.Client

	mu   sync.Mutex
	base string
}

func (f *Finder) client(ctx context.Context) (*Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.base == "" {
		base, err := f.Find(ctx)
		if err != nil {
			return nil, err
		}
		f.base = base
	}
	return &Client{BaseURL: f.base, HTTP: f.HTTP}, nil
}

// forget drops the address after a failure other than an answer about
// the trace itself, so that the next read looks it up again.
func (f *Finder) forget(err error) {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrAmbiguous) {
		return
	}
	f.mu.Lock()
	f.base = ""
	f.mu.Unlock()
}

// List is Client.List on the collector found.
func (f *Finder) List(ctx context.Context, q Query) ([]Summary, error) {
	c, err := f.client(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.List(ctx, q)
	f.forget(err)
	return list, err
}

// Get is Client.Get on the collector found.
func (f *Finder) Get(ctx context.Context, id string) (Trace, error) {
	c, err := f.client(ctx)
	if err != nil {
		return Trace{}, err
	}
	t, err := c.Get(ctx, id)
	f.forget(err)
	return t, err
}

// ParseID reads a trace ID as msx trace and msx logs --trace take it: the
// full 32 hexadecimal digits, or a prefix of them (msx logs shows the first
// eight), in either case. It returns the ID in lower case, as the
// collector and the programs' log lines spell it.
func ParseID(s string) (id string, ok bool) {
	id = strings.ToLower(s)
	if len(id) > 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", false
	}
	return id, true
}

// Began is when the first span of t started, or now for a trace without
// spans.
func Began(t Trace, now time.Time) time.Time {
	start := now
	for _, s := range t.Spans {
		if s.Start.Before(start) {
			start = s.Start
		}
	}
	return start
}
