package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// engineProxy forwards every connection on a unix socket of its own to the
// real engine, counting them: a Docker context pointing at it is an engine
// only msx's context resolution can find.
type engineProxy struct {
	sock  string
	conns atomic.Int64
	l     net.Listener
	wg    sync.WaitGroup
}

func startEngineProxy(t *testing.T, network, addr string) *engineProxy {
	t.Helper()
	// Socket paths are limited to about 100 bytes: keep it short.
	dir, err := os.MkdirTemp("", "msxctx")
	if err != nil {
		t.Fatal(err)
	}
	p := &engineProxy{sock: filepath.Join(dir, "engine.sock")}
	if p.l, err = net.Listen("unix", p.sock); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.l.Close()
		p.wg.Wait()
		os.RemoveAll(dir)
	})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			in, err := p.l.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer in.Close()
				out, err := net.Dial(network, addr)
				if err != nil {
					return
				}
				defer out.Close()
				done := make(chan struct{})
				go func() {
					io.Copy(out, in)
					if c, ok := out.(interface{ CloseWrite() error }); ok {
						c.CloseWrite()
					}
					close(done)
				}()
				io.Copy(in, out)
				in.Close()
				<-done
			}()
		}
	}()
	return p
}

// writeDockerContext writes a context as `docker context create NAME
// --docker host=HOST` does, into the config folder cfg.
func writeDockerContext(t *testing.T, cfg, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	dir := filepath.Join(cfg, "contexts", "meta", hex.EncodeToString(sum[:]))
	data, _ := json.Marshal(map[string]any{
		"Name":      name,
		"Metadata":  map[string]any{},
		"Endpoints": map[string]any{"docker": map[string]any{"Host": host, "SkipTLSVerify": false}},
	})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDockerContextDocker runs msx with DOCKER_HOST unset and DOCKER_CONTEXT
// naming a context whose engine is only reachable through a socket that
// proxies to the real one: up, ps, doctor and down all go through it.
func TestDockerContextDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	proto, addr, ok := strings.Cut(cli.DaemonHost(), "://")
	if !ok || (proto != "unix" && proto != "tcp") {
		t.Skipf("the proxy forwards to a unix or tcp engine, not %s", cli.DaemonHost())
	}
	proxy := startEngineProxy(t, proto, addr)

	parent := t.TempDir()
	project := "engines22-" + uniqueProject(t)
	port := freePort(t)
	cfg := t.TempDir()
	writeDockerContext(t, cfg, "msx-e2e-proxy", "unix://"+proxy.sock)
	// A current context that does not exist: DOCKER_CONTEXT must win over it.
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"currentContext":"not-this-one"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"DOCKER_HOST=", "DOCKER_CONFIG=" + cfg, "DOCKER_CONTEXT=msx-e2e-proxy",
		"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1",
	}
	removeImages(t, cli, project)
	t.Cleanup(func() { requireNothingLeft(t, cli, project, true) })
	ws := writeStubWorkspace(t, parent, project)
	// Through the real engine: the proxy is gone by then.
	cleanupDown(t, ws, []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port)})

	through := func(t *testing.T, what string, f func()) {
		t.Helper()
		before := proxy.conns.Load()
		f()
		if proxy.conns.Load() == before {
			t.Errorf("%s did not talk to the engine of the context", what)
		}
	}
	through(t, "msx up -d", func() {
		r := mustMsx(t, ws, env, "up", "-d")
		if got, want := strings.TrimSpace(r.Stdout), "http://127.0.0.1:"+strconv.Itoa(port); got != want {
			t.Errorf("up -d printed %q, want %q", got, want)
		}
	})
	through(t, "msx ps", func() {
		r := mustMsx(t, ws, env, "ps", "--json")
		var list []struct {
			Service string `json:"service"`
			State   string `json:"state"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) == 0 {
			t.Fatalf("ps --json: %v\n%s", err, r.Stdout)
		}
		for _, s := range list {
			if s.State != "running" {
				t.Errorf("ps through the context: %+v", s)
			}
		}
	})
	through(t, "msx doctor", func() {
		r := msx(t, ws, env, "doctor", "--json")
		var rep struct {
			Checks []struct{ Name, Status, Detail string }
		}
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, r.Stdout)
		}
		rows := map[string]string{}
		for _, c := range rep.Checks {
			rows[c.Name] = c.Status + " " + c.Detail
		}
		want := "ok unix://" + proxy.sock + " (context msx-e2e-proxy: DOCKER_CONTEXT is set)"
		if rows["Engine"] != want {
			t.Errorf("doctor's engine row = %q, want %q", rows["Engine"], want)
		}
		if !strings.HasPrefix(rows["Docker"], "ok ") {
			t.Errorf("doctor's docker row = %q", rows["Docker"])
		}
	})
	through(t, "msx down", func() { mustMsx(t, ws, env, "down", "--volumes") })

	// The context's engine down: one line naming the context and the switch.
	proxy.l.Close()
	r := msx(t, ws, env, "ps")
	if r.Code == 0 || !strings.Contains(r.Stderr, "(context msx-e2e-proxy)") || !strings.Contains(r.Stderr, "docker context use") {
		t.Errorf("ps with the context's engine down: exit %d\n%s", r.Code, r.Stderr)
	}
}
