package paymentsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"example.com/shop/platform/httpjson"
	"example.com/shop/services/payments/paymentsapi"
)

// TestClient checks each method against a fake server: the route it calls,
// the body it sends, and how it reads answers and errors.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "GET /items":
			if r.URL.RawQuery == "after=1&limit=2" {
				httpjson.Write(w, http.StatusOK, paymentsapi.ItemList{Items: []paymentsapi.Item{{ID: 2, Name: "b"}}})
				return
			}
			httpjson.Write(w, http.StatusOK, paymentsapi.ItemList{Items: []paymentsapi.Item{{ID: 1, Name: "a"}}})
		case "POST /items":
			var req paymentsapi.CreateItemRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Header.Get("Content-Type") != "application/json" {
				httpjson.Error(w, http.StatusBadRequest, "bad body")
				return
			}
			httpjson.Write(w, http.StatusCreated, paymentsapi.Item{ID: 2, Name: req.Name})
		case "GET /items/2":
			httpjson.Write(w, http.StatusOK, paymentsapi.Item{ID: 2, Name: "b"})
		case "DELETE /items/2":
			w.WriteHeader(http.StatusNoContent)
		default:
			httpjson.Error(w, http.StatusNotFound, "item not found")
		}
	}))
	defer srv.Close()
	c := paymentsapi.NewClient(srv.URL, srv.Client())
	ctx := context.Background()

	if list, err := c.ListItems(ctx, 0, 0); err != nil || len(list.Items) != 1 || list.Items[0].Name != "a" {
		t.Errorf("ListItems = %+v, %v", list, err)
	}
	if list, err := c.ListItems(ctx, 1, 2); err != nil || len(list.Items) != 1 || list.Items[0].Name != "b" {
		t.Errorf("ListItems(after 1, limit 2) = %+v, %v", list, err)
	}
	if it, err := c.CreateItem(ctx, paymentsapi.CreateItemRequest{Name: "b"}); err != nil || it.ID != 2 || it.Name != "b" {
		t.Errorf("CreateItem = %+v, %v", it, err)
	}
	if it, err := c.GetItem(ctx, 2); err != nil || it.Name != "b" {
		t.Errorf("GetItem = %+v, %v", it, err)
	}
	if err := c.DeleteItem(ctx, 2); err != nil {
		t.Errorf("DeleteItem: %v", err)
	}
	_, err := c.GetItem(ctx, 3)
	var se *httpjson.StatusError
	if !httpjson.IsStatus(err, http.StatusNotFound) || !errors.As(err, &se) || se.Message != "item not found" {
		t.Errorf("GetItem of a missing item: %v, want a 404 StatusError with the body's message", err)
	}
}
