package doctor

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"

	"github.com/msx-dev/msx/devenv"
)

// The real implementations of Env's functions, which cmd wires in.

// PortFree returns nil when a listener can bind 127.0.0.1:port, the address
// the gateway publishes on.
func PortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(devenv.LoopbackIP, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// GoVersion runs `go version`.
func GoVersion(ctx context.Context) (string, error) {
	return goCommand(ctx, "version")
}

// GoCache runs `go env GOCACHE`.
func GoCache(ctx context.Context) (string, error) {
	return goCommand(ctx, "env", "GOCACHE")
}

func goCommand(ctx context.Context, args ...string) (string, error) {
	path, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go command on PATH")
	}
	out, err := exec.CommandContext(ctx, path, args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			return "", fmt.Errorf("go %s: %s", strings.Join(args, " "), strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
