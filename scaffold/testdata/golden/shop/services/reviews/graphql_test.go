package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"example.com/shop/platform/gql"
	"example.com/shop/platform/httpjson"
	"example.com/shop/platform/inbound"
	"example.com/shop/platform/service"
	"example.com/shop/services/orders/ordersapi"
	"example.com/shop/services/reviews/reviewsapi"
)

// testSettings are the defaults of gql.LoadSettings, with introspection.
var testSettings = gql.Settings{MaxDepth: 15, MaxComplexity: 5000, MaxBodyBytes: 1 << 20, Introspection: true}

// newTestServer serves the resolvers over store as platform/service
// serves them.
func newTestServer(t *testing.T, store Store, s gql.Settings) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	a := &api{store: store}
	a.register(mux, s)
	srv := httptest.NewServer(service.Handler(mux, "reviews", slog.New(slog.NewJSONHandler(io.Discard, nil)), inbound.Options{}))
	t.Cleanup(srv.Close)
	return srv
}

// TestItemsThroughTheClient drives the resolvers through the typed client
// callers use, over each store.
func TestItemsThroughTheClient(t *testing.T) {
	stores := map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemoryStore() },
		"sqlite": func(t *testing.T) Store {
			s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "test.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t, open(t), testSettings)
			c := reviewsapi.NewClient(srv.URL, srv.Client())
			ctx := context.Background()

			if list, err := c.ListItems(ctx, 0, 0); err != nil || list.Items == nil || len(list.Items) != 0 || list.Next != nil {
				t.Fatalf("ListItems of none = %+v, %v; want an empty page", list, err)
			}
			var ids []int64
			for _, n := range []string{"a", "b", "c"} {
				it, err := c.CreateItem(ctx, reviewsapi.CreateItemRequest{Name: " " + n + " "})
				if err != nil || it.ID == 0 || it.Name != n || it.CreatedAt.IsZero() {
					t.Fatalf("CreateItem(%q) = %+v, %v", n, it, err)
				}
				ids = append(ids, it.ID)
			}
			page, err := c.ListItems(ctx, 0, 2)
			if err != nil || len(page.Items) != 2 || page.Next == nil || *page.Next != ids[1] {
				t.Fatalf("first page = %+v, %v; want a, b and a next", page, err)
			}
			page, err = c.ListItems(ctx, *page.Next, 2)
			if err != nil || len(page.Items) != 1 || page.Items[0].Name != "c" || page.Next != nil {
				t.Fatalf("last page = %+v, %v; want c alone", page, err)
			}
			if it, err := c.GetItem(ctx, ids[0]); err != nil || it.Name != "a" {
				t.Errorf("GetItem = %+v, %v", it, err)
			}
			if err := c.DeleteItem(ctx, ids[0]); err != nil {
				t.Errorf("DeleteItem: %v", err)
			}
			if _, err := c.GetItem(ctx, ids[0]); !errors.Is(err, reviewsapi.ErrNotFound) {
				t.Errorf("GetItem of a deleted item: %v, want ErrNotFound", err)
			}
			if err := c.DeleteItem(ctx, ids[0]); !errors.Is(err, reviewsapi.ErrNotFound) {
				t.Errorf("DeleteItem of a deleted item: %v, want ErrNotFound", err)
			}
			if _, err := c.CreateItem(ctx, reviewsapi.CreateItemRequest{Name: "  "}); err == nil || !strings.Contains(err.Error(), "1 to 200 characters") {
				t.Errorf("CreateItem of a blank name: %v, want the rule it breaks", err)
			}
		})
	}
}

// post sends one GraphQL request and returns the status and the body.
func post(t *testing.T, srv *httptest.Server, body string) (int, gqlResponse) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+gql.Route, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// query is a JSON request body holding the operation q.
func query(q string) string {
	b, _ := json.Marshal(map[string]string{"query": q})
	return string(b)
}

