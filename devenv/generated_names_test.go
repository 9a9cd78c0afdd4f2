package devenv

import (
	"strings"
	"testing"

	"github.com/msx-dev/msx/names"
)

// Every name the plan gives something that is not a service (a kind's
// instance, the gateway, the collector, the event reader, a secret
// filler in the exports) is refused as a service name by the one name
// rule, so that no service collides with it. A kind added to the table
// with a new suffix fails here until names knows it.
func TestGeneratedNamesAreNotServiceNames(t *testing.T) {
	generated := []string{GatewayName, CollectorName, EventTapName, GatewayName + "-secrets"}
	for _, k := range Kinds {
		inst := instance(k, "orders")
		generated = append(generated, inst.Service, inst.Service+"-secrets")
	}
	for _, n := range generated {
		if err := names.Validate("service", n); err == nil {
			t.Errorf("service name %q is accepted, and collides with what msx names so", n)
		}
	}
	m, err := Parse([]byte("project: shop\nmodule: example.com/shop\nservices:\n  orders:\n    port: 8081\n    db: postgres\n  orders-db:\n    port: 8082\n    db: none\n"))
	if err == nil || !strings.Contains(err.Error(), "orders-db") {
		t.Errorf("a manifest with orders and orders-db: %v %v", m, err)
	}
}
