// Package tmuxtest drives a terminal program inside tmux for tests: start it
// in a detached session of a fixed size, send keys, capture the screen and
// poll it until it shows what the test expects. Each Session has its own
// tmux server (its own socket), so tests never touch the user's sessions or
// each other's, and the server is killed when the test ends.
package tmuxtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Session is one program running in a tmux pane.
type Session struct {
	t      testing.TB
	tmux   string
	socket string
}

var serial atomic.Int64

// Available returns tmux's path. Without tmux the test is skipped, or
// fails under CI=true, where scripts/install-deps.sh must have installed it.
func Available(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed; bash scripts/install-deps.sh installs it")
		}
		t.Skip("tmux is not installed; bash scripts/install-deps.sh installs it")
	}
	return path
}

// Start runs command (a shell command line) in a new width x height pane,
// with env added to its environment ("NAME=value").
func Start(t testing.TB, width, height int, command string, env ...string) *Session {
	t.Helper()
	s := &Session{
		t:      t,
		tmux:   Available(t),
		socket: fmt.Sprintf("msx-test-%d-%d", os.Getpid(), serial.Add(1)),
	}
	args := []string{"new-session", "-d", "-s", "main", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, command)
	t.Cleanup(func() { _ = exec.Command(s.tmux, "-L", s.socket, "kill-server").Run() })
	if out, err := s.run(args...); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	return s
}

func (s *Session) run(args ...string) (string, error) {
	// -f /dev/null: the user's tmux.conf must not change what tests see.
	cmd := exec.Command(s.tmux, append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Send types keys as tmux send-keys names them: "q", "Enter", "Down",
// "C-c"; a key that is not a tmux key name is typed literally.
func (s *Session) Send(keys ...string) {
	s.t.Helper()
	if out, err := s.run(append([]string{"send-keys", "-t", "main"}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v: %s", keys, err, out)
	}
}

// Capture returns the pane's visible text, without colours.
func (s *Session) Capture() string {
	s.t.Helper()
	out, err := s.run("capture-pane", "-p", "-t", "main")
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v: %s", err, out)
	}
	return out
}

// AltScreen reports whether the pane is on the alternate screen, as a
// full-screen program puts it and must leave it when it exits.
func (s *Session) AltScreen() bool {
	s.t.Helper()
	out, err := s.run("display-message", "-p", "-t", "main", "#{alternate_on}")
	if err != nil {
		s.t.Fatalf("tmux display-message: %v: %s", err, out)
	}
	return strings.TrimSpace(out) == "1"
}

// WaitFor polls the screen until every text appears on it, and returns the
// screen; after timeout it fails the test showing the last screen.
func (s *Session) WaitFor(timeout time.Duration, texts ...string) string {
	s.t.Helper()
	return s.WaitUntil(timeout, fmt.Sprintf("%q", texts), func(screen string) bool {
		for _, x := range texts {
			if !strings.Contains(screen, x) {
				return false
			}
		}
		return true
	})
}

// WaitUntil polls the screen until ok accepts it, and returns it; what
// names the condition in the failure.
func (s *Session) WaitUntil(timeout time.Duration, what string, ok func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		screen := s.Capture()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after %v the screen does not show %s:\n%s", timeout, what, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
