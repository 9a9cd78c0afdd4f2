// Package scaffold generates workspaces and services from the embedded
// template trees: render everything, check it, stage it, then move it into
// place, so a failure leaves the workspace as it was.
package scaffold

import (
	"strings"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/names"
)

// WorkspaceData is what templates/workspace sees.
type WorkspaceData struct {
	Project     string // "shop": the workspace folder's name, a valid name
	Module      string // "example.com/shop"
	GatewayPort int    // 8080
	GoVersion   string // the go directive of the generated go.mod, "1.26"
}

// ServiceData is what templates/service sees.
type ServiceData struct {
	Project string // "shop"
	Module  string // "example.com/shop"
	Name    string // "order-items": the service name, a valid name
	GoName  string // "OrderItems": exported identifier form
	EnvName string // "ORDER_ITEMS": environment variable prefix
	APIPkg  string // "orderitemsapi": its API package, services/NAME/APIPkg
	DB      string // "postgres", "sqlite" or "none"
	API     string // "rest" or "graphql"
	// GQLAPIPath is the API package's import path as gqlgen spells it in
	// the names of generated functions ("example.com/shop" gives
	// "exampleᚗcomᚋshop"), for the committed generated code.
	GQLAPIPath string
	Port       int   // the port the service listens on by default
	Deps       []Dep // sorted by name
	// Subscribes are the events the service handles, sorted.
	Subscribes []Subscription
	// Publishers are the services whose events it handles, sorted, each
	// once: their API packages have the events' types.
	Publishers []Publisher

	GoVersion string // the Go version of the production Dockerfile's build stage
}

// Dep is one service this service calls.
type Dep struct {
	Name    string // "payments"
	GoName  string // "Payments"
	VarName string // "payments": unexported identifier form
	APIPkg  string // "paymentsapi": the package its callers import
	API     string // "rest" or "graphql": how its fake in tests answers
	EnvVar  string // "PAYMENTS_URL": where its address comes from
	Port    int    // its default port, for the fallback URL http://localhost:PORT
}

// Subscription is one event a service handles.
type Subscription struct {
	Topic  string // "orders.item.created", as msx.yaml spells it
	GoName string // "OrdersItemCreated": its handler is onOrdersItemCreated
	APIPkg string // "ordersapi": the publisher's API package
	Type   string // "ItemCreated": the type of its data there
}

// Publisher is a service whose events a service handles.
type Publisher struct {
	Name   string // "orders"
	APIPkg string // "ordersapi"
}

// gqlgenPath spells an import path as gqlgen does in generated names.
var gqlgenPath = strings.NewReplacer("/", "ᚋ", ".", "ᚗ", "-", "ᚑ", "~", "א")

// apiKind is a service's API kind as templates see it: msx.yaml's api, or
// rest when it has none.
func apiKind(api string) string {
	if api == "" {
		return devenv.APIREST
	}
	return api
}

// APIPackage is the name of service name's API package, and of its folder
// under services/NAME: "order-items" gives "orderitemsapi".
func APIPackage(name string) string {
	return strings.ToLower(names.GoName(name)) + "api"
}
