package dashboard

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msx-dev/msx/dashboard/tmuxtest"
)

var demoBuild struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// demo builds the demo program once for all tests.
func demo(t *testing.T) string {
	t.Helper()
	tmuxtest.Available(t)
	b := &demoBuild
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "msx-dashboard-demo-")
		if b.err == nil {
			b.out, b.err = exec.Command("go", "build", "-o", filepath.Join(b.dir, "demo"), "./internal/demo").CombinedOutput()
		}
	})
	if b.err != nil {
		t.Fatalf("go build ./internal/demo: %v\n%s", b.err, b.out)
	}
	return filepath.Join(b.dir, "demo")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if demoBuild.dir != "" {
		os.RemoveAll(demoBuild.dir)
	}
	os.Exit(code)
}

// TestDashboardInTmux runs the demo program (the dashboard against a
// scripted session) in a real terminal: what it draws, what keys do, and
// that q gives the terminal back as it was.
func TestDashboardInTmux(t *testing.T) {
	bin := demo(t)
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
	s.WaitFor(10*time.Second, "demo-exit=0", "demo: dashboard closed")
	screen := sttyModes(s)
	if s.AltScreen() {
		t.Fatal("q left the terminal on the alternate screen")
	}
	// stty -a after the exit: the line discipline is back to cooked mode.
	if regexp.MustCompile(`(^|\s)-(icanon|echo|isig)\b`).MatchString(screen) ||
		!regexp.MustCompile(`(^|\s)icanon\b`).MatchString(screen) {
		t.Fatalf("terminal left in raw mode:\n%s", screen)
	}
}

// TestDashboardGivesTheTerminalBack ends the demo each way a session can
// end while the dashboard runs, and checks the terminal is as it was.
func TestDashboardGivesTheTerminalBack(t *testing.T) {
	bin := demo(t)
	dir := t.TempDir()
	cases := []struct {
		name  string
		flags string
		end   func(t *testing.T, s *tmuxtest.Session, pidfile string)
		exit  string
	}{
		{"ctrl+c", "", func(t *testing.T, s *tmuxtest.Session, _ string) { s.Send("C-c") }, "demo-exit=0"},
		{"SIGTERM ends the context", "", func(t *testing.T, s *tmuxtest.Session, pidfile string) {
			pid, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("kill", "-TERM", string(pid)).CombinedOutput(); err != nil {
				t.Fatalf("kill: %v %s", err, out)
			}
		}, "demo-exit=0"},
		{"panic in a session goroutine", "-panic-after 1s", func(*testing.T, *tmuxtest.Session, string) {},
			"demo-exit=2"}, // the runtime's exit code for a panic, after its message
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pidfile := filepath.Join(dir, fmt.Sprint("pid", i))
			s := tmuxtest.Start(t, 100, 30, fmt.Sprintf("%s -pidfile %s %s; echo demo-exit=$?; stty -a; exec sleep 600", bin, pidfile, c.flags))
			s.WaitFor(15*time.Second, "msx demo", "ready")
			c.end(t, s, pidfile)
			s.WaitFor(15*time.Second, c.exit)
			screen := sttyModes(s)
			if c.exit == "demo-exit=2" && !strings.Contains(screen, "panic: demo: a bug in the session") {
				t.Fatalf("the panic's message was lost:\n%s", screen)
			}
			if s.AltScreen() {
				t.Fatal("left on the alternate screen")
			}
			if regexp.MustCompile(`(^|\s)-(icanon|echo|isig)\b`).MatchString(screen) {
				t.Fatalf("terminal left in raw mode:\n%s", screen)
			}
		})
	}
}

// sttyModes waits for the output of the stty -a the shell runs after the
// demo exits and returns the screen with it: the exit line comes first, so
// a screen that has it may not have stty's modes yet (seen under load).
func sttyModes(s *tmuxtest.Session) string {
	return s.WaitUntil(10*time.Second, "the local modes of stty -a", sttyPrinted.MatchString)
}

// sttyPrinted matches the icanon flag of stty -a, set or not.
var sttyPrinted = regexp.MustCompile(`(^|\s)-?icanon\b`)
