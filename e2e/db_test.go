package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
)

// postgresImage is the Postgres image the tests run.
func postgresImage(t *testing.T) string { return localImage(t, "MSX_IMAGES_POSTGRES") }

// localImage is the image of an infrastructure kind the tests run: the
// one scripts/local-images.sh builds, named by the setting (env) it
// prints and scripts/test.sh exports. Without it the test fails under CI
// and is skipped elsewhere.
func localImage(t *testing.T, env string) string {
	t.Helper()
	img := os.Getenv(env)
	if img == "" {
		msg := env + ` is not set: run eval "$(bash scripts/local-images.sh)" first (scripts/test.sh does)`
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return img
}

// outputs collects everything msx printed during a test, to search it for
// secrets at the end.
type outputs struct {
	mu  sync.Mutex
	all []string
}

func (o *outputs) run(t *testing.T, ws string, env []string, args ...string) result {
	t.Helper()
	r := msx(t, ws, env, args...)
	o.mu.Lock()
	o.all = append(o.all, r.Stdout, r.Stderr)
	o.mu.Unlock()
	return r
}

func (o *outputs) must(t *testing.T, ws string, env []string, args ...string) result {
	t.Helper()
	r := o.run(t, ws, env, args...)
	if r.Code != 0 {
		t.Fatalf("msx %v exited %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// postItem creates an item through the gateway and returns its id.
func postItem(t *testing.T, gateway, service, name string) string {
	t.Helper()
	code, body := httpDo(t, "POST", gateway+"/api/"+service+"/items", `{"name":"`+name+`"}`)
	var item struct {
		ID json.Number `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &item); code != 201 || err != nil {
		t.Fatalf("POST %s/items: %d %s", service, code, body)
	}
	return item.ID.String()
}

// execIn runs cmd in a container with extra environment (not the
// container's own: an exec's environment is not part of docker inspect)
// and returns its exit code and output.
func execIn(t *testing.T, cli *client.Client, id string, env []string, cmd ...string) (int, string) {
	t.Helper()
	ctx := context.Background()
	ex, err := cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, resp.Reader); err != nil {
		t.Fatal(err)
	}
	st, err := cli.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		t.Fatal(err)
	}
	return st.ExitCode, out.String()
}

// TestDatabasesDocker runs a workspace of two Postgres services and one
// SQLite service through its life: data that survives down and up,
// credentials that work only on their own database, secrets in no output
// and no inspect, a broken migration, replicas racing their migrations, an
// image that cannot be had, and down --volumes.
func TestDatabasesDocker(t *testing.T) {
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
	var out outputs

	out.must(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	out.must(t, ws, nil, "new", "service", "orders", "--db", "postgres")
	out.must(t, ws, nil, "new", "service", "payments", "--db", "postgres")
	out.must(t, ws, nil, "new", "service", "catalog", "--db", "sqlite")
	cleanupDown(t, ws, env)
	gateway := "http://127.0.0.1:" + strconv.Itoa(port)

	t.Run("an image that cannot be had stops up before any compile", func(t *testing.T) {
		bad := append(append([]string{}, env...), "MSX_IMAGES_POSTGRES=msx-e2e-nowhere.invalid/postgres:0")
		r := out.run(t, ws, bad, "up", "-d")
		if r.Code == 0 {
			t.Fatalf("up succeeded with an image that does not exist:\n%s", r.Stderr)
		}
		var errLines []string
		for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
			if strings.Contains(l, "compiling") || strings.Contains(l, "built") || strings.Contains(l, "created") {
				t.Errorf("work before the image check: %q", l)
			}
			if strings.HasPrefix(l, "msx: ") || strings.HasPrefix(l, "Error") {
				errLines = append(errLines, l)
			}
		}
		if len(errLines) != 1 || !strings.Contains(errLines[0], "msx-e2e-nowhere.invalid/postgres:0") ||
			!strings.Contains(errLines[0], "scripts/local-images.sh") || !strings.Contains(errLines[0], "docker pull") {
			t.Errorf("want one line naming the image and both fixes, got:\n%s", r.Stderr)
		}
		if cs, _, _ := labelled(t, cli, project); len(cs) > 0 {
			t.Errorf("containers created: %v", cs)
		}
	})

	t.Run("up -d", func(t *testing.T) {
		out.must(t, ws, env, "up", "-d")
	})

	ids := map[string]string{}
	t.Run("a row in each database", func(t *testing.T) {
		for _, s := range []string{"orders", "payments", "catalog"} {
			ids[s] = postItem(t, gateway, s, "kept-by-"+s)
		}
	})

	passwords := map[string]string{}
	t.Run(".msx is 0700 and its secrets 0600", func(t *testing.T) {
		st, err := os.Stat(filepath.Join(ws, ".msx"))
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf(".msx: %v %v, want mode 0700", st.Mode().Perm(), err)
		}
		err = filepath.WalkDir(filepath.Join(ws, ".msx", "secrets"), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			st, err := os.Lstat(p)
			if err != nil {
				return err
			}
			want := os.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if st.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
			}
			if !d.IsDir() && strings.HasSuffix(p, "-db-password") {
				b, _ := os.ReadFile(p)
				passwords[strings.TrimSuffix(d.Name(), "-db-db-password")] = strings.TrimSpace(string(b))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(passwords) != 2 || passwords["orders"] == "" || passwords["orders"] == passwords["payments"] {
			t.Fatalf("passwords of orders and payments not found, or equal, in .msx: %d", len(passwords))
		}
		gi, err := os.ReadFile(filepath.Join(ws, ".gitignore"))
		if err != nil || !strings.Contains(string(gi), ".msx/") {
			t.Errorf(".gitignore does not ignore .msx/: %v", err)
		}
	})

	t.Run("each service's credentials work on its own database only", func(t *testing.T) {
		for _, db := range []string{"orders", "payments"} {
			id := containerIDs(t, cli, project)["/"+project+"-"+db+"-db"]
			for _, who := range []string{"orders", "payments"} {
				code, text := execIn(t, cli, id, []string{"PGPASSWORD=" + passwords[who]},
					"psql", "-h", "127.0.0.1", "-U", db, "-d", db, "-tAc", "SELECT count(*) FROM items")
				if ok := code == 0; ok != (who == db) {
					t.Errorf("%s's password on %s's database: exit %d %s", who, db, code, text)
				}
			}
		}
		// The private network of a database holds it and its service only.
		nets, err := cli.NetworkList(context.Background(), network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nets {
			if n.Name != project+"_orders-db" {
				continue
			}
			insp, err := cli.NetworkInspect(context.Background(), n.ID, network.InspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var on []string
			for _, c := range insp.Containers {
				on = append(on, c.Name)
			}
			if len(on) != 2 || !insp.Internal {
				t.Errorf("%s (internal %v) joins %v, want the database and its service", n.Name, insp.Internal, on)
			}
		}
	})

	t.Run("msx db", func(t *testing.T) {
		r := out.must(t, ws, env, "db", "orders")
		u := strings.TrimSpace(r.Stdout)
		if !regexp.MustCompile(`^postgres://orders@127\.0\.0\.1:\d+/orders\?sslmode=disable$`).MatchString(u) {
			t.Errorf("msx db orders = %q", u)
		}
		hostPort := strings.TrimSuffix(strings.TrimPrefix(u, "postgres://orders@"), "/orders?sslmode=disable")
		conn, err := net.DialTimeout("tcp", hostPort, 2*time.Second)
		if err != nil {
			t.Errorf("the database's published port %s does not answer: %v", hostPort, err)
		} else {
			conn.Close()
		}
		r = msx(t, ws, env, "db", "orders", "--show-password") // the one output allowed to show it
		if !strings.Contains(r.Stdout, "orders:"+passwords["orders"]+"@127.0.0.1:") {
			t.Errorf("--show-password: %q", r.Stdout)
		}
		// --pgpass: the password goes to a file of mode 0600 that the
		// printed psql command reads, never into its arguments.
		r = out.must(t, ws, env, "db", "orders", "--pgpass")
		if !regexp.MustCompile(`^PGPASSFILE='[^']+/\.msx/orders\.pgpass' psql 'postgres://orders@127\.0\.0\.1:\d+/orders\?sslmode=disable'\n$`).MatchString(r.Stdout) {
			t.Errorf("--pgpass printed %q", r.Stdout)
		}
		pgpass := filepath.Join(ws, ".msx", "orders.pgpass")
		if st, err := os.Stat(pgpass); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", pgpass, st, err)
		}
		if b, _ := os.ReadFile(pgpass); string(b) != "127.0.0.1:"+strings.TrimPrefix(hostPort, "127.0.0.1:")+":orders:orders:"+passwords["orders"]+"\n" {
			t.Errorf("%s holds %q", pgpass, b)
		}
		// --shell without a terminal: psql reads statements from stdin.
		sh := exec.Command(msxBin, "db", "orders", "--shell")
		sh.Dir, sh.Env = ws, append(os.Environ(), env...)
		sh.Stdin = strings.NewReader("SELECT 'rows:' || count(*) FROM items;\n")
		shOut, err := sh.CombinedOutput()
		if err != nil || !strings.Contains(string(shOut), "rows:1") {
			t.Errorf("msx db orders --shell: %v\n%s", err, shOut)
		}
		out.mu.Lock()
		out.all = append(out.all, string(shOut))
		out.mu.Unlock()
		r = out.must(t, ws, env, "db", "catalog")
		if want := "_catalog-data_"; !strings.Contains(r.Stdout, want) || !strings.HasSuffix(strings.TrimSpace(r.Stdout), ":/data/catalog.db") {
			t.Errorf("msx db catalog = %q", r.Stdout)
		}
		if r := out.run(t, ws, env, "db", "nope"); r.Code == 0 || !strings.Contains(r.Stderr, "nope is not a service") {
			t.Errorf("msx db nope: %d %s", r.Code, r.Stderr)
		}
	})

	t.Run("data survives down and up", func(t *testing.T) {
		out.must(t, ws, env, "down")
		out.must(t, ws, env, "up", "-d")
		for s, id := range ids {
			code, body := httpDo(t, "GET", gateway+"/api/"+s+"/items/"+id, "")
			if code != 200 || !strings.Contains(body, "kept-by-"+s) {
				t.Errorf("%s item %s after down and up: %d %s", s, id, code, body)
			}
		}
	})

	t.Run("replicas racing their migrations all come up", func(t *testing.T) {
		raceReplicas(t, cli, project)
	})

	t.Run("no password in any output, inspect, label or log", func(t *testing.T) {
		out.must(t, ws, env, "ps", "--json")
		out.must(t, ws, env, "ps")
		all := strings.Join(out.all, "\n")
		f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))
		cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			insp, err := cli.ContainerInspect(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(insp)
			all += "\n" + string(b)
			logs, err := cli.ContainerLogs(context.Background(), c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
			if err == nil {
				var lb bytes.Buffer
				stdcopy.StdCopy(&lb, &lb, logs)
				logs.Close()
				all += "\n" + lb.String()
			}
		}
		for who, pw := range passwords {
			if strings.Contains(all, pw) {
				t.Errorf("the password of %s appears in msx output, docker inspect or logs", who)
			}
		}
	})

	t.Run("a broken migration stops up, names the file and leaves nothing running", func(t *testing.T) {
		out.must(t, ws, env, "down")
		broken := filepath.Join(ws, "services", "orders", "migrations", "900_broken.sql")
		if err := os.WriteFile(broken, []byte("ALTER TABLE no_such_table ADD COLUMN x INT;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(broken)
		r := out.run(t, ws, env, "up", "-d")
		if r.Code == 0 || !strings.Contains(r.Stderr, "900_broken.sql") || !strings.Contains(r.Stderr, `relation "no_such_table" does not exist`) {
			t.Errorf("exit %d\n%s", r.Code, r.Stderr)
		}
		cs, _, _ := labelled(t, cli, project)
		for _, c := range cs {
			if strings.HasSuffix(c, " running") || strings.HasSuffix(c, " created") {
				t.Errorf("left after a failed up: %s", c)
			}
		}
	})

	t.Run("down --volumes removes the volumes", func(t *testing.T) {
		out.must(t, ws, env, "down", "--volumes")
		requireNothingLeft(t, cli, project, true)
	})
}

// raceReplicas starts three replicas of orders at once against a fresh
// database and waits until all three answer /readyz: the migrations run
// under an advisory lock, so none fails on a duplicate key.
func raceReplicas(t *testing.T, cli *client.Client, project string) {
	t.Helper()
	ctx := context.Background()
	ids := containerIDs(t, cli, project)
	dbID := ids["/"+project+"-orders-db"]
	if code, text := execIn(t, cli, dbID, nil, "psql", "-U", "orders", "-d", "orders", "-c", "CREATE DATABASE race OWNER orders"); code != 0 {
		t.Fatalf("create database race: %s", text)
	}
	svc, err := cli.ContainerInspect(ctx, ids["/"+project+"-orders"])
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range svc.Config.Env {
		if strings.HasPrefix(kv, "DATABASE_URL=") {
			kv = strings.Replace(kv, "/orders?", "/race?", 1)
		}
		env = append(env, kv)
	}
	var binds []string
	for _, m := range svc.Mounts {
		if m.Type == "volume" {
			binds = append(binds, m.Name+":"+m.Destination+":ro")
		}
	}
	port := nat.Port(findEnv(env, "PORT") + "/tcp")
	var wg sync.WaitGroup
	names := []string{project + "-race-1", project + "-race-2", project + "-race-3"}
	t.Cleanup(func() {
		for _, n := range names {
			cli.ContainerRemove(context.Background(), n, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	})
	created := make([]string, len(names))
	for i, name := range names {
		resp, err := cli.ContainerCreate(ctx, &container.Config{
			Image: svc.Config.Image, Env: env, User: svc.Config.User,
			Labels:       map[string]string{"dev.msx.project": project, "dev.msx.e2e": "race"},
			ExposedPorts: nat.PortSet{port: {}},
		}, &container.HostConfig{
			Binds: binds,
			// The project network publishes the port; the database's
			// private network (internal, it cannot) reaches the database.
			NetworkMode:  container.NetworkMode(project + "_default"),
			PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1"}}},
		}, nil, nil, name)
		if err != nil {
			t.Fatal(err)
		}
		created[i] = resp.ID
		if err := cli.NetworkConnect(ctx, project+"_orders-db", resp.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range created {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli.ContainerStart(ctx, id, container.StartOptions{})
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for i, id := range created {
		for {
			insp, err := cli.ContainerInspect(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !insp.State.Running {
				logs, _ := cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
				var b bytes.Buffer
				if logs != nil {
					stdcopy.StdCopy(&b, &b, logs)
				}
				t.Fatalf("replica %d exited with %d:\n%s", i+1, insp.State.ExitCode, b.String())
			}
			hp := ""
			for _, b := range insp.NetworkSettings.Ports[port] {
				hp = b.HostPort
			}
			if hp != "" {
				if code, _ := tryGet("http://127.0.0.1:" + hp + "/readyz"); code == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d not ready within 60s", i+1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func findEnv(env []string, key string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// tryGet is a GET that returns 0 instead of failing the test.
func tryGet(url string) (int, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
