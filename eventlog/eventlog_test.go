package eventlog

import "testing"

func TestCheckSubject(t *testing.T) {
	for _, ok := range []string{"orders.item.created", "orders.>", "*.item.deleted", ">", "orders.*.created"} {
		if err := CheckSubject(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "orders..created", "orders.>.created", "ord*rs.item", "orders item", ".orders", "orders."} {
		if err := CheckSubject(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
