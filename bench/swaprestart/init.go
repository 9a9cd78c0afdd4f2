//go:build ignore

// A minimal init for the restart benchmark: PID 1 runs /msx/app, forwards
// SIGTERM and SIGINT to it and exits with it; on SIGHUP it stops the app
// gracefully (SIGTERM, wait) and starts /msx/app again.
package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func start() *exec.Cmd {
	c := exec.Command("/msx/app", os.Args[1:]...)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	if err := c.Start(); err != nil {
		os.Exit(127)
	}
	return c
}

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for {
		c := start()
		exited := make(chan int, 1)
		go func() { c.Wait(); exited <- c.ProcessState.ExitCode() }()
	wait:
		select {
		case code := <-exited:
			os.Exit(code)
		case s := <-sigs:
			if s != syscall.SIGHUP {
				c.Process.Signal(s)
				goto wait
			}
			c.Process.Signal(syscall.SIGTERM)
			<-exited
		}
	}
}
