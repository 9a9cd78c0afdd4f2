// Command demo runs the dashboard against a scripted session, for the tmux
// test and for trying the dashboard by hand:
//
//	go run ./dashboard/internal/demo -rate 50
//
// Services build (one build fails with compiler errors), start, become
// ready and log at the given rate; one crashes once and is restarted. The
// r and b keys publish restart and rebuild events; q ends the demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/dashboard"
)

func main() {
	services := flag.String("services", "catalog,orders,checkout", "comma-separated service names")
	rate := flag.Int("rate", 20, "log lines per second, all services together")
	failing := flag.String("fail", "orders", "service whose build fails (empty for none)")
	crash := flag.String("crash", "checkout", "service that crashes once (empty for none)")
	pidfile := flag.String("pidfile", "", "write the process id here once the dashboard runs")
	panicAfter := flag.Duration("panic-after", 0, "panic in a session goroutine after this long (0: never)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, quit := context.WithCancel(ctx)
	defer quit()

	names := strings.Split(*services, ",")
	bus := activity.NewBus(time.Now)
	ctrl := &controller{bus: bus, quit: quit}
	d := dashboard.New(dashboard.Options{
		Project: "demo", GatewayURL: "http://localhost:8080", Services: names,
		In: os.Stdin, Out: os.Stdout, Controller: ctrl,
	})
	bus.Subscribe(d)
	go func() {
		defer d.Recover()
		script(ctx, bus, names, *rate, *failing, *crash, *panicAfter)
	}()
	if *pidfile != "" {
		if err := os.WriteFile(*pidfile, []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("demo: dashboard closed")
}

type controller struct {
	bus  *activity.Bus
	quit func()
}

func (c *controller) Restart(s string) {
	c.bus.Publish(activity.Event{Kind: activity.Restarted, Service: s, Detail: "restart requested"})
	c.bus.Publish(activity.Event{Kind: activity.Starting, Service: s})
	c.bus.Publish(activity.Event{Kind: activity.Ready, Service: s})
}

func (c *controller) Rebuild(s string) {
	c.bus.Publish(activity.Event{Kind: activity.Building, Service: s})
	c.bus.Publish(activity.Event{Kind: activity.Built, Service: s, Duration: 750 * time.Millisecond, Detail: "rebuild requested"})
}

func (c *controller) Quit() { c.quit() }

func script(ctx context.Context, bus *activity.Bus, names []string, rate int, failing, crash string, panicAfter time.Duration) {
	start := time.Now()
	pause := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for _, n := range names {
		bus.Publish(activity.Event{Kind: activity.Building, Service: n})
	}
	if !pause(200 * time.Millisecond) {
		return
	}
	for i, n := range names {
		if n == failing {
			bus.Publish(activity.Event{Kind: activity.BuildFailed, Service: n, Duration: 800 * time.Millisecond,
				Output: "# example.com/demo/services/" + n + "\nservices/" + n + "/handlers.go:42:9: undefined: itemz\n"})
		} else {
			bus.Publish(activity.Event{Kind: activity.Built, Service: n, Duration: 800 * time.Millisecond})
		}
		bus.Publish(activity.Event{Kind: activity.Starting, Service: n, Port: 8081 + i})
	}
	if !pause(200 * time.Millisecond) {
		return
	}
	for i, n := range names {
		bus.Publish(activity.Event{Kind: activity.Ready, Service: n})
		bus.Publish(activity.Event{Kind: activity.Stats, Service: n, CPU: 0.5 * float64(i+1), Memory: uint64(10+i) << 20})
	}
	bus.Publish(activity.Event{Kind: activity.Info, Detail: "gateway listening on http://localhost:8080"})
	every := time.Second
	if rate > 0 {
		every = time.Second / time.Duration(rate)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if panicAfter > 0 && time.Since(start) > panicAfter {
			panic("demo: a bug in the session")
		}
		n := names[i%len(names)]
		if n == crash && i == 2*len(names)+len(names)-1 {
			bus.Publish(activity.Event{Kind: activity.Crashed, Service: n, ExitCode: 2, Output: "panic: demo crash"})
			bus.Publish(activity.Event{Kind: activity.Restarted, Service: n, Detail: "crashed"})
			bus.Publish(activity.Event{Kind: activity.Starting, Service: n})
			bus.Publish(activity.Event{Kind: activity.Ready, Service: n})
			continue
		}
		if rate > 0 {
			bus.Publish(activity.Event{Kind: activity.Log, Service: n, Stream: activity.Stdout,
				Line: fmt.Sprintf("GET /api/%s/items/%d 200", n, i)})
		}
	}
}
