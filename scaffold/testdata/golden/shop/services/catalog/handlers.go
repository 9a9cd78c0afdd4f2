package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the sample resource's input.
const (
	maxNameLen   = 200     // characters
	maxBodyBytes = 1 << 20 // bytes of a JSON request body
	// GET /items pages: ?limit= items (this many when not given, at most
	// maxPageSize) after the item whose id is ?after=.
	defaultPageSize = 50
	maxPageSize     = 500
)

// api holds what the HTTP handlers of catalog need.
type api struct {
	store Store
	log   *slog.Logger
}

// register adds the service's routes to mux.
func (a *api) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /items", a.listItems)
	mux.HandleFunc("POST /items", a.createItem)
	mux.HandleFunc("GET /items/{id}", a.getItem)
	mux.HandleFunc("DELETE /items/{id}", a.deleteItem)
}

// itemPage is the body of GET /items. Next, when set, is the ?after= of
// the next page; the last page has none.
type itemPage struct {
	Items []Item `json:"items"`
	Next  *int64 `json:"next,omitempty"`
}

func (a *api) listItems(w http.ResponseWriter, r *http.Request) {
	after, limit, err := pageParams(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// One more than asked for tells whether there is a next page.
	items, err := a.store.List(r.Context(), after, limit+1)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	page := itemPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		next := page.Items[limit-1].ID
		page.Next = &next
	}
	writeJSON(w, http.StatusOK, page)
}

// pageParams reads ?after= (an item id, 0 when absent) and ?limit= (1 to
// maxPageSize, defaultPageSize when absent).
func pageParams(r *http.Request) (after int64, limit int, err error) {
	q := r.URL.Query()
	limit = defaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, 0, fmt.Errorf("limit must be a whole number from 1 to %d", maxPageSize)
		}
		limit = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, errors.New("after must be the id of an item (a whole number)")
		}
		after = n
	}
	return after, limit, nil
}

// createRequest is the body of POST /items.
type createRequest struct {
	Name string `json:"name"`
}

func (a *api) createItem(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	switch {
	case req.Name == "":
		writeError(w, http.StatusBadRequest, "name is required")
		return
	case utf8.RuneCountInString(req.Name) > maxNameLen:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("name is longer than %d characters", maxNameLen))
		return
	}
	it, err := a.store.Create(r.Context(), req.Name)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	w.Header().Set("Location", "/items/"+strconv.FormatInt(it.ID, 10))
	writeJSON(w, http.StatusCreated, it)
}

func (a *api) getItem(w http.ResponseWriter, r *http.Request) {
	id, ok := itemID(w, r)
	if !ok {
		return
	}
	it, err := a.store.Get(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "item not found")
	case err != nil:
		a.internalError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, it)
	}
}

func (a *api) deleteItem(w http.ResponseWriter, r *http.Request) {
	id, ok := itemID(w, r)
	if !ok {
		return
	}
	err := a.store.Delete(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "item not found")
	case err != nil:
		a.internalError(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// itemID reads the {id} of the path, answering 400 when it is not a
// positive integer.
func itemID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "id must be a positive integer")
		return 0, false
	}
	return id, true
}

// internalError logs err with the request's trace and answers 500 without
// the details, which are for the logs, not for clients.
func (a *api) internalError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	writeError(w, http.StatusInternalServerError, "internal error")
}

// decodeJSON reads one JSON object of at most maxBodyBytes from the body
// into v, refusing unknown fields and trailing data, so that a typo in a
// field name is an error rather than a silently ignored value. A body sent
// with another Content-Type is refused: browsers send form types across
// origins without asking, but not application/json, so this also keeps
// other sites from posting here through a user's browser.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errors.New("the Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return fmt.Errorf("body is larger than %d bytes", maxBodyBytes)
		case errors.Is(err, io.EOF):
			return errors.New("body is empty, want a JSON object")
		default:
			return fmt.Errorf("body is not valid JSON: %v", err)
		}
	}
	if dec.More() {
		return errors.New("body has data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers with a JSON error: {"error":"..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
