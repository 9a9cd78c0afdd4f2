package cmd

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msx-dev/msx/iostreams"
)

func TestCompletion(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "shop")
	run := func(args ...string) string {
		t.Helper()
		io, out, errOut := iostreams.Test()
		if code := Run(context.Background(), io, args); code != 0 {
			t.Fatalf("msx %v: exit %d: %s", args, code, errOut)
		}
		return out.String()
	}
	run("init", ws)
	run("-C", ws, "new", "service", "orders")
	run("-C", ws, "new", "service", "payments")

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"up", ""}, "orders\npayments\n:4\n"},
		{[]string{"up", "orders", ""}, "payments\n:4\n"},
		{[]string{"add", "dependency", "payments", ""}, "orders\n:4\n"},
		{[]string{"new", "service", "x", "--db", ""}, "postgres\nsqlite\nnone\n:4\n"},
		{[]string{"new", "service", "x", "--depends-on", "orders,"}, "orders,payments\n:6\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := run(append([]string{"__complete", "-C", ws}, tt.args...)...)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
