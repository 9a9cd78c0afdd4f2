package devenv

import (
	"slices"
	"strings"
	"testing"
)

func TestContainerServices(t *testing.T) {
	m := &Manifest{Services: map[string]Service{
		"orders":   {DB: DBPostgres},
		"payments": {DB: DBSQLite},
	}}
	if got := DatabaseName("orders"); got != "orders-db" {
		t.Errorf("DatabaseName = %q, want orders-db", got)
	}
	want := append(m.ServiceNames(), GatewayName, CollectorName, "orders-db")
	if got := m.ContainerServices(); !slices.Equal(got, want) {
		t.Errorf("ContainerServices = %v, want %v", got, want)
	}
	for _, ok := range [][]string{nil, {"orders", "orders-db", "payments-db", GatewayName, CollectorName}} {
		if err := m.CheckContainerServices(ok); err != nil {
			t.Errorf("CheckContainerServices(%v) = %v", ok, err)
		}
	}
	if err := m.CheckContainerServices([]string{"orders", "shipping"}); err == nil || !strings.Contains(err.Error(), "no service shipping") {
		t.Errorf("CheckContainerServices(shipping) = %v, want it named", err)
	}
}
