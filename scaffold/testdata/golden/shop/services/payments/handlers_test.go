package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"example.com/shop/platform/httpjson"
	"example.com/shop/platform/inbound"
	"example.com/shop/platform/service"
	"example.com/shop/services/catalog/catalogapi"
	"example.com/shop/services/orders/ordersapi"
)

// newTestHandler serves the handlers over a MemoryStore, wrapped as
// platform/service serves them.
func newTestHandler(t *testing.T) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	a := &api{store: NewMemoryStore()}
	a.register(mux)
	return service.Handler(mux, "payments", slog.New(slog.NewJSONHandler(io.Discard, nil)), inbound.Options{})
}

// call sends one request to h and returns the status and body.
func call(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestItemsLifecycle(t *testing.T) {
	h := newTestHandler(t)

	code, body := call(t, h, http.MethodPost, "/items", `{"name":"first"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var created Item
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || created.Name != "first" || created.CreatedAt.IsZero() {
		t.Fatalf("created item = %+v", created)
	}

	code, body = call(t, h, http.MethodGet, "/items", "")
	var list struct{ Items []Item }
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != 200 || len(list.Items) != 1 || list.Items[0].ID != created.ID {
		t.Fatalf("list: %d %s", code, body)
	}

	path := "/items/" + strconv.FormatInt(created.ID, 10)
	if code, body = call(t, h, http.MethodGet, path, ""); code != 200 || !strings.Contains(body, `"name":"first"`) {
		t.Fatalf("get: %d %s", code, body)
	}
	if code, body = call(t, h, http.MethodDelete, path, ""); code != http.StatusNoContent || body != "" {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ = call(t, h, http.MethodGet, path, ""); code != http.StatusNotFound {
		t.Fatalf("get after delete: %d, want 404", code)
	}
}

func TestEmptyListIsAnArray(t *testing.T) {
	h := newTestHandler(t)
	if code, body := call(t, h, http.MethodGet, "/items", ""); code != 200 || strings.TrimSpace(body) != `{"items":[]}` {
		t.Errorf("got %d %s, want 200 {\"items\":[]}", code, body)
	}
}

// TestPagination is the contract of GET /items: pages of ?limit= items
// (httpjson.DefaultPageSize when absent, at most httpjson.MaxPageSize) after the id ?after=,
// each with the ?after= of the next page, none on the last.
func TestPagination(t *testing.T) {
	h := newTestHandler(t)
	const total = httpjson.DefaultPageSize + 3
	for i := 0; i < total; i++ {
		if code, body := call(t, h, http.MethodPost, "/items", `{"name":"n`+strconv.Itoa(i)+`"}`); code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
	}
	type page struct {
		Items []Item
		Next  *int64
	}
	get := func(path string) page {
		t.Helper()
		code, body := call(t, h, http.MethodGet, path, "")
		var p page
		if err := json.Unmarshal([]byte(body), &p); code != 200 || err != nil {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		return p
	}
	if p := get("/items"); len(p.Items) != httpjson.DefaultPageSize || p.Next == nil || *p.Next != p.Items[httpjson.DefaultPageSize-1].ID {
		t.Fatalf("first page: %d items, next %v", len(p.Items), p.Next)
	}
	// Walking the pages by next sees every item once, in order.
	var seen []int64
	path := "/items?limit=7"
	for {
		p := get(path)
		for _, it := range p.Items {
			seen = append(seen, it.ID)
		}
		if p.Next == nil {
			break
		}
		path = "/items?limit=7&after=" + strconv.FormatInt(*p.Next, 10)
	}
	if len(seen) != total {
		t.Fatalf("walked %d items, want %d", len(seen), total)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("ids out of order: %v", seen)
		}
	}
	if p := get("/items?limit=" + strconv.Itoa(total)); len(p.Items) != total || p.Next != nil {
		t.Errorf("one page of all: %d items, next %v", len(p.Items), p.Next)
	}
	for _, bad := range []string{"limit=0", "limit=-1", "limit=x", "limit=" + strconv.Itoa(httpjson.MaxPageSize+1), "after=-1", "after=x"} {
		if code, body := call(t, h, http.MethodGet, "/items?"+bad, ""); code != http.StatusBadRequest || !strings.Contains(body, "error") {
			t.Errorf("?%s: %d %s, want 400", bad, code, body)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		wantCode                 int
	}{
		{"empty name", http.MethodPost, "/items", `{"name":""}`, 400},
		{"blank name", http.MethodPost, "/items", `{"name":"   "}`, 400},
		{"name too long", http.MethodPost, "/items", `{"name":"` + strings.Repeat("x", maxNameLen+1) + `"}`, 400},
		{"unknown field", http.MethodPost, "/items", `{"name":"a","price":1}`, 400},
		{"not JSON", http.MethodPost, "/items", `name=a`, 400},
		{"empty body", http.MethodPost, "/items", ``, 400},
		{"two objects", http.MethodPost, "/items", `{"name":"a"}{"name":"b"}`, 400},
		{"body too large", http.MethodPost, "/items", `{"name":"` + strings.Repeat("x", httpjson.MaxBodyBytes) + `"}`, 413},
		{"get missing", http.MethodGet, "/items/42", "", 404},
		{"delete missing", http.MethodDelete, "/items/42", "", 404},
		{"malformed id", http.MethodGet, "/items/abc", "", 400},
		{"negative id", http.MethodGet, "/items/-1", "", 400},
		{"wrong method", http.MethodPatch, "/items/1", "", 405},
		{"unknown path", http.MethodGet, "/nope", "", 404},
	}
	h := newTestHandler(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, h, tt.method, tt.path, tt.body)
			if code != tt.wantCode {
				t.Fatalf("got %d %s, want %d", code, body, tt.wantCode)
			}
			var e map[string]string
			if err := json.Unmarshal([]byte(body), &e); err != nil || e["error"] == "" {
				t.Errorf("body %q is not a JSON error", body)
			}
		})
	}
}

// TestUpstream serves each dependency's route from its API package with a
// fake, the first unavailable, and checks that /upstream reports each and
// passes the unavailability on: 503 with the fake's Retry-After.
func TestUpstream(t *testing.T) {
	a := &api{store: NewMemoryStore()}
	srv0 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method+" "+r.URL.Path != catalogapi.RouteListItems {
			httpjson.Error(w, http.StatusNotFound, "unexpected "+r.URL.Path)
			return
		}
		w.Header().Set("Retry-After", "7")
		httpjson.Error(w, http.StatusServiceUnavailable, "down for a test")
	}))
	defer srv0.Close()
	a.catalogClient = catalogapi.NewClient(srv0.URL, srv0.Client())
	srv1 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method+" "+r.URL.Path != ordersapi.RouteListItems {
			httpjson.Error(w, http.StatusNotFound, "unexpected "+r.URL.Path)
			return
		}
		httpjson.Write(w, http.StatusOK, ordersapi.ItemList{Items: []ordersapi.Item{{ID: 7, Name: "seven"}}})
	}))
	defer srv1.Close()
	a.ordersClient = ordersapi.NewClient(srv1.URL, srv1.Client())
	mux := http.NewServeMux()
	a.register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/upstream", nil))
	var got map[string]struct {
		Items []Item `json:"items"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "7" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After 7", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if e := got["catalog"].Error; !strings.Contains(e, "503") || !strings.Contains(e, "down for a test") {
		t.Errorf("catalog: error %q, want the status and the body's message", e)
	}
	if items := got["orders"].Items; len(items) != 1 || items[0].Name != "seven" {
		t.Errorf("orders: items %+v, want the one item the fake serves", items)
	}
}

// TestDependencyNotFound: a dependency's 404 for what a handler asked it
// for is this service's 404 with the dependency's message, never a 500;
// its unavailability a 503 with its Retry-After.
func TestDependencyNotFound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/items/3" {
			w.Header().Set("Retry-After", "7")
			httpjson.Error(w, http.StatusServiceUnavailable, "down for a test")
			return
		}
		httpjson.Error(w, http.StatusNotFound, "item not found")
	}))
	defer srv.Close()
	client := catalogapi.NewClient(srv.URL, srv.Client())
	for _, c := range []struct {
		id     int64
		status int
		body   string
	}{{2, http.StatusNotFound, `{"error":"item not found"}`}, {3, http.StatusServiceUnavailable, `"error"`}} {
		_, err := client.GetItem(t.Context(), c.id)
		rec := httptest.NewRecorder()
		if !failed(rec, httptest.NewRequest(http.MethodGet, "/", nil), err) {
			t.Fatalf("catalog's item %d: no error", c.id)
		}
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("catalog's item %d: %d %s, want %d with %s", c.id, rec.Code, rec.Body, c.status, c.body)
		}
	}
}
