package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"example.com/shop/platform/httpjson"
	"example.com/shop/platform/service"
	"example.com/shop/services/catalog/catalogapi"
	"example.com/shop/services/orders/ordersapi"
	"example.com/shop/services/payments/paymentsapi"
)

const maxNameLen = 200 // characters of an item's name

// api holds what the HTTP handlers of payments need.
type api struct {
	store         Store
	catalogClient *catalogapi.Client
	ordersClient  *ordersapi.Client
}

func (a *api) register(mux *http.ServeMux) {
	mux.HandleFunc(paymentsapi.RouteListItems, a.listItems)
	mux.HandleFunc(paymentsapi.RouteCreateItem, a.createItem)
	mux.HandleFunc(paymentsapi.RouteGetItem, a.getItem)
	mux.HandleFunc(paymentsapi.RouteDeleteItem, a.deleteItem)
	mux.HandleFunc("GET /upstream", a.listUpstream)
}

func (a *api) listItems(w http.ResponseWriter, r *http.Request) {
	if after, limit, ok := httpjson.Page(w, r); ok {
		// One more than asked for tells whether there is a next page.
		items, err := a.store.List(r.Context(), after, limit+1)
		if page, next := httpjson.NextPage(items, limit, func(it Item) int64 { return it.ID }); !failed(w, r, err) {
			httpjson.Write(w, http.StatusOK, paymentsapi.ItemList{Items: page, Next: next})
		}
	}
}

func (a *api) createItem(w http.ResponseWriter, r *http.Request) {
	var req paymentsapi.CreateItemRequest
	if err := httpjson.Decode(w, r, &req); err != nil {
		httpjson.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Name = strings.TrimSpace(req.Name); req.Name == "" || utf8.RuneCountInString(req.Name) > maxNameLen {
		httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("name must have 1 to %d characters", maxNameLen))
		return
	}
	it, err := a.store.Create(r.Context(), req.Name)
	if !failed(w, r, err) {
		w.Header().Set("Location", "/items/"+strconv.FormatInt(it.ID, 10))
		httpjson.Write(w, http.StatusCreated, it)
	}
}

func (a *api) getItem(w http.ResponseWriter, r *http.Request) {
	if id, ok := pathID(w, r); ok {
		it, err := a.store.Get(r.Context(), id)
		if !failed(w, r, err) {
			httpjson.Write(w, http.StatusOK, it)
		}
	}
}

func (a *api) deleteItem(w http.ResponseWriter, r *http.Request) {
	if id, ok := pathID(w, r); ok && !failed(w, r, a.store.Delete(r.Context(), id)) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// pathID reads {id}, answering 400 when it is not a positive integer.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		httpjson.Error(w, http.StatusBadRequest, "id must be a positive integer")
		return 0, false
	}
	return id, true
}

// failed answers 404 or 500 when err says so, and reports whether it did.
func failed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "item not found")
	case err != nil:
		httpjson.InternalError(w, r, err)
	}
	return err != nil
}

// listUpstream answers GET /upstream: each dependency's items through its
// typed client, or {"error": "..."}; 503 when one is unavailable.
func (a *api) listUpstream(w http.ResponseWriter, r *http.Request) {
	service.Gather(w, r, map[string]func(context.Context) (any, error){
		"catalog": func(ctx context.Context) (any, error) {
			list, err := a.catalogClient.ListItems(ctx, 0, 0)
			return catalogapi.ItemList{Items: list.Items}, err // its first page, without a cursor into it
		},
		"orders": func(ctx context.Context) (any, error) {
			list, err := a.ordersClient.ListItems(ctx, 0, 0)
			return ordersapi.ItemList{Items: list.Items}, err // its first page, without a cursor into it
		},
	})
}
