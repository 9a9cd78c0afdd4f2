// Command dashboard is the load for bench/dashboard.sh: it publishes a
// session's log stream (10 services, 5,000 lines/s in total by default) to
// one observer and reports the CPU time the whole process used:
//
//	-mode tui    the dashboard, drawing on this terminal
//	-mode plain  a plain printer: one "service | line" write per line, as
//	             docker compose up and msx up --no-tui print
//	-mode none   no observer at all: the generator's own cost, subtracted
//	             from the other two
//
// The result is one JSON line written to -out, since stdout is the terminal
// under test.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/dashboard"
)

type result struct {
	Mode    string  `json:"mode"`
	Lines   int     `json:"lines"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"`
	Percent float64 `json:"cpu_percent_of_one_core"`
}

func main() {
	mode := flag.String("mode", "tui", "tui, plain or none")
	services := flag.Int("services", 10, "services logging")
	rate := flag.Int("rate", 5000, "log lines per second, all services together")
	seconds := flag.Float64("seconds", 20, "measured time, after one second of warm-up")
	out := flag.String("out", "", "file for the JSON result")
	flag.Parse()
	if err := run(*mode, *services, *rate, time.Duration(*seconds*float64(time.Second)), *out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(mode string, services, rate int, measure time.Duration, out string) error {
	names := make([]string, services)
	for i := range names {
		names[i] = fmt.Sprintf("service%02d", i)
	}
	bus := activity.NewBus(time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wait func() error
	switch mode {
	case "tui":
		d := dashboard.New(dashboard.Options{Project: "bench", GatewayURL: "http://localhost:8080",
			Services: names, In: os.Stdin, Out: os.Stdout})
		bus.Subscribe(d)
		errc := make(chan error, 1)
		go func() { errc <- d.Run(ctx) }()
		wait = func() error { return <-errc }
	case "plain":
		bus.Subscribe(printer{os.Stdout})
	case "none":
	default:
		return fmt.Errorf("unknown mode %q: use tui, plain or none", mode)
	}
	for i, n := range names {
		bus.Publish(activity.Event{Kind: activity.Ready, Service: n, Port: 8081 + i})
	}

	res := make(chan result, 1)
	go func() {
		time.Sleep(time.Second) // warm-up: the first frames, the rings filling
		c0, t0, l0 := cpu(), time.Now(), lines.Load()
		time.Sleep(measure)
		c1, t1, l1 := cpu(), time.Now(), lines.Load()
		wall := t1.Sub(t0).Seconds()
		res <- result{Mode: mode, Lines: int(l1 - l0), Seconds: wall, CPU: c1 - c0, Percent: 100 * (c1 - c0) / wall}
		cancel()
	}()
	generate(ctx, bus, names, rate)
	r := <-res
	if wait != nil {
		if err := wait(); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(r)
	if out == "" {
		fmt.Fprintln(os.Stderr, string(b))
		return nil
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

var lines atomic.Int64

// generate publishes rate lines a second, round robin over the services,
// in 10 ms bursts, with a stats sample per service each second, until ctx
// ends.
func generate(ctx context.Context, bus *activity.Bus, names []string, rate int) {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	var i, ticks int
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Catch up on ticks a busy machine delayed: the rate holds on average.
		due := int(time.Since(start).Seconds() * float64(rate))
		perTick := due - i
		for j := 0; j < perTick; j++ {
			n := names[i%len(names)]
			bus.Publish(activity.Event{Kind: activity.Log, Service: n, Stream: activity.Stdout,
				Line: fmt.Sprintf(`{"time":"2026-11-25T12:00:00.000Z","level":"INFO","msg":"request","method":"GET","path":"/api/%s/items/%d","status":200,"duration_ms":1.2}`, n, i)})
			i++
		}
		lines.Add(int64(perTick))
		if ticks++; ticks%100 == 0 {
			for k, n := range names {
				bus.Publish(activity.Event{Kind: activity.Stats, Service: n, CPU: float64(k), Memory: 20 << 20})
			}
		}
	}
}

// printer is the peer: the plain observer's work for a log line.
type printer struct{ w io.Writer }

func (p printer) Observe(e activity.Event) {
	if e.Kind == activity.Log {
		fmt.Fprintf(p.w, "%-9s | %s\n", e.Service, e.Line)
	}
}

func cpu() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
