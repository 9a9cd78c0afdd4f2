package e2e

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/dashboard/tmuxtest"
)

// TestDashboardDocker drives msx up on a terminal (tmux): the dashboard
// shows the services, their states, CPU and memory and their log lines; r
// restarts a program inside its container; a request through the gateway
// shows on the traces tab, with its waterfall; q stops everything
// gracefully, exits 0 and gives the terminal back.
func TestDashboardDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	tmuxtest.Available(t)
	cli := requireDocker(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port)}
	removeImages(t, cli, project)
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "none")
	t.Cleanup(func() { requireNothingLeft(t, cli, project, true) })
	cleanupDown(t, ws, env)

	s := tmuxtest.Start(t, 160, 40, "cd '"+ws+"' && '"+msxBin+"' up; echo EXIT=$?; sleep 600", env...)
	// Ready: orders, the gateway and the trace collector.
	screen := s.WaitUntil(5*time.Minute, "the dashboard with every program ready and a log line", func(screen string) bool {
		return strings.Contains(screen, "3 ready") && strings.Contains(screen, "orders") &&
			strings.Contains(screen, "gateway") && strings.Contains(screen, "collector") && strings.Contains(screen, "listening")
	})
	if !s.AltScreen() {
		t.Errorf("the dashboard is not on the alternate screen:\n%s", screen)
	}
	// The session samples each container (every 2s): CPU and memory from
	// the engine's stats fill the table, and the gateway's row its port.
	orders := regexp.MustCompile(`orders\s+ready\s.*\s\d+\.\d%\s+\d+\.\dMiB`)
	gatewayRow := regexp.MustCompile(`gateway\s+ready\s.*MiB\s+` + strconv.Itoa(port) + `\b`)
	s.WaitUntil(time.Minute, "CPU and memory of orders, the gateway's port in the table", func(screen string) bool {
		return orders.MatchString(screen) && gatewayRow.MatchString(screen)
	})
	// r on the first row (orders) restarts its program through msx-init:
	// the container itself is not restarted.
	started := func() string {
		insp, err := cli.ContainerInspect(context.Background(), project+"-orders")
		if err != nil {
			t.Fatal(err)
		}
		return insp.State.StartedAt
	}
	before := started()
	s.Send("r")
	s.WaitFor(time.Minute, "restarted on request")
	if after := started(); after != before {
		t.Errorf("r restarted the container (started %s, then %s), not the program inside it", before, after)
	}

	// A request through the gateway shows on the traces tab, and enter
	// draws its waterfall across the gateway and orders.
	gateway := "http://127.0.0.1:" + strconv.Itoa(port)
	if code, body := httpDo(t, "GET", gateway+"/api/orders/items", ""); code != 200 {
		t.Fatalf("GET /api/orders/items: %d %s", code, body)
	}
	s.Send("2")
	s.WaitUntil(time.Minute, "the traces tab listing the request", func(screen string) bool {
		return strings.Contains(screen, "[2 traces]") && strings.Contains(screen, "GET /api/orders/") &&
			strings.Contains(screen, "gateway,orders")
	})
	s.Send("Enter")
	screen = s.WaitUntil(time.Minute, "the request's waterfall", func(screen string) bool {
		return strings.Contains(screen, "spans  gateway,orders") && strings.Contains(screen, "GET /items")
	})
	if !strings.Contains(screen, "started ") {
		t.Errorf("no waterfall head:\n%s", screen)
	}
	s.Send("Escape")
	s.WaitFor(10*time.Second, "most recent traces")
	s.Send("q")
	screen = s.WaitFor(2*time.Minute, "EXIT=0")
	if s.AltScreen() {
		t.Errorf("the terminal is still on the alternate screen after q:\n%s", screen)
	}
	cs, _, _ := labelled(t, cli, project)
	for _, c := range cs {
		if strings.HasSuffix(c, " running") {
			t.Errorf("left running after q: %s\n%s", c, screen)
		}
	}
}
