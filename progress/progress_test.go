package progress

import (
	"testing"
	"time"
)

// The words are those msx printed before steps were typed: the plain
// printer's output and the dashboard's notes are built from them.
func TestStepWords(t *testing.T) {
	for _, c := range []struct {
		step          Step
		subject, says string
	}{
		{Step{Kind: Compiling, Name: "orders"}, "orders", "compiling"},
		{Step{Kind: Packing, Name: "orders"}, "orders", "packing"},
		{Step{Kind: UpToDate, Name: "gateway"}, "gateway", "up to date"},
		{Step{Kind: Built, Name: "orders", Duration: 1249 * time.Millisecond}, "orders", "built in 1.2s"},
		{Step{Kind: Pulling, Object: Image, Name: "postgres", Ref: "postgres:16"}, "postgres", "pulling postgres:16"},
		{Step{Kind: Pulling, Object: Image, Name: "postgres", Ref: "postgres:16", Current: 3<<20 + 5, Total: 40 << 20}, "postgres", "pulling postgres:16: 3 of 40 MB"},
		{Step{Kind: Pulled, Object: Image, Name: "postgres", Ref: "postgres:16", Duration: 2345 * time.Millisecond}, "postgres", "pulled postgres:16 in 2.3s"},
		{Step{Kind: Created, Name: "orders"}, "orders", "created"},
		{Step{Kind: Created, Object: Network, Name: "shop_default"}, "network shop_default", "created"},
		{Step{Kind: Created, Object: Volume, Name: "shop_pg"}, "volume shop_pg", "created"},
		{Step{Kind: Recreated, Name: "orders", Reason: "code changed"}, "orders", "recreated (code changed)"},
		{Step{Kind: Running, Name: "orders"}, "orders", "unchanged, running"},
		{Step{Kind: Started, Name: "orders"}, "orders", "unchanged, started"},
		{Step{Kind: Ready, Name: "orders"}, "orders", "ready"},
		{Step{Kind: Stopped, Name: "orders"}, "orders", "stopped"},
		{Step{Kind: Killed, Name: "orders"}, "orders", "killed"},
		{Step{Kind: Removed, Name: "orders", Reason: "never started"}, "orders", "removed (never started)"},
		{Step{Kind: Removed, Object: Container, Name: "shop-orders"}, "shop-orders", "removed"},
	} {
		if got := c.step.Subject(); got != c.subject {
			t.Errorf("%+v: subject %q, want %q", c.step, got, c.subject)
		}
		if got := c.step.String(); got != c.says {
			t.Errorf("%+v: says %q, want %q", c.step, got, c.says)
		}
	}
	if got := Kind(99).String(); got != "Kind(99)" {
		t.Errorf("unknown kind = %q", got)
	}
}
