//go:build unix

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary is also the init and the program it runs: with
// MSXINIT_TEST set, "child-MODE" as its first argument makes it a child,
// anything else makes it msx-init itself.
func TestMain(m *testing.M) {
	if os.Getenv("MSXINIT_TEST") == "" {
		os.Exit(m.Run())
	}
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "child-") {
		child(strings.TrimPrefix(os.Args[1], "child-"))
		return
	}
	main()
}

// child is the tiny program under msx-init. It says "ready PID" when its
// handlers are in place, then:
//
//	serve     exits 0 on SIGTERM ("term PID"), 2 on SIGINT
//	stubborn  ignores the first SIGTERM ("ignored PID"), exits 0 on the next
//	exit3     exits 3 at once
func child(mode string) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	pid := os.Getpid()
	fmt.Printf("ready %d\n", pid)
	if mode == "exit3" {
		os.Exit(3)
	}
	terms := 0
	for s := range sigs {
		switch {
		case s == syscall.SIGHUP:
			fmt.Printf("hup %d\n", pid)
		case s == syscall.SIGINT:
			os.Exit(2)
		case mode == "stubborn" && terms == 0:
			terms++
			fmt.Printf("ignored %d\n", pid)
		default:
			fmt.Printf("term %d\n", pid)
			os.Exit(0)
		}
	}
}

// proc is msx-init running as a process of its own, on a child of mode.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	done  chan error
}

func start(t *testing.T, mode string) *proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, self, "child-"+mode)
	cmd.Env = append(os.Environ(), "MSXINIT_TEST=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, lines: make(chan string, 64), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	return p
}

// expect waits for the next line to start with prefix and returns the
// rest of it.
func (p *proc) expect(prefix string) string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok || !strings.HasPrefix(l, prefix+" ") {
			p.t.Fatalf("got line %q (open %v), want %q", l, ok, prefix+" PID")
		}
		return strings.TrimPrefix(l, prefix+" ")
	case <-time.After(30 * time.Second):
		p.t.Fatalf("no %q line in 30 s", prefix)
	}
	return ""
}

func (p *proc) signal(s os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatal(err)
	}
}

// exit waits for msx-init to exit and returns its code.
func (p *proc) exit() int {
	p.t.Helper()
	for range p.lines {
	}
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		p.t.Fatal("msx-init did not exit in 30 s")
	}
	return -1
}

func TestSwapSignalStopsTheProgramGracefullyAndStartsItAgain(t *testing.T) {
	p := start(t, "serve")
	first := p.expect("ready")
	p.signal(SwapSignal)
	if got := p.expect("term"); got != first {
		t.Fatalf("term from %s, want the first program %s", got, first)
	}
	second := p.expect("ready")
	if second == first {
		t.Fatalf("the program was not started again (pid %s)", second)
	}
	// Other signals go to the program as they are, and the new one is
	// the container's program: SIGTERM stops it and msx-init with its code.
	p.signal(syscall.SIGHUP)
	if got := p.expect("hup"); got != second {
		t.Fatalf("SIGHUP went to %s, want %s", got, second)
	}
	p.signal(syscall.SIGTERM)
	if got := p.expect("term"); got != second {
		t.Fatalf("term from %s, want %s", got, second)
	}
	if code := p.exit(); code != 0 {
		t.Errorf("exit code %d after a graceful stop, want 0", code)
	}
}

func TestTheProgramsExitCodeIsTheContainers(t *testing.T) {
	p := start(t, "exit3")
	p.expect("ready")
	if code := p.exit(); code != 3 {
		t.Errorf("exit code %d, want the program's 3", code)
	}

	p = start(t, "serve")
	p.expect("ready")
	p.signal(syscall.SIGINT)
	if code := p.exit(); code != 2 {
		t.Errorf("exit code %d after SIGINT, want the program's 2", code)
	}
}

func TestAProgramThatIgnoresSIGTERMIsKilledAfterTheGrace(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MSXINIT_TEST", "1")
	pr, pw := io.Pipe()
	sigs := make(chan os.Signal, 4)
	code := make(chan int, 1)
	go func() {
		code <- run([]string{self, "child-stubborn"}, sigs, 200*time.Millisecond, pw, os.Stderr)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	next := func(prefix string) string {
		t.Helper()
		if !sc.Scan() || !strings.HasPrefix(sc.Text(), prefix+" ") {
			t.Fatalf("got %q, want %q", sc.Text(), prefix+" PID")
		}
		return strings.TrimPrefix(sc.Text(), prefix+" ")
	}
	first := next("ready")
	sigs <- SwapSignal
	next("ignored")
	// No "term": the grace ran out and the program was killed.
	if second := next("ready"); second == first {
		t.Fatal("the program was not started again")
	}
	sigs <- syscall.SIGTERM
	next("ignored")
	sigs <- syscall.SIGTERM
	next("term")
	go io.Copy(io.Discard, pr)
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit code %d, want 0", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return")
	}
}

func TestAProgramThatCannotStartIs127(t *testing.T) {
	var stderr strings.Builder
	if code := run([]string{"/nonexistent/msx/app"}, make(chan os.Signal), time.Second, io.Discard, &stderr); code != 127 {
		t.Errorf("code %d, want 127", code)
	}
	if !strings.Contains(stderr.String(), "cannot start /nonexistent/msx/app") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
