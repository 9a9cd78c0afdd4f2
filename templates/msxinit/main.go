//go:build unix

// Command msx-init is PID 1 of every container msx builds for a service or
// the gateway: it runs the program named by its arguments (/msx/app) and
// stays out of the way, except for a hot swap.
//
//   - SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGUSR1 go to the program as they
//     are: docker stop still means the program's own graceful shutdown.
//   - SIGUSR2 is msx's swap signal, never forwarded: msx-init stops the
//     program gracefully (SIGTERM, then SIGKILL only after Grace) and starts
//     the program again from the same path, where msx has just copied the
//     new binary. The container, its network and its published ports stay
//     as they are, which is what makes a swap faster than a container
//     restart.
//   - When the program exits by itself, msx-init exits with its code (128
//     plus the signal's number when a signal killed it), so the container's
//     exit code, its restart policy and msx's crash report are the
//     program's.
//
// It uses the standard library only: msx compiles it on the host, once,
// for the engine's architecture, and packs it into every image.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// Grace is how long a swap lets the old program stop after SIGTERM before
// killing it.
const Grace = 10 * time.Second

// SwapSignal is the signal msx sends for a swap.
const SwapSignal = syscall.SIGUSR2

// forwarded are the signals passed on to the program.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "msx-init: no program to run; give its path as the first argument")
		os.Exit(127)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, append(forwarded, SwapSignal)...)
	os.Exit(run(os.Args[1:], sigs, Grace, os.Stdout, os.Stderr))
}

// run runs args until the program exits by itself or after a stop
// signal, restarting it on SwapSignal, and returns the exit code for the
// container.
func run(args []string, sigs <-chan os.Signal, grace time.Duration, stdout, stderr io.Writer) int {
	stopping := false // a forwarded SIGTERM or SIGINT: the next exit is the container's
	for {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(stderr, "msx-init: cannot start %s: %v\n", args[0], err)
			return 127
		}
		exited := make(chan int, 1)
		go func() {
			_ = cmd.Wait()
			exited <- exitCode(cmd.ProcessState)
		}()
		swap := false
		for !swap {
			select {
			case code := <-exited:
				return code
			case s := <-sigs:
				if s != SwapSignal {
					_ = cmd.Process.Signal(s)
					if s == syscall.SIGTERM || s == syscall.SIGINT {
						stopping = true
					}
					continue
				}
				if stopping {
					continue // stopping the container wins over a swap
				}
				if code, stopped := stop(cmd, exited, sigs, grace); stopped {
					return code
				}
				swap = true
			}
		}
	}
}

// stop ends the program for a swap: SIGTERM, then SIGKILL after grace. A
// stop signal that arrives meanwhile is forwarded and ends the container
// (stopped, with the program's code) instead of starting it again.
func stop(cmd *exec.Cmd, exited <-chan int, sigs <-chan os.Signal, grace time.Duration) (code int, stopped bool) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	kill := time.NewTimer(grace)
	defer kill.Stop()
	for {
		select {
		case code := <-exited:
			return code, stopped
		case <-kill.C:
			_ = cmd.Process.Kill()
		case s := <-sigs:
			if s == SwapSignal {
				continue
			}
			_ = cmd.Process.Signal(s)
			if s == syscall.SIGTERM || s == syscall.SIGINT {
				stopped = true
			}
		}
	}
}

// exitCode is the code a shell would report for the program's end.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
