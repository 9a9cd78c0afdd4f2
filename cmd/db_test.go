package cmd

import (
	"strings"
	"testing"

	"github.com/msx-dev/msx/iostreams"
)

// The printed command names the password file, quoted for the shell.
func TestShellQuote(t *testing.T) {
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
