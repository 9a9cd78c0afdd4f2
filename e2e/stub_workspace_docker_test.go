package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With MSX_E2E_STUB_WORKSPACE=1, the Docker tests run on a workspace of
// small standard-library programs that honour the same contract as the
// generated ones (env, /healthz, /readyz, /items on SQLITE_PATH, MSX_ROUTES).
// It tests the runner apart from the templates, and compiles in seconds.
func useStubWorkspace() bool { return os.Getenv("MSX_E2E_STUB_WORKSPACE") == "1" }

// writeStubWorkspace writes the stub workspace of project in parent/project
// with the services of newShop.
func writeStubWorkspace(t *testing.T, parent, project string) string {
	t.Helper()
	ws := filepath.Join(parent, project)
	files := map[string]string{
		"msx.yaml": "project: " + project + `
module: example.com/stub
gateway:
  port: 8080
services:
  payments:
    port: 8081
    db: sqlite
  catalog:
    port: 8082
    db: sqlite
  orders:
    port: 8083
    db: sqlite
    depends_on: [payments]
`,
		"go.mod":          "module example.com/stub\n\ngo 1.22\n",
		"gateway/main.go": stubGateway,
	}
	for _, s := range []string{"payments", "catalog", "orders"} {
		files["services/"+s+"/main.go"] = stubService
	}
	for name, body := range files {
		p := filepath.Join(ws, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(body, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

const stubGateway = `
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

type route struct{ Name, Prefix, Upstream string }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(0)
	}
	if a := os.Getenv("ADMIN_ADDR"); a != "" {
		admin := http.NewServeMux()
		admin.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {})
		admin.HandleFunc("/debug/breakers", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
		go http.ListenAndServe(a, admin)
	}
	var routes []route
	if err := json.Unmarshal([]byte(os.Getenv("MSX_ROUTES")), &routes); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(` + "`" + `{"status":"ok","service":"gateway"}` + "`" + `)) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {})
	for _, rt := range routes {
		u, err := url.Parse(rt.Upstream)
		if err != nil {
			log.Fatal(err)
		}
		mux.Handle(rt.Prefix, http.StripPrefix(strings.TrimSuffix(rt.Prefix, "/"), httputil.NewSingleHostReverseProxy(u)))
	}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		<-c
		os.Exit(0)
	}()
	log.Printf("gateway listening on %s", os.Getenv("LISTEN_ADDR"))
	log.Fatal(http.ListenAndServe(os.Getenv("LISTEN_ADDR"), mux))
}
`

const stubService = `
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

type item struct {
	ID   int    ` + "`json:\"id\"`" + `
	Name string ` + "`json:\"name\"`" + `
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(0)
	}
	if a := os.Getenv("ADMIN_ADDR"); a != "" {
		admin := http.NewServeMux()
		admin.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {})
		admin.HandleFunc("/debug/breakers", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
		go http.ListenAndServe(a, admin)
	}
	name, path := os.Getenv("MSX_SERVICE"), os.Getenv("SQLITE_PATH")
	var mu sync.Mutex
	load := func() []item {
		var items []item
		b, _ := os.ReadFile(path)
		json.Unmarshal(b, &items)
		return items
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, ` + "`" + `{"status":"ok","service":%q,"version":"0.1.0"}` + "`" + `, name)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var it item
		if err := json.NewDecoder(r.Body).Decode(&it); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		items := load()
		it.ID = len(items) + 1
		b, _ := json.Marshal(append(items, it))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(it)
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range load() {
			if fmt.Sprint(it.ID) == r.PathValue("id") {
				json.NewEncoder(w).Encode(it)
				return
			}
		}
		http.NotFound(w, r)
	})
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		<-c
		os.Exit(0)
	}()
	log.Printf("%s listening on %s", name, os.Getenv("LISTEN_ADDR"))
	log.Fatal(http.ListenAndServe(os.Getenv("LISTEN_ADDR"), mux))
}
`
