// Package gql is what GraphQL services (msx new service NAME --api
// graphql) share, on both ends of a call. Servers: gqlgen's handler with
// the limits (depth, complexity, body), introspection and the playground
// only when asked, errors that never leak internals (a panic or a failed
// store becomes "internal error" with the trace id), the span and access
// log line named by the operation, and a 503 passing on the wait when a
// service the resolvers call is unavailable, as REST handlers do.
// Clients: genqlient's, over the service's *httpclient.Client, with the
// answers other than 200 turned into *httpjson.StatusError, as REST
// clients get.
package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	genqlient "github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"example.com/shop/platform/config"
	"example.com/shop/platform/httpjson"
	"example.com/shop/platform/service"
)

// Route is where a GraphQL service serves GraphQL: POST for every
// operation, GET for queries.
const Route = "/graphql"

// Settings are the limits and switches of a GraphQL endpoint.
type Settings struct {
	// MaxDepth bounds how deeply an operation nests selections;
	// MaxComplexity bounds its cost, where a list counts its page size
	// times its items. An operation over either is refused with 422 before
	// anything runs.
	MaxDepth      int
	MaxComplexity int
	// MaxBodyBytes bounds a request body: a larger one is refused with 4xx.
	MaxBodyBytes int64
	// Introspection turns on introspection and the playground at
	// /playground: msx up sets GRAPHQL_INTROSPECTION=1; the exported
	// production configuration leaves them off unless you set it.
	Introspection bool
	// PersistedQueries turns on automatic persisted queries: a client may
	// send a query's hash instead of its text once the service has seen it.
	PersistedQueries bool
}

// Error codes of the errors this package makes, in extensions.code.
const (
	CodeDepthLimit      = "DEPTH_LIMIT_EXCEEDED"
	CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED" // gqlgen's
	CodeUnavailable     = "UNAVAILABLE"               // a service the resolvers call cannot answer for now
	CodeInternal        = "INTERNAL"
)

func init() {
	// Refusing an operation over the limits is the client's mistake: 422,
	// as for one that does not validate, not 200 with an error.
	errcode.RegisterErrorType(CodeDepthLimit, errcode.KindProtocol)
	errcode.RegisterErrorType(CodeComplexityLimit, errcode.KindProtocol)
}

// LoadSettings reads the settings from the environment: GRAPHQL_MAX_DEPTH
// (default 15, which the playground's introspection query needs),
// GRAPHQL_MAX_COMPLEXITY (5000), GRAPHQL_INTROSPECTION and
// GRAPHQL_PERSISTED_QUERIES (both off).
func LoadSettings() (Settings, error) {
	s := Settings{MaxBodyBytes: httpjson.MaxBodyBytes}
	var err error
	if s.MaxDepth, err = config.Int("GRAPHQL_MAX_DEPTH", 15); err != nil {
		return s, err
	}
	if s.MaxComplexity, err = config.Int("GRAPHQL_MAX_COMPLEXITY", 5000); err != nil {
		return s, err
	}
	if s.Introspection, err = config.Bool("GRAPHQL_INTROSPECTION", false); err != nil {
		return s, err
	}
	s.PersistedQueries, err = config.Bool("GRAPHQL_PERSISTED_QUERIES", false)
	return s, err
}

// Register serves es at Route on mux, and the playground at /playground
// when introspection is on; name names the service in spans.
func Register(mux *http.ServeMux, name string, es graphql.ExecutableSchema, s Settings) {
	mux.Handle(Route, Handler(name, es, s))
	if s.Introspection {
		// A relative endpoint, so that it works behind the gateway's
		// /api/NAME/ as well as on the service's own port.
		mux.Handle("GET /playground", playground.Handler(name, "graphql"))
	}
}

