// Package httpjson is JSON over HTTP for both ends of a call: handlers
// decode requests strictly and answer JSON, including errors; clients call
// a route declared in a service's API package and get its typed answer, or
// a *StatusError carrying the status and the error body.
//
// A handler answers a failed call to another service with InternalError,
// which passes the callee's unavailability on: 503 with Retry-After when
// the callee's breaker is open, it did not answer or it answered 502, 503
// or 504; the callee's 404 as a 404 with its message; 500 for anything
// else.
package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"example.com/shop/platform/breaker"
)

// MaxBodyBytes bounds a request body that Decode reads, and a response
// body that Call reads.
const MaxBodyBytes = 1 << 20

// ErrorBody is the body of every error answer: {"error":"..."}.
type ErrorBody struct {
	Error string `json:"error"`
}

// Pages of a list: DefaultPageSize items when ?limit= is absent, at most
// MaxPageSize.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Page reads the paging parameters of a list request, ?after= (an ID, 0
// when absent) and ?limit=; when one is invalid it answers 400 and ok is
// false.
func Page(w http.ResponseWriter, r *http.Request) (after int64, limit int, ok bool) {
	q := r.URL.Query()
	limit = DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			Error(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", MaxPageSize))
			return 0, 0, false
		}
		limit = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			Error(w, http.StatusBadRequest, "after must be the id of an item (a whole number)")
			return 0, 0, false
		}
		after = n
	}
	return after, limit, true
}

// NextPage cuts items, fetched with one more than limit, to a page; next is
// the ?after= of the following page, nil on the last one.
func NextPage[T any](items []T, limit int, id func(T) int64) (page []T, next *int64) {
	if len(items) <= limit {
		return items, nil
	}
	n := id(items[limit-1])
	return items[:limit], &n
}

// PageQuery is the query string of a list request for the page after the
// given ID (0: the first) of limit items (0: the service's default).
func PageQuery(after int64, limit int) string {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// Decode reads one JSON value of at most MaxBodyBytes from r's body into v,
// refusing unknown fields and trailing data, so that a misspelled field is
// an error rather than a silently ignored value. A body sent with another
// Content-Type is refused: browsers send form types across origins without
// asking, but not application/json. The error is worded for the client.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errors.New("the Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return fmt.Errorf("body is larger than %d bytes", MaxBodyBytes)
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

// Write answers v as JSON with the given status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Error answers {"error": msg} with the given status.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, ErrorBody{Error: msg})
}

// InternalError logs err with the request's trace and answers 500 without
// the details, which are for the logs, not for clients; or, when err says
// that a service this one calls is unavailable (see Unavailable), 503 with
// its Retry-After, marked so that no breaker counts it against this one.
//
// A service this one calls that answered 404 makes it answer 404 with the
// callee's message ("item not found"): what is missing was most often
// named by this request (GET /payments/7 looks up order 7), so it is the
// caller's answer, not this service's failure. A 500, or a 502, would
// count against this service in its callers' breakers and invite retries
// of a request that cannot succeed.
func InternalError(w http.ResponseWriter, r *http.Request, err error) {
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		msg := se.Message
		if msg == "" {
			msg = "not found"
		}
		Error(w, http.StatusNotFound, msg)
		return
	}
	if wait, ok := Unavailable(err); ok {
		slog.WarnContext(r.Context(), "dependency unavailable", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		PassOn(w, wait)
		Error(w, http.StatusServiceUnavailable, "a service this one needs is unavailable; try again later")
		return
	}
	slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	Error(w, http.StatusInternalServerError, "internal error")
}

// PassOn sets the headers of a 503 that passes a dependency's
// unavailability on: Retry-After (whole seconds, at least one) and
// breaker.PassedOnHeader (this service is up, a dependency is not).
func PassOn(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(wait, time.Second).Seconds()))))
	w.Header().Set(breaker.PassedOnHeader, "1")
}

// Unavailable reports whether err, from a call to another service, says
// that the service cannot answer for now, and how long to wait: its
// breaker is open (until it lets a probe through), it did not answer
// (a second), or it answered 502, 503 or 504 (its Retry-After, or a second).
func Unavailable(err error) (wait time.Duration, ok bool) {
	var open *breaker.OpenError
	var se *StatusError
	var ne net.Error
	switch {
	case errors.As(err, &open):
		return open.RetryAfter, true
	case errors.As(err, &se):
		switch se.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return max(se.RetryAfter, time.Second), true
		}
	case errors.As(err, &ne):
		return time.Second, true // refused, reset, DNS, timed out
	}
	return 0, false
}

// Doer sends a request; *httpclient.Client (breaker, timeout, retries,
// tracing) is the one services use.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// StatusError is the answer of a call that did not succeed: its status and
// what the body said.
type StatusError struct {
	Route   string // "GET /items/{id}"
	Status  int    // 404
	Message string // the body's "error", or its text when it is not JSON
	// RetryAfter is the answer's Retry-After in seconds, when it has one.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: %d %s: %s", e.Route, e.Status, http.StatusText(e.Status), e.Message)
}

// IsStatus reports whether err is a *StatusError with the given status.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// Call sends in (nil for no body) to route ("METHOD /path/{param}") of the
// service at baseURL, with args filling the path's {params} in order, and
// decodes a 2xx answer into out (nil to ignore it). Any other status is a
// *StatusError.
func Call(ctx context.Context, d Doer, baseURL, route string, in, out any, args ...string) error {
	method, path, ok := strings.Cut(route, " ")
	if !ok {
		return fmt.Errorf("route %q has no method", route)
	}
	for _, a := range args {
		i, j := strings.Index(path, "{"), strings.Index(path, "}")
		if i < 0 || j < i {
			return fmt.Errorf("route %q has fewer parameters than the %d given", route, len(args))
		}
		path = path[:i] + url.PathEscape(a) + path[j+1:]
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(baseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	if err != nil {
		return fmt.Errorf("%s: %w", route, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Route: route, Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			se.RetryAfter = time.Duration(min(n, 3600)) * time.Second
		}
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			se.Message = eb.Error
		}
		return se
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decode the answer: %w", route, err)
	}
	return nil
}