// TestLimits: an operation over a limit is refused with 422 and the
// limit's code, before any resolver runs; so is a body over the limit
// (4xx), never a 500.
func TestLimits(t *testing.T) {
	s := testSettings
	s.MaxComplexity = 100
	srv := newTestServer(t, NewMemoryStore(), s)

	// 16 levels: __schema, types, fields, type, 11 ofType, name.
	deep := "{ __schema { types { fields { type " + strings.Repeat("{ ofType ", 11) + "{ name }" + strings.Repeat(" }", 11) + " } } } }"
	if status, r := post(t, srv, query(deep)); status != http.StatusUnprocessableEntity || r.code() != gql.CodeDepthLimit {
		t.Errorf("too deep: %d %+v, want 422 %s", status, r, gql.CodeDepthLimit)
	}
	if status, r := post(t, srv, query("{ items(limit: 50) { items { id name } } }")); status != http.StatusUnprocessableEntity || r.code() != gql.CodeComplexityLimit {
		t.Errorf("too complex: %d %+v, want 422 %s", status, r, gql.CodeComplexityLimit)
	}
	if status, r := post(t, srv, query("{ items(limit: 5) { items { id name } } }")); status != http.StatusOK || len(r.Errors) != 0 {
		t.Errorf("within the limits: %d %+v, want 200 without errors", status, r)
	}
	big := query("{ items { items { id } } }" + strings.Repeat(" ", 2<<20))
	if status, _ := post(t, srv, big); status < 400 || status >= 500 {
		t.Errorf("body over the limit: %d, want 4xx", status)
	}
	// Queries also come as GET, which a caller may retry; mutations do not.
	resp, err := srv.Client().Get(srv.URL + gql.Route + "?query=" + url.QueryEscape("mutation { deleteItem(id: \"1\") }"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("a mutation as GET: %d, want 4xx", resp.StatusCode)
	}
}

// TestIntrospectionOnlyWhenAsked: production settings turn introspection
// and the playground off.
func TestIntrospectionOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{true, false} {
		s := testSettings
		s.Introspection = on
		srv := newTestServer(t, NewMemoryStore(), s)
		_, r := post(t, srv, query("{ __schema { queryType { name } } }"))
		if got := len(r.Errors) == 0; got != on {
			t.Errorf("introspection %v: answered %+v", on, r)
		}
		resp, err := srv.Client().Get(srv.URL + "/playground")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK; got != on {
			t.Errorf("introspection %v: playground answered %d", on, resp.StatusCode)
		}
	}
}

// failingStore fails or panics, for the tests of what clients then see.
type failingStore struct {
	Store
	panics bool
}

func (s failingStore) List(ctx context.Context, after int64, limit int) ([]Item, error) {
	if s.panics {
		panic("a bug in List")
	}
	return nil, errors.New("disk on fire at /var/lib/secret")
}

// TestFailuresAreInternalErrors: a store error or a panic in a resolver
// answers a GraphQL error that says "internal error", without the
// details, which go to the log.
func TestFailuresAreInternalErrors(t *testing.T) {
	for _, panics := range []bool{false, true} {
		srv := newTestServer(t, failingStore{Store: NewMemoryStore(), panics: panics}, testSettings)
		status, r := post(t, srv, query("query ListItems { items { items { id } } }"))
		if status != http.StatusOK || len(r.Errors) != 1 || r.code() != gql.CodeInternal ||
			!strings.HasPrefix(r.Errors[0].Message, "internal error") || strings.Contains(r.Errors[0].Message, "secret") {
			t.Errorf("panics %v: %d %+v, want 200 with an internal error and no details", panics, status, r)
		}
	}
}

// TestUpstream serves each dependency's route from its API package with a
// fake, the first unavailable, and checks that /upstream reports each and
// passes the unavailability on: 503 with the fake's Retry-After.
func TestUpstream(t *testing.T) {
	a := &api{store: NewMemoryStore()}
	srv0 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method+" "+r.URL.Path != ordersapi.RouteListItems {
			httpjson.Error(w, http.StatusNotFound, "unexpected "+r.URL.Path)
			return
		}
		w.Header().Set("Retry-After", "7")
		httpjson.Error(w, http.StatusServiceUnavailable, "down for a test")
	}))
	defer srv0.Close()
	a.ordersClient = ordersapi.NewClient(srv0.URL, srv0.Client())
	mux := http.NewServeMux()
	a.register(mux, testSettings)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/upstream", nil))
	var got map[string]struct {
		Items []Item `json:"items"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "7" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After 7", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if e := got["orders"].Error; !strings.Contains(e, "503") || !strings.Contains(e, "down for a test") {
		t.Errorf("orders: error %q, want the status and the body's message", e)
	}
}