// Handler is gqlgen's server over es with the limits, error handling and
// tracing of the package documentation.
func Handler(name string, es graphql.ExecutableSchema, s Settings) http.Handler {
	srv := handler.New(es)
	// Queries come as GET (idempotent: a caller's client may retry them)
	// or POST; mutations only as POST.
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if s.Introspection {
		srv.Use(extension.Introspection{})
	}
	if s.PersistedQueries {
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	}
	srv.Use(DepthLimit(s.MaxDepth))
	srv.Use(extension.FixedComplexityLimit(s.MaxComplexity))
	srv.SetRecoverFunc(recoverResolver)
	srv.SetErrorPresenter(presentError)
	tracer := otel.Tracer(name + "/graphql")
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		// The request's span is named by the operation, "query ListItems",
		// not by the one route every operation shares; the access log line
		// says it too.
		op := OperationName(graphql.GetOperationContext(ctx))
		trace.SpanFromContext(ctx).SetName(op)
		service.Annotate(ctx, "operation", op)
		return next(ctx)
	})
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		// A span per root field: its resolver is where the store and other
		// services are called.
		fc := graphql.GetRootFieldContext(ctx)
		ctx, span := tracer.Start(ctx, fc.Object+"."+fc.Field.Name)
		defer span.End()
		return next(ctx)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
		po := &passOn{ResponseWriter: w}
		srv.ServeHTTP(po, r.WithContext(context.WithValue(r.Context(), passOnKey{}, po)))
	})
}

// OperationName is "query ListItems", or "query" when it has no name.
func OperationName(oc *graphql.OperationContext) string {
	if oc == nil || oc.Operation == nil {
		return "graphql"
	}
	if oc.Operation.Name == "" {
		return string(oc.Operation.Operation)
	}
	return string(oc.Operation.Operation) + " " + oc.Operation.Name
}

// presentError turns a resolver's error into what the client sees: the
// message of an error meant for clients (a *gqlerror.Error the resolver
// made), UNAVAILABLE when a service the resolver called cannot answer
// (the answer then becomes a 503 passing the wait on), and otherwise
// "internal error" with the trace id, the details going to the log.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Err == nil {
		return graphql.DefaultErrorPresenter(ctx, err)
	}
	if wait, ok := httpjson.Unavailable(err); ok {
		slog.WarnContext(ctx, "dependency unavailable", "error", err.Error())
		if po, ok := ctx.Value(passOnKey{}).(*passOn); ok {
			po.set(wait)
		}
		return withCode(ctx, "a service this one needs is unavailable; try again later", CodeUnavailable)
	}
	slog.ErrorContext(ctx, "resolver failed", "error", err.Error())
	return withCode(ctx, "internal error", CodeInternal)
}

// recoverResolver turns a resolver's panic into an internal error, so
// that one bad query does not take the process down.
func recoverResolver(ctx context.Context, v any) error {
	slog.ErrorContext(ctx, "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return withCode(ctx, "internal error", CodeInternal)
}

// withCode is an error with the field's path, a code and the trace id to
// find the details by.
func withCode(ctx context.Context, msg, code string) *gqlerror.Error {
	e := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
	if graphql.GetFieldContext(ctx) != nil {
		e.Path = graphql.GetPath(ctx)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		e.Message += " (trace " + sc.TraceID().String() + ")"
		e.Extensions["trace_id"] = sc.TraceID().String()
	}
	return e
}

// passOn answers 503 with the wait of an unavailable dependency, instead
// of gqlgen's 200, when a resolver met one: a caller's breaker then
// treats it as it treats a REST service's 503 passed on.
type passOn struct {
	http.ResponseWriter
	mu   sync.Mutex
	wait time.Duration
	sent bool
}

type passOnKey struct{}

func (p *passOn) set(wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wait = max(p.wait, wait)
}

func (p *passOn) WriteHeader(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent {
		return
	}
	p.sent = true
	if status == http.StatusOK && p.wait > 0 {
		httpjson.PassOn(p.ResponseWriter, p.wait)
		status = http.StatusServiceUnavailable
	}
	p.ResponseWriter.WriteHeader(status)
}

func (p *passOn) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return p.ResponseWriter.Write(b)
}

// DepthLimit refuses an operation whose selections nest deeper than it.
type DepthLimit int

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = DepthLimit(0)

