package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
)

// natsImage is the NATS image the tests run: the one
// scripts/local-images-nats.sh builds (scripts/test.sh exports its setting).
func natsImage(t *testing.T) string {
	t.Helper()
	img := os.Getenv("MSX_IMAGES_NATS")
	if img == "" {
		msg := `MSX_IMAGES_NATS is not set: run eval "$(bash scripts/local-images-nats.sh)" first (scripts/test.sh does)`
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return img
}

// TestBrokerDocker: a workspace with a subscriber gets one NATS server with
// JetStream, ready before the services, its client port unpublished and
// its monitoring endpoint on 127.0.0.1 only; its storage outlives down and
// goes with down --volumes.
func TestBrokerDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	img := natsImage(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1", "MSX_IMAGES_NATS=" + img}
	removeImages(t, cli, project)
	mustMsx(t, parent, nil, "init", project, "--module", "example.com/"+strings.ReplaceAll(project, "-", ""))
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
	if b, _ := os.ReadFile(filepath.Join(ws, "msx.yaml")); !strings.Contains(string(b), "subscribes:\n      - orders.item.created") {
		t.Fatalf("msx.yaml lacks the subscription:\n%s", b)
	}
	mustMsx(t, ws, env, "up", "-d")

	var monitor int
	t.Run("ps shows the broker, ready, monitoring on 127.0.0.1 only", func(t *testing.T) {
		r := mustMsx(t, ws, env, "ps", "--json")
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
			if len(s.Ports) != 1 || s.Ports[0].HostIP != "127.0.0.1" || s.Ports[0].ContainerPort != 8222 {
				t.Fatalf("broker publishes %+v, want only the monitoring port on 127.0.0.1", s.Ports)
			}
			monitor = s.Ports[0].HostPort
		}
		if len(got) == 0 || got[0] != "nats" {
			t.Fatalf("ps lists %v, want the broker first", got)
		}
	})

	t.Run("JetStream is on, storing on the volume", func(t *testing.T) {
		if monitor == 0 {
			t.Skip("no monitoring port")
		}
		code, body := httpDo(t, "GET", "http://127.0.0.1:"+strconv.Itoa(monitor)+"/varz", "")
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
