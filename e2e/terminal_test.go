//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A pseudo-terminal that answers no queries (script, some IDE and CI
// terminals) must cost msx nothing: no command may wait for an answer, nor
// leave a query's bytes (OSC 11 "\x1b]11;?", cursor report "\x1b[6n") in
// the user's output. Bubble Tea's package init used to ask and wait five
// seconds on every command.
func TestNoTerminalQueryBlocksUnderSilentPty(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"version"}, {"doctor"}, {"ps"}} {
		out, took := runUnderSilentPty(t, dir, args...)
		if took > 2*time.Second {
			t.Errorf("msx %s took %s under a terminal that does not answer queries; want well under the 5 s a query waits", strings.Join(args, " "), took.Round(time.Millisecond))
		}
		if strings.Contains(out, "\x1b]11;?") || strings.Contains(out, "\x1b[6n") {
			t.Errorf("msx %s queried the terminal:\n%q", strings.Join(args, " "), out)
		}
	}
}

// runUnderSilentPty runs msx with a new pseudo-terminal as its controlling
// terminal and stdin, stdout and stderr, reads everything it writes and
// answers nothing; it returns the output and how long msx took.
func runUnderSilentPty(t *testing.T, dir string, args ...string) (string, time.Duration) {
	t.Helper()
	master, slave := openPty(t)
	defer master.Close()
	c := exec.Command(msxBin, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "TERM=xterm-256color", "NO_COLOR=")
	c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, master); close(done) }()
	start := time.Now()
	if err := c.Start(); err != nil {
		slave.Close()
		t.Fatal(err)
	}
	slave.Close()
	timer := time.AfterFunc(30*time.Second, func() { c.Process.Kill() })
	defer timer.Stop()
	c.Wait() // exit codes don't matter here (doctor may find no engine)
	took := time.Since(start)
	master.Close() // ends the copy if the slave is held open elsewhere
	<-done
	return out.String(), took
}

func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatalf("naming the pseudo-terminal: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatalf("opening the pseudo-terminal's slave: %v", err)
	}
	return master, slave
}
