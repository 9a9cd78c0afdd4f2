package dashboard

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/dashboard/tmuxtest"
)

// TestDashboardInTmux runs the demo program (the dashboard against a
// scripted session) in a real terminal: what it draws, what keys do, and
// that q gives the terminal back as it was.
func TestDashboardInTmux(t *testing.T) {
	tmuxtest.Available(t)
	bin := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("go", "build", "-o", bin, "./internal/demo").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := tmuxtest.Start(t, 120, 40, bin+" -rate 20; echo demo-exit=$?; stty -a; exec sleep 600", "NO_COLOR=1")

	s.WaitFor(15*time.Second, "msx demo", "http://localhost:8080", "catalog", "checkout", "ready",
		"FAILED", "GET /api/catalog/items/", "GET /api/orders/items/", "gateway listening")
	if !s.AltScreen() {
		t.Fatal("the dashboard is not on the alternate screen")
	}
	s.WaitFor(10*time.Second, "restarted: crashed") // the scripted crash of checkout

	s.Send("Down") // orders, whose build failed: its compiler errors show
	s.WaitFor(5*time.Second, "orders: build failed", "services/orders/handlers.go:42:9: undefined: itemz")
	s.Send("r")
	s.WaitFor(5*time.Second, "restarted: restart requested")
	s.Send("Enter")
	s.WaitFor(5*time.Second, "logs: orders")
	s.Send("/", "zzz", "Enter")
	s.WaitFor(5*time.Second, "filter: zzz")
	// Escape alone: followed at once by b, a terminal reads alt+b.
	s.Send("Escape")
	s.WaitUntil(5*time.Second, "the filter cleared", func(screen string) bool { return !strings.Contains(screen, "filter: zzz") })
	s.Send("b")
	s.WaitFor(5*time.Second, "built in 0.75s: rebuild requested")

	s.Send("q")
	screen := s.WaitFor(10*time.Second, "demo-exit=0", "demo: dashboard closed")
	if s.AltScreen() {
		t.Fatal("q left the terminal on the alternate screen")
	}
	// stty -a after the exit: the line discipline is back to cooked mode.
	if regexp.MustCompile(`(^|\s)-(icanon|echo|isig)\b`).MatchString(screen) ||
		!regexp.MustCompile(`(^|\s)icanon\b`).MatchString(screen) {
		t.Fatalf("terminal left in raw mode:\n%s", screen)
	}
}
