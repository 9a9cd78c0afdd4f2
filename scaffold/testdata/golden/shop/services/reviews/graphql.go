package main

//go:generate go tool gqlgen generate --config gqlgen.yml

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"

	"example.com/shop/platform/gql"
	"example.com/shop/platform/httpjson"
	"example.com/shop/platform/service"
	"example.com/shop/services/orders/ordersapi"
	"example.com/shop/services/reviews/graph"
)

// register serves reviews's GraphQL at /graphql (gql.Register), over the
// resolvers of resolvers.go.
func (a *api) register(mux *http.ServeMux, s gql.Settings) {
	gql.Register(mux, "reviews", a.schema(), s)
	mux.HandleFunc("GET /upstream", a.listUpstream)
}

// schema is the executable schema over the resolvers, with the cost of
// each list for the complexity limit: add one for each list field you add.
func (a *api) schema() graphql.ExecutableSchema {
	c := graph.ComplexityRoot{}
	c.Query.Items = func(child int, _ *int64, limit *int) int {
		return gql.ListCost(child, limit, httpjson.DefaultPageSize)
	}
	return graph.NewExecutableSchema(graph.Config{Resolvers: a, Complexity: c})
}

// listUpstream answers GET /upstream: each dependency's items through its
// typed client, or {"error": "..."}; 503 when one is unavailable.
func (a *api) listUpstream(w http.ResponseWriter, r *http.Request) {
	service.Gather(w, r, map[string]func(context.Context) (any, error){
		"orders": func(ctx context.Context) (any, error) {
			list, err := a.ordersClient.ListItems(ctx, 0, 0)
			return ordersapi.ItemList{Items: list.Items}, err // its first page, without a cursor into it
		},
	})
}
