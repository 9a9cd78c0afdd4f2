// Command loggen prints numbered lines at a fixed rate, for bench/logs.sh:
// "NAME SEQ" for SEQ from 1 to -n, paced to -rate lines a second, then
// "NAME END", then waits to be stopped (so that followers do not end on
// their own).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	name := flag.String("name", "g", "name printed before each number")
	n := flag.Int("n", 10000, "lines to print")
	rate := flag.Int("rate", 5000, "lines a second")
	delay := flag.Duration("delay", 2*time.Second, "wait before the first line")
	flag.Parse()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	time.Sleep(*delay)
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	start := time.Now()
	const tick = 10 * time.Millisecond
	perTick := max(*rate/100, 1)
	for i := 1; i <= *n; i++ {
		fmt.Fprintf(w, "%s %07d\n", *name, i)
		if i%perTick == 0 {
			w.Flush()
			// Pace against the start, not the last tick, so the rate holds.
			if d := time.Until(start.Add(time.Duration(i/perTick) * tick)); d > 0 {
				time.Sleep(d)
			}
		}
	}
	fmt.Fprintf(w, "%s END\n", *name)
	w.Flush()
	<-sig
}
