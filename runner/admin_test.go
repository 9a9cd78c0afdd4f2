package runner

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/msx-dev/msx/msxdir"
)

// fakeAdminListener is a program's admin listener that, as the generated
// one, answers /debug/fault only to its token and seen records each
// request's method, path and Host.
type fakeAdminListener struct {
	token string
	mu    sync.Mutex
	seen  []string
}

func (a *fakeAdminListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, r.Method+" "+r.URL.Path+" "+r.Host)
	a.mu.Unlock()
	switch {
	case r.URL.Path == "/debug/breakers":
		w.Write([]byte(`{}`))
	case r.Header.Get("Authorization") != "Bearer "+a.token:
		http.Error(w, `{"error":"this endpoint needs the project's admin token"}`, http.StatusUnauthorized)
	case r.Method == http.MethodPut:
		var f Faults
		json.NewDecoder(r.Body).Decode(&f)
		json.NewEncoder(w).Encode(f)
	default:
		w.Write([]byte(`{"latency":"","errors":0.5}`))
	}
}

// TestAdminTokenFromUpToFault follows the admin token: up generates it
// into .msx/secrets (0600) and writes it as a file into every program,
// never into its configuration; msx fault and msx ps send it.
func TestAdminTokenFromUpToFault(t *testing.T) {
	h := newHarness()
	m := manifest(t.TempDir())
	if _, err := h.up(t, m, UpOptions{Services: []string{"catalog"}, Secrets: msxdir.New(m.Dir)}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(m.Dir, ".msx", "secrets", "admin-token")
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want a file of mode 0600", file, st, err)
	}
	data, _ := os.ReadFile(file)
	token := strings.TrimSpace(string(data))
	for _, name := range []string{"shop-catalog", "shop-gateway"} {
		if got := h.api.copies[name+":/run/secrets/admin-token"]; got != token+" 444" {
			t.Errorf("%s: admin token file = %q", name, got)
		}
		c := h.api.byRef(name)
		all := strings.Join(c.cfg.Env, " ") + strings.Join(c.cfg.Cmd, " ")
		for k, v := range c.cfg.Labels {
			all += k + v
		}
		if strings.Contains(all, token) || !strings.Contains(all, "ADMIN_TOKEN_FILE=/run/secrets/admin-token") {
			t.Errorf("%s: the token's value in its configuration, or no ADMIN_TOKEN_FILE: %s", name, all)
		}
	}

	admin := &fakeAdminListener{token: token}
	srv := httptest.NewServer(admin)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	h.api.mu.Lock()
	h.api.byRef("shop-catalog").port, _ = strconv.Atoi(port)
	h.api.mu.Unlock()

	msg, err := h.r.Fault(context.Background(), h.api, m, "catalog", FaultAction{Kind: "latency", Latency: 300_000_000})
	if err != nil || msg != "latency 300ms, errors 50%" {
		t.Errorf("fault = %q, %v", msg, err)
	}
	list, err := h.r.Status(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Service == "catalog" && (s.Faults == nil || s.Faults.Errors != 0.5) {
			t.Errorf("ps shows no faults for catalog: %+v", s)
		}
	}
	admin.mu.Lock()
	defer admin.mu.Unlock()
	if len(admin.seen) < 3 || !strings.HasPrefix(admin.seen[0], "GET /debug/fault 127.0.0.1:") {
		t.Errorf("admin listener saw %v", admin.seen)
	}
}

func TestFaultWithoutTheTokenSaysWhy(t *testing.T) {
	h := newHarness()
	m := manifest(t.TempDir())
	if _, err := h.up(t, m, UpOptions{Services: []string{"catalog"}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&fakeAdminListener{token: "not-what-msx-holds"})
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	h.api.mu.Lock()
	h.api.byRef("shop-catalog").port, _ = strconv.Atoi(port)
	h.api.mu.Unlock()
	_, err := h.r.Fault(context.Background(), h.api, m, "catalog", FaultAction{Kind: "errors", Errors: 0.3})
	if err == nil || !strings.Contains(err.Error(), "admin token") {
		t.Errorf("err = %v, want the listener's reason", err)
	}
}
