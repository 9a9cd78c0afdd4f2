package cmd

import (
	"strings"
	"testing"

	"github.com/msx-dev/msx/iostreams"
	"github.com/msx-dev/msx/runner"
)

// The password file matches the published port, escapes what libpq
// escapes, and the printed command names the file, never the password.
func TestPGPassLine(t *testing.T) {
	d := runner.Database{Service: "orders", DB: "postgres", User: "orders", Name: "orders", HostPort: 54321}
	if got, want := pgpassLine(d, `pw:with\both`), `127.0.0.1:54321:orders:orders:pw\:with\\both`+"\n"; got != want {
		t.Errorf("pgpassLine = %q, want %q", got, want)
	}
	if got, want := shellQuote("/home/o'neil/.msx/orders.pgpass"), `'/home/o'\''neil/.msx/orders.pgpass'`; got != want {
		t.Errorf("shellQuote = %q, want %q", got, want)
	}
}

func TestDbFlagsThatDoNotGoTogether(t *testing.T) {
	for _, args := range [][]string{{"db", "orders", "--shell", "--pgpass"}, {"db", "orders", "--pgpass", "--show-password"}} {
		io, _, _ := iostreams.Test()
		c := NewRootCmd(NewFactory(io))
		c.SetArgs(args)
		c.SilenceErrors, c.SilenceUsage = true, true
		if err := c.Execute(); err == nil || !strings.Contains(err.Error(), "--pgpass") {
			t.Errorf("msx %v: %v", args, err)
		}
	}
}
