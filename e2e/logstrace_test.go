package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/internal/syncbuf"
)

// traceSpan is a span as msx trace --json prints it.
type traceSpan struct {
	SpanID   string `json:"span_id"`
	ParentID string `json:"parent_id"`
	Name     string `json:"name"`
	Service  string `json:"service"`
	Kind     string `json:"kind"`
}

// TestLogsAndTracesDocker: after up -d, a request through the gateway to
// orders, which calls payments, is one trace with spans of all three in
// the right shape, read by new msx processes (msx trace --json, msx trace
// ID); msx logs --trace finds both services' lines of it; msx logs -f
// follows orders across a restart, printing a line from before and one
// from after exactly once; down --volumes removes the stored spans.
func TestLogsAndTracesDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	if useStubWorkspace() {
		t.Skip("needs the generated services, which export spans")
	}
	cli := requireDocker(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1"}
	removeImages(t, cli, project)
	ws := newShop(t, parent, project, env)
	gateway := "http://127.0.0.1:" + strconv.Itoa(port)
	mustMsx(t, ws, env, "up", "-d")

	if code, body := httpDo(t, "GET", gateway+"/api/orders/upstream", ""); code != 200 {
		t.Fatalf("GET /api/orders/upstream: %d %s", code, body)
	}

	// The spans reach the collector within a second or two (the batch
	// delay msx sets); poll a fresh msx each time.
	id := waitTrace(t, ws, env, "payments", "a complete trace of the request", func(tr traceSummary) bool {
		return tr.Root == "GET /api/orders/" && tr.Spans >= 5 && strings.Join(tr.Services, ",") == "gateway,orders,payments"
	})

	t.Run("the trace has the right shape", func(t *testing.T) {
		var tr struct {
			TraceID string      `json:"trace_id"`
			Spans   []traceSpan `json:"spans"`
		}
		r := mustMsx(t, ws, env, "trace", id[:12], "--json")
		if err := json.Unmarshal([]byte(r.Stdout), &tr); err != nil || tr.TraceID != id {
			t.Fatalf("msx trace ID --json: %v\n%s", err, r.Stdout)
		}
		byID := map[string]traceSpan{}
		for _, s := range tr.Spans {
			byID[s.SpanID] = s
		}
		// serverOf finds the server span of a service and returns the
		// service of the server span above it (through client spans).
		above := func(svc string) string {
			for _, s := range tr.Spans {
				if s.Service != svc || s.Kind != "server" {
					continue
				}
				for p := byID[s.ParentID]; p.SpanID != ""; p = byID[p.ParentID] {
					if p.Kind == "server" {
						return p.Service
					}
				}
				return "(root)"
			}
			return "(no server span)"
		}
		if got := above("gateway"); got != "(root)" {
			t.Errorf("the gateway's span is under %s, want it the root", got)
		}
		if got := above("orders"); got != "gateway" {
			t.Errorf("orders' span is under %s, want the gateway", got)
		}
		if got := above("payments"); got != "orders" {
			t.Errorf("payments' span is under %s, want orders", got)
		}

		r = mustMsx(t, ws, env, "trace", id)
		for _, want := range []string{"trace " + id, "GET /api/orders/", "GET /upstream", "GET /items", "log lines of this trace:"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("msx trace ID lacks %q:\n%s", want, r.Stdout)
			}
		}
		for _, re := range []string{`(?m)^orders +\| .* path=/upstream .*trace=` + id[:8], `(?m)^payments +\| .* path=/items .*trace=` + id[:8]} {
			if !regexp.MustCompile(re).MatchString(r.Stdout) {
				t.Errorf("msx trace ID shows no log line matching %s:\n%s", re, r.Stdout)
			}
		}
	})

	t.Run("logs --trace", func(t *testing.T) {
		r := mustMsx(t, ws, env, "logs", "--trace", id, "--json")
		services := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			var rec struct {
				Service string `json:"service"`
				TraceID string `json:"trace_id"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not a JSON line: %q", line)
			}
			if rec.TraceID != id {
				t.Errorf("a line of another trace: %s", line)
			}
			services[rec.Service]++
		}
		for _, s := range []string{"gateway", "orders", "payments"} {
			if services[s] == 0 {
				t.Errorf("no line of %s for the trace: %s", s, r.Stdout)
			}
		}
	})

	t.Run("what a newcomer reads of the request", func(t *testing.T) {
		// The list names the request's own path, not only its route.
		if r := mustMsx(t, ws, env, "trace", "--service", "payments"); !strings.Contains(r.Stdout, "GET /api/orders/upstream") {
			t.Errorf("msx trace does not show the request's path:\n%s", r.Stdout)
		}
		// The request id goes on from orders to payments.
		r := mustMsx(t, ws, env, "logs", "orders", "payments", "--trace", id, "--json")
		ids := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			var rec struct {
				Service   string `json:"service"`
				Msg       string `json:"msg"`
				RequestID string `json:"request_id"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" {
				ids[rec.Service] = rec.RequestID
			}
		}
		if ids["orders"] == "" || ids["payments"] != ids["orders"] {
			t.Errorf("request ids of the access lines: %v, want the same one, not empty:\n%s", ids, r.Stdout)
		}
		// --grep searches the line as shown.
		r = mustMsx(t, ws, env, "logs", "payments", "--grep", "path=/items status=200")
		if !strings.Contains(r.Stdout, "path=/items status=200") {
			t.Errorf("msx logs --grep 'path=/items status=200' found nothing:\n%s", r.Stdout)
		}
		// The trace's log lines, from three services, come in time order.
		r = mustMsx(t, ws, env, "trace", id)
		var stamps []string
		for _, m := range regexp.MustCompile(`(?m)^\S+ +\| (\d\d:\d\d:\d\d\.\d{3}) `).FindAllStringSubmatch(r.Stdout, -1) {
			stamps = append(stamps, m[1])
		}
		if len(stamps) < 3 || !slices.IsSorted(stamps) {
			t.Errorf("the trace's log lines are not in time order (%v):\n%s", stamps, r.Stdout)
		}
	})

	t.Run("logs -f follows across a restart", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := exec.CommandContext(ctx, msxBin, "logs", "-f", "orders", "--tail", "0")
		c.Dir = ws
		c.Env = append(os.Environ(), env...)
		out := &syncbuf.Buffer{}
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Wait()
		defer cancel()
		waitOut := func(s string) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(out.String(), s) {
				if time.Now().After(deadline) {
					t.Fatalf("msx logs -f printed no %q in 30s:\n%s", s, out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		// The follower is attached once a first request shows.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), "/items/sentinel-warmup") {
			httpDo(t, "GET", gateway+"/api/orders/items/sentinel-warmup", "")
			if time.Now().After(deadline) {
				t.Fatalf("msx logs -f showed nothing in 30s:\n%s", out.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		httpDo(t, "GET", gateway+"/api/orders/items/sentinel-before", "")
		waitOut("/items/sentinel-before")
		stop := 5
		if err := cli.ContainerRestart(context.Background(), project+"-orders", container.StopOptions{Timeout: &stop}); err != nil {
			t.Fatal(err)
		}
		deadline = time.Now().Add(30 * time.Second)
		for {
			if code, _ := httpDo(t, "GET", gateway+"/api/orders/healthz", ""); code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("orders did not come back after its restart")
			}
			time.Sleep(200 * time.Millisecond)
		}
		httpDo(t, "GET", gateway+"/api/orders/items/sentinel-after", "")
		waitOut("/items/sentinel-after")
		text := out.String()
		for _, s := range []string{"/items/sentinel-before ", "/items/sentinel-after "} {
			if n := strings.Count(text, s); n != 1 {
				t.Errorf("%q printed %d times, want once:\n%s", s, n, text)
			}
		}
		if !strings.Contains(text, "orders ") || !strings.Contains(text, " | ") {
			t.Errorf("lines are not prefixed by service:\n%s", text)
		}
	})

	t.Run("down --volumes removes the spans", func(t *testing.T) {
		mustMsx(t, ws, env, "down", "--volumes")
		requireNothingLeft(t, cli, project, true)
		r := msx(t, ws, env, "trace")
		if r.Code == 0 || !strings.Contains(r.Stderr, "trace collector of project "+project+" is not running") {
			t.Errorf("msx trace after down: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}

// traceSummary is one trace of msx trace --json's list.
type traceSummary struct {
	TraceID  string   `json:"trace_id"`
	Root     string   `json:"root"`
	Spans    int      `json:"spans"`
	Services []string `json:"services"`
}

// waitTrace polls msx trace --json --service service, a fresh msx each
// time, until a trace matches, and returns its ID; after 30 s it fails the
// test, saying that no trace was what.
func waitTrace(t *testing.T, ws string, env []string, service, what string, match func(traceSummary) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list []traceSummary
		r := mustMsx(t, ws, env, "trace", "--json", "--service", service)
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
			t.Fatalf("msx trace --json: %v\n%s", err, r.Stdout)
		}
		for _, tr := range list {
			if match(tr) {
				return tr.TraceID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30s: %s", what, r.Stdout)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
