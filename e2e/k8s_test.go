//go:build linux

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// k8sVersion is the Kubernetes that scripts/k8s-build.sh builds and caches.
const k8sVersion = "v1.34.3"

// k8sCache is where scripts/k8s-build.sh keeps what it built, keyed by
// version (MSX_K8S_CACHE overrides it, as in the script).
func k8sCache() string {
	if d := os.Getenv("MSX_K8S_CACHE"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "msx-k8s", k8sVersion)
}

// k8sBins are the programs of the cache that a server-side dry run needs.
type k8sBins struct{ etcd, apiserver, kubectl string }

// requireK8sBins skips, with how to build them, unless the API server,
// kubectl and etcd are cached: building Kubernetes takes 20 to 40 minutes,
// far beyond the suite's budget, so neither a fresh clone nor CI builds it
// here. That is the only reason this test skips, under CI=true too.
func requireK8sBins(t *testing.T) k8sBins {
	t.Helper()
	dir := k8sCache()
	b := k8sBins{
		etcd:      filepath.Join(dir, "root", "usr", "bin", "etcd"),
		apiserver: filepath.Join(dir, "bin", "kube-apiserver"),
		kubectl:   filepath.Join(dir, "bin", "kubectl"),
	}
	for _, p := range []string{b.etcd, b.apiserver, b.kubectl} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("Kubernetes %s is not built in %s; nice bash scripts/k8s-build.sh builds it once (20-40 min)", k8sVersion, dir)
		}
	}
	return b
}

// apiServer is a kube-apiserver on 127.0.0.1 over its own etcd, and a
// kubeconfig for it.
type apiServer struct {
	kubectl, kubeconfig string
}

// startAPIServer starts etcd and kube-apiserver on free ports of
// 127.0.0.1, with a bearer token in system:masters, and waits until the API
// server is ready. Both stop when the test ends (and with the test's
// process, by Pdeathsig).
func startAPIServer(t *testing.T, b k8sBins) *apiServer {
	t.Helper()
	dir := t.TempDir()
	start := func(name string, args ...string) {
		t.Helper()
		log, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		c := exec.Command(args[0], args[1:]...)
		c.Stdout, c.Stderr = log, log
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = c.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = c.Process.Kill()
				<-done
			}
			log.Close()
		})
	}
	port := func() string { return strconv.Itoa(freePort(t)) }
	client, peer := "http://127.0.0.1:"+port(), "http://127.0.0.1:"+port()
	start("etcd", b.etcd, "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saKey := filepath.Join(dir, "sa.key")
	k8sWrite(t, saKey, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	token := hex.EncodeToString(tok)
	k8sWrite(t, filepath.Join(dir, "tokens.csv"), token+`,admin,admin,"system:masters"`+"\n")
	apiPort := port()
	start("kube-apiserver", b.apiserver, "--etcd-servers", client,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", apiPort,
		"--cert-dir", filepath.Join(dir, "certs"), "--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "Node,RBAC", "--service-cluster-ip-range", "10.96.0.0/16",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey)
	server := "https://127.0.0.1:" + apiPort
	kubeconfig := filepath.Join(dir, "kubeconfig")
	k8sWrite(t, kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: e2e, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: e2e, context: {cluster: e2e, user: admin}}]
current-context: e2e
`, server, token))

	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var last string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
		req, _ := http.NewRequest("GET", server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return &apiServer{kubectl: b.kubectl, kubeconfig: kubeconfig}
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond) // polling the API server until it is ready
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "kube-apiserver.log"))
	t.Fatalf("kube-apiserver not ready in 90 s (%s):\n%s", last, lastLines(string(logs), 30))
	return nil
}

// kubectl runs kubectl against the server and returns what it printed.
func (s *apiServer) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.kubectl, append([]string{"--kubeconfig", s.kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}

func k8sWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestExportK8sServerDryRun gives the Kubernetes export of a full
// workspace (Postgres, SQLite, a subscriber so the broker, the collector, a
// protected route with the gateway's keys) to a real API server, with and
// without --mesh linkerd: kubectl apply -k --dry-run=server validates and
// admits every object as a cluster would, which catches what strict
// decoding and a Kustomize build do not (a string where a boolean belongs,
// a port out of range, a name over 63 characters).
func TestExportK8sServerDryRun(t *testing.T) {
	t.Parallel()
	bins := requireK8sBins(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "payments", "--db", "postgres", "--depends-on", "orders", "--subscribes", "orders.item.created")
	editFile(t, filepath.Join(ws, "msx.yaml"), "    route: /api/orders/\n", "    route: /api/orders/\n    protected: true\n")
	if err := os.MkdirAll(filepath.Join(ws, ".msx", "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	k8sWrite(t, filepath.Join(ws, ".msx", "secrets", "gateway-api-keys"), "e2e:key-e2e-k8s-0123456789abcdef\n")
	mustMsx(t, ws, nil, "export", "k8s", "--out", "k8s")
	mustMsx(t, ws, nil, "export", "k8s", "--mesh", "linkerd", "--out", "k8s-linkerd")

	s := startAPIServer(t, bins)
	// The overlay creates the namespace; a dry run cannot see an object it
	// did not create, so the namespace is created for real first.
	if out, err := s.run(t, "create", "namespace", project); err != nil {
		t.Fatalf("kubectl create namespace: %v\n%s", err, out)
	}
	for _, out := range []string{"k8s", "k8s-linkerd"} {
		got, err := s.run(t, "apply", "-k", filepath.Join(ws, out, "overlays", "local"), "--dry-run=server")
		if err != nil {
			t.Errorf("the API server refuses %s: %v\n%s", out, err, got)
			continue
		}
		for _, want := range []string{"deployment.apps/gateway", "deployment.apps/orders", "deployment.apps/payments",
			"deployment.apps/collector", "statefulset.apps/payments-db", "statefulset.apps/nats",
			"networkpolicy.networking.k8s.io/default-deny-ingress", "ingress.networking.k8s.io/gateway"} {
			if !strings.Contains(got, want+" created (server dry run)") {
				t.Errorf("%s: the API server did not admit %s:\n%s", out, want, got)
			}
		}
	}
	// What strict decoding lets through and the API server refuses: a port
	// out of range, in a copy of the export. The dry run is a real check.
	broken := filepath.Join(ws, "k8s-broken")
	if err := os.CopyFS(broken, os.DirFS(filepath.Join(ws, "k8s"))); err != nil {
		t.Fatal(err)
	}
	editFile(t, filepath.Join(broken, "base", "orders.yaml"), "containerPort: 8081", "containerPort: 99999")
	if got, err := s.run(t, "apply", "-k", filepath.Join(broken, "overlays", "local"), "--dry-run=server"); err == nil ||
		!strings.Contains(got, "containerPort") {
		t.Errorf("the API server admits a container port of 99999 (%v):\n%s", err, got)
	}
}
