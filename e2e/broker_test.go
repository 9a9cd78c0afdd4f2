package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// natsImage is the NATS image the tests run.
func natsImage(t *testing.T) string { return localImage(t, "MSX_IMAGES_NATS") }

// TestBrokerDocker: a workspace with a subscriber gets one NATS server with
// JetStream, ready before the services, its client port unpublished and
// its monitoring endpoint on 127.0.0.1 only; its storage outlives down and
// goes with down --volumes.
func TestBrokerDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	img := natsImage(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1", "MSX_IMAGES_NATS=" + img, "MSX_IMAGES_POSTGRES=" + postgresImage(t)}
	removeImages(t, cli, project)
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "payments", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "catalog", "--db", "none")
	cleanupDown(t, ws, env)

	t.Run("a bad subject is refused, nothing written", func(t *testing.T) {
		before, _ := os.ReadFile(filepath.Join(ws, "msx.yaml"))
		r := msx(t, ws, env, "new", "service", "billing", "--subscribes", "catalog.item.created")
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		if r.Code == 0 || len(lines) != 1 || !strings.Contains(lines[0], "catalog has no database") {
			t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
		}
		after, _ := os.ReadFile(filepath.Join(ws, "msx.yaml"))
		if string(before) != string(after) {
			t.Fatalf("msx.yaml changed:\n%s", after)
		}
		if _, err := os.Stat(filepath.Join(ws, "services", "billing")); err == nil {
			t.Fatal("services/billing was written")
		}
	})

	mustMsx(t, ws, nil, "new", "service", "payments", "--force", "--subscribes", "orders.item.created")
	// The issue's own example: a Postgres subscriber.
	mustMsx(t, ws, nil, "new", "service", "ledger", "--db", "postgres", "--subscribes", "orders.item.created")
	if b, _ := os.ReadFile(filepath.Join(ws, "msx.yaml")); !strings.Contains(string(b), "subscribes:\n      - orders.item.created") {
		t.Fatalf("msx.yaml lacks the subscription:\n%s", b)
	}
	// A handler that always fails for one item, to see it dead-lettered.
	evPath := filepath.Join(ws, "services", "payments", "events.go")
	src, err := os.ReadFile(evPath)
	if err != nil {
		t.Fatal(err)
	}
	stub := "ev messaging.Event, data ordersapi.ItemCreated) error {\n\treturn nil"
	if !strings.Contains(string(src), stub) {
		t.Fatalf("no handler stub in events.go:\n%s", src)
	}
	poisoned := strings.Replace(string(src), stub,
		"ev messaging.Event, data ordersapi.ItemCreated) error {\n\tif data.Name == \"poison\" {\n\t\treturn fmt.Errorf(\"e2e: poison\")\n\t}\n\treturn nil", 1)
	poisoned = strings.Replace(poisoned, "import (\n", "import (\n\t\"fmt\"\n", 1)
	if err := os.WriteFile(evPath, []byte(poisoned), 0o644); err != nil {
		t.Fatal(err)
	}
	mustMsx(t, ws, env, "up", "-d")
	// The monitoring port answers under the path msx keeps for itself.
	mpath, err := os.ReadFile(filepath.Join(ws, ".msx", "secrets", "nats-monitor-path"))
	if err != nil {
		t.Fatal(err)
	}
	base := "/" + strings.TrimSpace(string(mpath))

	var monitor int
	t.Run("ps shows the broker, ready, its monitoring port on 127.0.0.1 only", func(t *testing.T) {
		r := mustMsx(t, ws, env, "ps", "--json")
		if strings.Contains(r.Stdout, base) {
			t.Errorf("ps shows the secret monitoring path:\n%s", r.Stdout)
		}
		var list []struct {
			Service string `json:"service"`
			Role    string `json:"role"`
			State   string `json:"state"`
			Ready   bool   `json:"ready"`
			Ports   []struct {
				HostIP        string `json:"host_ip"`
				HostPort      int    `json:"host_port"`
				ContainerPort int    `json:"container_port"`
			} `json:"ports"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
			t.Fatalf("ps --json: %v\n%s", err, r.Stdout)
		}
		var got []string
		for _, s := range list {
			got = append(got, s.Service)
			if s.Service != "nats" {
				continue
			}
			if s.Role != "infra" || s.State != "running" || !s.Ready {
				t.Errorf("broker: %+v", s)
			}
			// The monitoring endpoint only, on 127.0.0.1: the client port
			// is not published (msx events reads on the project network).
			var cports []int
			for _, p := range s.Ports {
				cports = append(cports, p.ContainerPort)
				if p.HostIP != "127.0.0.1" {
					t.Errorf("broker port %+v is not on 127.0.0.1", p)
				}
				if p.ContainerPort == 8222 {
					monitor = p.HostPort
				}
			}
			if !slices.Equal(cports, []int{8222}) {
				t.Fatalf("broker publishes %+v, want only 8222, on 127.0.0.1", s.Ports)
			}
		}
		// Infrastructure (the broker, the trace collector) before the services.
		if b := slices.Index(got, "nats"); b < 0 || b > slices.Index(got, "orders") || b > slices.Index(got, "payments") {
			t.Fatalf("ps lists %v, want the broker before the services", got)
		}
	})

	t.Run("JetStream is on, storing on the volume", func(t *testing.T) {
		if monitor == 0 {
			t.Skip("no monitoring port")
		}
		// Nothing outside the secret path: a web page that rebinds its
		// name to 127.0.0.1 cannot read it.
		for _, p := range []string{"/", "/varz", "/connz", "/jsz", "/healthz"} {
			if code, body := httpDo(t, "GET", "http://127.0.0.1:"+strconv.Itoa(monitor)+p, ""); code != http.StatusNotFound {
				t.Errorf("%s outside the monitoring path: %d %.200s", p, code, body)
			}
		}
		code, body := httpDo(t, "GET", "http://127.0.0.1:"+strconv.Itoa(monitor)+base+"/varz", "")
		var varz struct {
			JetStream struct {
				Config struct {
					StoreDir string `json:"store_dir"`
				} `json:"config"`
			} `json:"jetstream"`
		}
		if err := json.Unmarshal([]byte(body), &varz); code != 200 || err != nil || !strings.HasPrefix(varz.JetStream.Config.StoreDir, "/data") {
			t.Fatalf("/varz: %d %s", code, body)
		}
	})

	gateway := "http://127.0.0.1:" + strconv.Itoa(port)
	posted := map[int64]bool{}
	post := func(t *testing.T, name string) (int64, bool) {
		req, _ := http.NewRequest("POST", gateway+"/api/orders/items", strings.NewReader(`{"name":"`+name+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var it struct {
			ID int64 `json:"id"`
		}
		if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&it) != nil {
			return 0, false
		}
		return it.ID, true
	}
	type handled struct {
		EventID string `json:"event_id"`
		Type    string `json:"type"`
		Source  string `json:"source"`
	}
	// A subscriber's inbox is on its admin listener, behind the admin
	// token, a page at a time; nil while it does not answer (a restart).
	inboxOf := func(t *testing.T, service string) []handled {
		t.Helper()
		var all []handled
		admin := psJSON(t, ws, env)[service].AdminURL
		for after := ""; ; {
			code, body := adminGet(t, ws, admin+"/inbox?limit=50&after="+after)
			var page []handled
			if code != 200 || json.Unmarshal([]byte(body), &page) != nil {
				return nil
			}
			if len(page) == 0 {
				return all
			}
			all, after = append(all, page...), page[len(page)-1].EventID
		}
	}
	// waitInboxOf polls a subscriber's inbox until it holds an event for
	// every posted item, then checks each event is there once and no
	// other is (the inbox is the event's, not the item's: no item id).
	waitInboxOf := func(t *testing.T, service string, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		var list []handled
		for {
			list = inboxOf(t, service)
			if len(list) >= len(posted) || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		ids := map[string]bool{}
		for _, h := range list {
			if h.Type != "item.created" || h.Source != "orders" || ids[h.EventID] {
				t.Errorf("inbox entry %+v (duplicate id: %v)", h, ids[h.EventID])
			}
			ids[h.EventID] = true
		}
		if len(list) != len(posted) {
			t.Errorf("%s's inbox holds %d events, %d items were posted", service, len(list), len(posted))
		}
	}
	waitInbox := func(t *testing.T, timeout time.Duration) {
		t.Helper()
		waitInboxOf(t, "payments", timeout)
	}

	t.Run("an item posted to orders arrives in payments' inbox", func(t *testing.T) {
		id, ok := post(t, "first")
		if !ok {
			t.Fatal("POST /api/orders/items failed")
		}
		posted[id] = true
		waitInbox(t, 20*time.Second)
		waitInboxOf(t, "ledger", 20*time.Second)
		// Not on the public mux, and not without the token.
		if code, body := httpDo(t, "GET", gateway+"/api/ledger/inbox", ""); code != 404 {
			t.Errorf("GET /api/ledger/inbox through the gateway: %d %s, want 404", code, body)
		}
		if code, _ := httpDo(t, "GET", psJSON(t, ws, env)["ledger"].AdminURL+"/inbox", ""); code != 401 {
			t.Errorf("GET /inbox on ledger's admin listener without the token: %d, want 401", code)
		}
	})

	t.Run("the broker admits only its users, each to its own subjects, and runs as no root", func(t *testing.T) {
		probe := buildNATSProbe(t)
		seeds := filepath.Join(ws, ".msx", "secrets")
		network := project + "_default"
		run := func(seed, inbox string, args ...string) string {
			return natsProbe(t, cli, img, network, probe, seeds, seed, inbox, args...)
		}
		forged := `{"id":"forged-1","type":"item.created","source":"orders","data":{"item_id":424242,"name":"forged"}}`
		for _, tc := range []struct {
			what, seed, inbox string
			args              []string
			want              string
		}{
			// The attack: any container on the network publishes
			// an event that a subscriber applies.
			{"no seed: cannot connect", "", "", []string{"connect"}, "Authorization Violation"},
			{"no seed: cannot publish", "", "", []string{"publish", "events.orders.item.created", forged}, "Authorization Violation"},
			{"payments forges orders' event", "nats-payments.nk", "_INBOX_payments", []string{"publish", "events.orders.item.created", forged}, "Permissions Violation"},
			{"payments publishes its own", "nats-payments.nk", "_INBOX_payments", []string{"publish", "events.payments.item.created", `{"id":"own-1","data":{}}`}, "ok"},
			{"payments reads a topic it does not subscribe to", "nats-payments.nk", "_INBOX_payments",
				[]string{"consume", "payments_orders_item_deleted", "events.orders.item.deleted"}, "Permissions Violation"},
			{"payments reads everything", "nats-payments.nk", "_INBOX_payments", []string{"consume", "payments_all", "events.>"}, "Permissions Violation"},
			{"payments reads another's replies", "nats-payments.nk", "_INBOX_orders", []string{"publish", "events.payments.item.created", `{"id":"own-2"}`}, "Permissions Violation"},
			{"msx events' user publishes", "nats-msx-events.nk", "_INBOX_msx-events", []string{"publish", "events.orders.item.created", forged}, "Permissions Violation"},
		} {
			if got := run(tc.seed, tc.inbox, tc.args...); !strings.Contains(got, tc.want) {
				t.Errorf("%s: probe said %q, want %q", tc.what, got, tc.want)
			}
		}
		insp, err := cli.ContainerInspect(context.Background(), project+"-nats")
		if err != nil {
			t.Fatal(err)
		}
		if u := insp.Config.User; u == "" || u == "0" || u == "root" {
			t.Errorf("the broker runs as %q", u)
		}
		// The forged event reached no one: payments' inbox holds what
		// orders published, and nothing else.
		waitInbox(t, 5*time.Second)
	})

	// consumer polls msx ps until payments' consumer satisfies ok.
	consumer := func(t *testing.T, what string, timeout time.Duration, ok func(pending, redelivered int) bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			r := mustMsx(t, ws, env, "ps", "--json")
			var list []struct {
				Service  string `json:"service"`
				Consumer *struct {
					Pending     int `json:"pending"`
					Redelivered int `json:"redelivered"`
				} `json:"consumer"`
			}
			if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
				t.Fatalf("ps --json: %v\n%s", err, r.Stdout)
			}
			for _, s := range list {
				if s.Service == "payments" && s.Consumer != nil && ok(s.Consumer.Pending, s.Consumer.Redelivered) {
					return
				}
				if s.Service == "orders" && s.Consumer != nil {
					t.Fatalf("orders subscribes to nothing, yet ps shows a consumer: %+v", s.Consumer)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("ps never showed payments' consumer with %s:\n%s", what, r.Stdout)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	ctx := context.Background()
	t.Run("events wait for a stopped subscriber and arrive once, ps shows them pending", func(t *testing.T) {
		if err := cli.ContainerStop(ctx, project+"-payments", container.StopOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			id, ok := post(t, "while-stopped-"+strconv.Itoa(i))
			if !ok {
				t.Fatalf("POST %d failed", i)
			}
			posted[id] = true
		}
		// The broker holds them for payments' consumer: ps shows them pending.
		consumer(t, "100 pending", 30*time.Second, func(pending, _ int) bool { return pending == 100 })
		if r := mustMsx(t, ws, nil, "ps"); !strings.Contains(r.Stdout, "pending 100, redelivered 0") {
			t.Errorf("ps does not show the pending events:\n%s", r.Stdout)
		}
		if err := cli.ContainerStart(ctx, project+"-payments", container.StartOptions{}); err != nil {
			t.Fatal(err)
		}
		waitInbox(t, 60*time.Second)
	})

	t.Run("SIGKILL the broker mid-stream: every committed event arrives once", func(t *testing.T) {
		done := make(chan struct{})
		var mu sync.Mutex
		go func() {
			defer close(done)
			for i := range 120 {
				// A POST commits the item and its event together, broker or
				// not: every item that got a 201 must arrive.
				if id, ok := post(t, "chaos-"+strconv.Itoa(i)); ok {
					mu.Lock()
					posted[id] = true
					mu.Unlock()
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		time.Sleep(300 * time.Millisecond)
		if err := cli.ContainerKill(ctx, project+"-nats", "SIGKILL"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if err := cli.ContainerStart(ctx, project+"-nats", container.StartOptions{}); err != nil {
			t.Fatal(err)
		}
		<-done
		mu.Lock()
		defer mu.Unlock()
		waitInbox(t, 90*time.Second)
		waitInboxOf(t, "ledger", 30*time.Second)
	})

	t.Run("msx events prints each event once", func(t *testing.T) {
		r := mustMsx(t, ws, env, "events", "orders.item.created", "--json")
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		ids := map[string]bool{}
		for _, l := range lines {
			var e struct {
				ID, Subject, Source string
			}
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Subject != "orders.item.created" || e.Source != "orders" || ids[e.ID] {
				t.Fatalf("line %q (%v)", l, err)
			}
			ids[e.ID] = true
		}
		if len(ids) != len(posted) {
			t.Errorf("msx events printed %d events, %d items were posted", len(ids), len(posted))
		}
		if r := mustMsx(t, ws, env, "events", "orders.item.deleted"); strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("no item was deleted, yet: %s", r.Stdout)
		}
		if r := msx(t, ws, env, "events", "orders..x"); r.Code != 2 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("a bad subject: exit %d, stderr %q", r.Code, r.Stderr)
		}
		// The reader ran on the project network and is gone.
		if tools := toolContainers(t, cli, project); len(tools) != 0 {
			t.Errorf("msx events left %v", tools)
		}
	})

	t.Run("msx events -f prints a new event, Ctrl-C ends it and removes its reader", func(t *testing.T) {
		c := exec.Command(msxBin, "events", "orders.item.created", "-f", "--json")
		c.Dir, c.Env = ws, append(os.Environ(), env...)
		stdout, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		id, ok := post(t, "followed")
		if !ok {
			t.Fatal("POST followed failed")
		}
		posted[id] = true
		want := `"item_id":` + strconv.FormatInt(id, 10) + `,"name":"followed"`
		deadline := time.After(90 * time.Second) // the first run may compile the reader
	wait:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("msx events -f ended: %s", stderr.String())
				}
				if strings.Contains(l, want) {
					break wait
				}
			case <-deadline:
				_ = c.Process.Kill()
				t.Fatalf("no line with %s; stderr: %s", want, stderr.String())
			}
		}
		if tools := toolContainers(t, cli, project); len(tools) != 1 {
			t.Errorf("while following, reader containers = %v, want one", tools)
		}
		_ = c.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("msx events -f after Ctrl-C: %v; stderr: %s", err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			_ = c.Process.Kill()
			t.Fatal("msx events -f did not end on Ctrl-C")
		}
		if tools := toolContainers(t, cli, project); len(tools) != 0 {
			t.Errorf("after Ctrl-C, msx events left %v", tools)
		}
		waitInbox(t, 20*time.Second)
	})

	t.Run("an event whose handler keeps failing is redelivered, dead-lettered, the rest flow", func(t *testing.T) {
		if _, ok := post(t, "poison"); !ok {
			t.Fatal("POST poison failed")
		}
		// Between its attempts, ps shows it redelivered.
		consumer(t, "a redelivered event", 10*time.Second, func(_, redelivered int) bool { return redelivered >= 1 })
		id, ok := post(t, "after-poison")
		if !ok {
			t.Fatal("POST after-poison failed")
		}
		posted[id] = true
		waitInbox(t, 20*time.Second)
		// The broker was restarted: its monitoring port is a new one.
		insp, err := cli.ContainerInspect(ctx, project+"-nats")
		if err != nil {
			t.Fatal(err)
		}
		var mon string
		for _, b := range insp.NetworkSettings.Ports["8222/tcp"] {
			if b.HostIP == "127.0.0.1" {
				mon = b.HostPort
			}
		}
		deadline := time.Now().Add(40 * time.Second)
		for {
			_, body := httpDo(t, "GET", "http://127.0.0.1:"+mon+base+"/jsz?streams=true", "")
			var jsz struct {
				Accounts []struct {
					Streams []struct {
						Name  string `json:"name"`
						State struct {
							Messages int `json:"messages"`
						} `json:"state"`
					} `json:"stream_detail"`
				} `json:"account_details"`
			}
			_ = json.Unmarshal([]byte(body), &jsz)
			dead := -1
			for _, a := range jsz.Accounts {
				for _, st := range a.Streams {
					if st.Name == "DEADLETTER" {
						dead = st.State.Messages
					}
				}
			}
			if dead == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("DEADLETTER holds %d messages, want 1:\n%s", dead, body)
			}
			time.Sleep(500 * time.Millisecond)
		}
		// Dead-lettered means not applied: the inbox holds what it held.
		waitInbox(t, time.Second)
	})

	brokerVolume := func() []string {
		f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project), filters.Arg("label", "dev.msx.service=nats"))
		l, err := cli.VolumeList(context.Background(), volume.ListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range l.Volumes {
			out = append(out, v.Name)
		}
		return out
	}
	mustMsx(t, ws, env, "down")
	if v := brokerVolume(); len(v) != 1 {
		t.Fatalf("after down, broker volumes = %v, want its storage kept", v)
	}
	mustMsx(t, ws, env, "down", "--volumes")
	if v := brokerVolume(); len(v) != 0 {
		t.Fatalf("after down --volumes, broker volumes = %v", v)
	}
	requireNothingLeft(t, cli, project, true)
}

// toolContainers lists the containers msx events runs for project.
func toolContainers(t *testing.T, cli *client.Client, project string) []string {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project), filters.Arg("label", "dev.msx.role=tool"))
	cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Names[0]+" "+string(c.State))
	}
	return out
}
