package gql

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	genqlient "github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"

	"example.com/shop/platform/breaker"
	"example.com/shop/platform/httpclient"
	"example.com/shop/platform/httpjson"
)

// TestGraphQLErrorsDoNotTripTheBreaker: an answer with GraphQL errors
// (200) says the service works, so a caller's breaker stays closed however
// many it gets; 503s open it.
func TestGraphQLErrorsDoNotTripTheBreaker(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"errors":[{"message":"name must have 1 to 200 characters"}],"data":null}`)
	}))
	defer srv.Close()
	hc := httpclient.New(httpclient.Options{Name: "catalog", Retries: -1, Breaker: breaker.Config{ConsecutiveFailures: 3}}, nil)
	_, mutate := NewClients(srv.URL, hc)
	call := func() error { return send(mutate, "mutation CreateItem { createItem(name: \"\") { id } }") }
	for range 10 {
		err := call()
		var list gqlerror.List
		if !errors.As(err, &list) || len(list) != 1 || !strings.Contains(list[0].Message, "1 to 200") {
			t.Fatalf("err = %v, want the GraphQL error", err)
		}
	}
	if got := hc.State(); got != "closed" {
		t.Fatalf("breaker %s after GraphQL errors, want closed", got)
	}
	status = http.StatusServiceUnavailable
	for range 3 {
		if err := call(); !httpjson.IsStatus(err, http.StatusServiceUnavailable) {
			t.Fatalf("err = %v, want a 503 StatusError", err)
		}
	}
	if got := hc.State(); got != "open" {
		t.Errorf("breaker %s after three 503s, want open", got)
	}
}

// TestStatusErrorCarriesRetryAfter: a 503 becomes the StatusError REST
// clients get, with the message of the GraphQL error and the wait.
func TestStatusErrorCarriesRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"errors":[{"message":"down for a test"}]}`)
	}))
	defer srv.Close()
	query, _ := NewClients(srv.URL, srv.Client())
	err := send(query, "query ListItems { items { items { id } } }")
	var se *httpjson.StatusError
	if !errors.As(err, &se) || se.Status != 503 || se.Message != "down for a test" || se.RetryAfter != 7*time.Second {
		t.Fatalf("err = %#v, want a 503 StatusError with the message and Retry-After 7s", err)
	}
	if wait, ok := httpjson.Unavailable(err); !ok || wait != 7*time.Second {
		t.Errorf("Unavailable = %v, %v; want 7s, true", wait, ok)
	}
}

// send sends one operation through c.
func send(c genqlient.Client, op string) error {
	var data struct{}
	return c.MakeRequest(context.Background(), &genqlient.Request{Query: op}, &genqlient.Response{Data: &data})
}

// TestPanicsAnswerTheTraceID: a resolver's panic becomes "internal error"
// with the trace id to look the details up by, never the panic's value.
func TestPanicsAnswerTheTraceID(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	err := recoverResolver(ctx, "secret detail")
	var gqlErr *gqlerror.Error
	if !errors.As(err, &gqlErr) || gqlErr.Message != "internal error (trace "+tid.String()+")" ||
		gqlErr.Extensions["code"] != CodeInternal || gqlErr.Extensions["trace_id"] != tid.String() {
		t.Errorf("recovered panic: %#v, want an internal error with the trace id", err)
	}
}

func TestIDs(t *testing.T) {
	var b strings.Builder
	MarshalID(42).MarshalGQL(&b)
	if b.String() != `"42"` {
		t.Errorf("MarshalID(42) = %s", b.String())
	}
	for _, v := range []any{"42", int64(42), 42} {
		if id, err := UnmarshalID(v); err != nil || id != 42 {
			t.Errorf("UnmarshalID(%#v) = %d, %v", v, id, err)
		}
	}
	if _, err := UnmarshalID(true); err == nil {
		t.Error("UnmarshalID(true) succeeded")
	}
	var zero, n int64 = 0, 42
	if j, _ := MarshalIDJSON(&zero); string(j) != "null" {
		t.Errorf("MarshalIDJSON(0) = %s, want null", j)
	}
	if j, _ := MarshalIDJSON(&n); string(j) != `"42"` {
		t.Errorf("MarshalIDJSON(42) = %s", j)
	}
	var got int64 = 9
	if err := UnmarshalIDJSON([]byte("null"), &got); err != nil || got != 0 {
		t.Errorf("UnmarshalIDJSON(null) = %d, %v", got, err)
	}
	if err := UnmarshalIDJSON([]byte(`"42"`), &got); err != nil || got != 42 {
		t.Errorf("UnmarshalIDJSON(\"42\") = %d, %v", got, err)
	}
}