func (DepthLimit) ExtensionName() string                   { return "DepthLimit" }
func (DepthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d DepthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if selectionDepth(oc.Operation.SelectionSet, int(d)+1) > int(d) {
		err := gqlerror.Errorf("the operation nests deeper than %d levels", int(d))
		errcode.Set(err, CodeDepthLimit)
		return err
	}
	return nil
}

// selectionDepth is how deeply set nests fields, fragments included; it
// stops counting past limit. Fragments cannot spread into each other in a
// cycle: validation refused such an operation before this runs.
func selectionDepth(set ast.SelectionSet, limit int) int {
	if limit <= 0 {
		return 0
	}
	depth := 0
	for _, s := range set {
		d := 0
		switch s := s.(type) {
		case *ast.Field:
			d = 1 + selectionDepth(s.SelectionSet, limit-1)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, limit)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = selectionDepth(s.Definition.SelectionSet, limit)
			}
		}
		depth = max(depth, d)
	}
	return depth
}

// ListCost is the complexity of a list field: its page size (limit, or
// def when the operation leaves it out) times the cost of one element.
func ListCost(child int, limit *int, def int) int {
	if limit != nil && *limit > 0 {
		return child * *limit
	}
	return child * def
}

// NewClients returns genqlient clients of the GraphQL service at baseURL
// through hc, normally the *httpclient.Client of platform/service
// (breaker, retry budget, deadline, identity): query sends queries as GET,
// idempotent, so that hc may retry them; mutate sends as POST, never
// retried. An answer other than 200 is a *httpjson.StatusError.
func NewClients(baseURL string, hc httpjson.Doer) (query, mutate genqlient.Client) {
	d := statusDoer{hc}
	return genqlient.NewClientUsingGet(baseURL+Route, d), genqlient.NewClient(baseURL+Route, d)
}

// statusDoer turns an answer other than 200 into *httpjson.StatusError, as
// REST clients get, so that a caller passes the service's unavailability
// on (httpjson.InternalError, service.Gather) whatever its API.
type statusDoer struct{ httpjson.Doer }

func (d statusDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.Doer.Do(req)
	if err != nil || resp.StatusCode == http.StatusOK {
		return resp, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, httpjson.MaxBodyBytes))
	se := &httpjson.StatusError{Route: req.Method + " " + Route, Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
		se.RetryAfter = time.Duration(min(n, 3600)) * time.Second
	}
	// GraphQL's errors, or the {"error": "..."} of platform/httpjson that
	// the service's HTTP layer answers (a body too large, a dependency
	// unavailable): the message alone, as REST clients give it.
	var body struct {
		Error  string                     `json:"error"`
		Errors []struct{ Message string } `json:"errors"`
	}
	if json.Unmarshal(data, &body) == nil {
		if len(body.Errors) > 0 {
			se.Message = body.Errors[0].Message
		} else if body.Error != "" {
			se.Message = body.Error
		}
	}
	return nil, se
}

// MarshalID and UnmarshalID are how servers write and read the schema's
// ID (gqlgen.yml binds it to them): a string, as GraphQL says, holding an
// int64.
func MarshalID(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { io.WriteString(w, strconv.Quote(strconv.FormatInt(id, 10))) })
}

func UnmarshalID(v any) (int64, error) {
	switch v := v.(type) {
	case string:
		return strconv.ParseInt(v, 10, 64)
	case json.Number:
		return v.Int64()
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	}
	return 0, errors.New("an ID must be a string holding a whole number")
}

// MarshalIDJSON and UnmarshalIDJSON are how clients write and read it
// (genqlient.yaml binds it to them); null and 0 both mean no ID.
func MarshalIDJSON(id *int64) ([]byte, error) {
	if *id == 0 {
		return []byte("null"), nil
	}
	return strconv.AppendQuote(nil, strconv.FormatInt(*id, 10)), nil
}

func UnmarshalIDJSON(b []byte, id *int64) error {
	if bytes.Equal(b, []byte("null")) {
		*id = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	*id = n
	return err
}
