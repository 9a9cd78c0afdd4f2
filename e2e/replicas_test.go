package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReplicasDocker runs a Postgres service with two replicas behind the
// gateway: each replica its own container, shown by msx ps; requests one
// at a time reach both; with one replica killed the gateway still answers
// every read; down leaves nothing.
func TestReplicasDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	pgImage := postgresImage(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1", "MSX_IMAGES_POSTGRES=" + pgImage}
	removeImages(t, cli, project)
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "postgres")
	setReplicas(t, ws, "orders", 2)
	cleanupDown(t, ws, env)
	gateway := "http://127.0.0.1:" + strconv.Itoa(port)

	mustMsx(t, ws, env, "up", "-d")

	t.Run("ps lists each replica", func(t *testing.T) {
		r := mustMsx(t, ws, env, "ps", "--json")
		var rows []struct {
			Service string `json:"service"`
			State   string `json:"state"`
			Ready   bool   `json:"ready"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil {
			t.Fatalf("ps --json: %v\n%s", err, r.Stdout)
		}
		seen := map[string]bool{}
		for _, row := range rows {
			if row.State == "running" && row.Ready {
				seen[row.Service] = true
			}
		}
		if !seen["orders"] || !seen["orders-2"] {
			t.Fatalf("ps shows %+v, want orders and orders-2 running and ready", rows)
		}
	})

	t.Run("requests one at a time reach both replicas", func(t *testing.T) {
		id := postItem(t, gateway, "orders", "shared")
		for range 10 {
			// Both replicas read the one database.
			if code, body := httpDo(t, "GET", gateway+"/api/orders/items/"+id, ""); code != 200 || !strings.Contains(body, "shared") {
				t.Fatalf("GET item: %d %s", code, body)
			}
		}
		// The programs write their log lines in batches: poll until both
		// replicas' lines are there, or the deadline.
		var missing []string
		var out string
		for deadline := time.Now().Add(15 * time.Second); ; {
			out = mustMsx(t, ws, env, "logs", "orders").Stdout
			missing = nil
			for _, inst := range []string{"orders", "orders-2"} {
				re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(inst) + ` +\| .*path=/items/` + id)
				if !re.MatchString(out) {
					missing = append(missing, inst)
				}
			}
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(missing) > 0 {
			t.Errorf("no request reached %v:\n%s", missing, out)
		}
	})

	t.Run("a killed replica costs reads nothing", func(t *testing.T) {
		name := project + "-orders-2"
		if err := cli.ContainerKill(context.Background(), name, "KILL"); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			if code, body := httpDo(t, "GET", gateway+"/api/orders/items", ""); code != 200 {
				t.Fatalf("GET %d with a replica down: %d %s", i, code, body)
			}
		}
	})

	mustMsx(t, ws, env, "down", "--volumes")
	requireNothingLeft(t, cli, project, true)
}

// setReplicas sets services.NAME.replicas in the workspace's msx.yaml.
func setReplicas(t *testing.T, ws, service string, n int) {
	t.Helper()
	path := filepath.Join(ws, "msx.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data := string(b)
	re := regexp.MustCompile(`(?m)^(  ` + regexp.QuoteMeta(service) + `:\n)`)
	if !re.MatchString(data) {
		t.Fatalf("no service %s in msx.yaml:\n%s", service, data)
	}
	if err := os.WriteFile(path, []byte(re.ReplaceAllString(data, "${1}    replicas: "+strconv.Itoa(n)+"\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
