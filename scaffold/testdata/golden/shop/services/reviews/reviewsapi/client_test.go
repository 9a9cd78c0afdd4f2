package reviewsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"example.com/shop/platform/httpjson"
	"example.com/shop/services/reviews/reviewsapi"
)

// TestClient checks each method against a fake GraphQL server: the
// operation it sends, how (queries as GET, which a caller may retry;
// mutations as POST), its variables, and how it reads answers and errors.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			OperationName string         `json:"operationName"`
			Variables     map[string]any `json:"variables"`
		}
		switch r.Method {
		case http.MethodGet:
			req.OperationName = r.URL.Query().Get("operationName")
			json.Unmarshal([]byte(r.URL.Query().Get("variables")), &req.Variables)
		case http.MethodPost:
			json.NewDecoder(r.Body).Decode(&req)
		}
		w.Header().Set("Content-Type", "application/json")
		item := func(id, name string) string {
			return `{"id":"` + id + `","name":"` + name + `","createdAt":"2026-01-02T03:04:05Z"}`
		}
		switch r.Method + " " + r.URL.Path + " " + req.OperationName {
		case "GET /graphql ListItems":
			if req.Variables["after"] == "1" && req.Variables["limit"] == 2.0 {
				io.WriteString(w, `{"data":{"items":{"items":[`+item("2", "b")+`],"next":"2"}}}`)
				return
			}
			if _, ok := req.Variables["limit"]; ok {
				t.Errorf("ListItems(0, 0) sent a limit: %v", req.Variables)
			}
			io.WriteString(w, `{"data":{"items":{"items":[`+item("1", "a")+`],"next":null}}}`)
		case "POST /graphql CreateItem":
			if req.Variables["name"] != "b" {
				io.WriteString(w, `{"errors":[{"message":"name must have 1 to 200 characters"}],"data":null}`)
				return
			}
			io.WriteString(w, `{"data":{"createItem":`+item("2", "b")+`}}`)
		case "GET /graphql GetItem":
			if req.Variables["id"] != "2" {
				io.WriteString(w, `{"data":{"item":null}}`)
				return
			}
			io.WriteString(w, `{"data":{"item":`+item("2", "b")+`}}`)
		case "POST /graphql DeleteItem":
			io.WriteString(w, `{"data":{"deleteItem":`+map[bool]string{true: "true", false: "false"}[req.Variables["id"] == "2"]+`}}`)
		default:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"errors":[{"message":"down for a test"}]}`)
		}
	}))
	defer srv.Close()
	c := reviewsapi.NewClient(srv.URL, srv.Client())
	ctx := context.Background()

	if list, err := c.ListItems(ctx, 0, 0); err != nil || len(list.Items) != 1 || list.Items[0].Name != "a" || list.Next != nil {
		t.Errorf("ListItems = %+v, %v", list, err)
	}
	if list, err := c.ListItems(ctx, 1, 2); err != nil || len(list.Items) != 1 || list.Items[0].ID != 2 || list.Next == nil || *list.Next != 2 {
		t.Errorf("ListItems(after 1, limit 2) = %+v, %v", list, err)
	}
	if it, err := c.CreateItem(ctx, reviewsapi.CreateItemRequest{Name: "b"}); err != nil || it.ID != 2 || it.Name != "b" || it.CreatedAt.Year() != 2026 {
		t.Errorf("CreateItem = %+v, %v", it, err)
	}
	if _, err := c.CreateItem(ctx, reviewsapi.CreateItemRequest{Name: ""}); err == nil || !strings.Contains(err.Error(), "1 to 200 characters") {
		t.Errorf("CreateItem of no name: %v, want the GraphQL error", err)
	}
	if it, err := c.GetItem(ctx, 2); err != nil || it.Name != "b" {
		t.Errorf("GetItem = %+v, %v", it, err)
	}
	if _, err := c.GetItem(ctx, 3); !errors.Is(err, reviewsapi.ErrNotFound) {
		t.Errorf("GetItem of a missing item: %v, want ErrNotFound", err)
	}
	if err := c.DeleteItem(ctx, 2); err != nil {
		t.Errorf("DeleteItem: %v", err)
	}
	if err := c.DeleteItem(ctx, 3); !errors.Is(err, reviewsapi.ErrNotFound) {
		t.Errorf("DeleteItem of a missing item: %v, want ErrNotFound", err)
	}
	// An unavailable service is a StatusError, as from a REST service.
	down := reviewsapi.NewClient(srv.URL+"/down", srv.Client())
	_, err := down.ListItems(ctx, 0, 0)
	var se *httpjson.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Message != "down for a test" {
		t.Errorf("ListItems of an unavailable service: %v, want a 503 StatusError with the message", err)
	}
}
