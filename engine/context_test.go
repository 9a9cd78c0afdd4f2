package engine

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/msxerr"
)

// tlsFiles are a context's TLS material, PEM encoded; nil fields are absent.
type tlsFiles struct{ ca, cert, key []byte }

// contextMaker writes a Docker context into a config folder: by hand, as
// the docker CLI lays it out, or with the docker CLI itself.
type contextMaker func(t *testing.T, cfgDir, name, host string, skipVerify bool, tf *tlsFiles)

func handContext(t *testing.T, cfgDir, name, host string, skipVerify bool, tf *tlsFiles) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	meta := map[string]any{
		"Name":      name,
		"Metadata":  map[string]any{"Description": "made by hand"},
		"Endpoints": map[string]any{"docker": map[string]any{"Host": host, "SkipTLSVerify": skipVerify}},
	}
	data, _ := json.Marshal(meta)
	mustWrite(t, filepath.Join(cfgDir, "contexts", "meta", id, "meta.json"), data)
	if tf == nil {
		return
	}
	for file, pem := range map[string][]byte{"ca.pem": tf.ca, "cert.pem": tf.cert, "key.pem": tf.key} {
		if pem != nil {
			mustWrite(t, filepath.Join(cfgDir, "contexts", "tls", id, "docker", file), pem)
		}
	}
}

func cliContext(t *testing.T, cfgDir, name, host string, skipVerify bool, tf *tlsFiles) {
	t.Helper()
	spec := "host=" + host
	if skipVerify {
		spec += ",skip-tls-verify=true"
	}
	if tf != nil {
		src := t.TempDir()
		for file, pem := range map[string][]byte{"ca": tf.ca, "cert": tf.cert, "key": tf.key} {
			if pem != nil {
				p := filepath.Join(src, file+".pem")
				mustWrite(t, p, pem)
				spec += "," + file + "=" + p
			}
		}
	}
	cmd := exec.Command("docker", "context", "create", name, "--docker", spec)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfgDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker context create: %v\n%s", err, out)
	}
}

// makers runs a test over hand-written context folders and, where the
// docker CLI is installed, over folders it made.
func makers(t *testing.T, f func(t *testing.T, mk contextMaker)) {
	t.Run("hand", func(t *testing.T) { f(t, handContext) })
	t.Run("docker-cli", func(t *testing.T) {
		if _, err := exec.LookPath("docker"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("CI=true and the docker CLI is missing")
			}
			t.Skip("no docker CLI to make contexts with")
		}
		f(t, cliContext)
	})
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func setCurrent(t *testing.T, cfgDir, name string) {
	t.Helper()
	mustWrite(t, filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{},"currentContext":"`+name+`"}`))
}

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeEngine answers /_ping on a unix socket, as an engine would; it
// returns the socket's path.
func fakeEngine(t *testing.T) string {
	t.Helper()
	// Socket paths are limited to about 100 bytes: keep it short.
	dir, err := os.MkdirTemp("", "msxe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(pingHandler())
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return sock
}

func pingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.47")
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Write([]byte("OK"))
			return
		}
		http.NotFound(w, r)
	})
}

func TestResolveCurrentContext(t *testing.T) {
	makers(t, func(t *testing.T, mk contextMaker) {
		cfg := t.TempDir()
		mk(t, cfg, "colima", "unix:///home/me/.colima/default/docker.sock", false, nil)
		setCurrent(t, cfg, "colima")
		e, err := Resolve(envOf(map[string]string{"DOCKER_CONFIG": cfg}))
		if err != nil {
			t.Fatal(err)
		}
		if e.Context != "colima" || e.Host != "unix:///home/me/.colima/default/docker.sock" {
			t.Errorf("resolved %+v", e)
		}
		if !strings.Contains(e.Reason, "current context in "+filepath.Join(cfg, "config.json")) {
			t.Errorf("reason %q does not name config.json", e.Reason)
		}
		// HOME/.docker is the folder without DOCKER_CONFIG.
		home := t.TempDir()
		if err := os.Rename(cfg, filepath.Join(home, ".docker")); err != nil {
			t.Fatal(err)
		}
		e, err = Resolve(envOf(map[string]string{"HOME": home, "USERPROFILE": home}))
		if err != nil || e.Context != "colima" {
			t.Errorf("under HOME: %+v, %v", e, err)
		}
	})
}

func TestResolveOrder(t *testing.T) {
	makers(t, func(t *testing.T, mk contextMaker) {
		cfg := t.TempDir()
		mk(t, cfg, "colima", "unix:///colima.sock", false, nil)
		mk(t, cfg, "orbstack", "unix:///orbstack.sock", false, nil)
		setCurrent(t, cfg, "colima")

		e, err := Resolve(envOf(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "orbstack"}))
		if err != nil || e.Context != "orbstack" || e.Host != "unix:///orbstack.sock" || e.Reason != "DOCKER_CONTEXT is set" {
			t.Errorf("DOCKER_CONTEXT over currentContext: %+v, %v", e, err)
		}
		e, err = Resolve(envOf(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "orbstack", "DOCKER_HOST": "tcp://127.0.0.1:2375"}))
		if err != nil || e.Context != DefaultContext || e.Host != "tcp://127.0.0.1:2375" || e.Reason != "DOCKER_HOST is set" {
			t.Errorf("DOCKER_HOST over everything: %+v, %v", e, err)
		}
		e, err = Resolve(envOf(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "default"}))
		if err != nil || e.Context != DefaultContext || e.Host != "unix:///var/run/docker.sock" {
			t.Errorf("DOCKER_CONTEXT=default is the environment: %+v, %v", e, err)
		}
		e, err = Resolve(envOf(map[string]string{"DOCKER_CONFIG": t.TempDir()}))
		if err != nil || e.Context != DefaultContext || !strings.Contains(e.Reason, "neither") {
			t.Errorf("nothing set: %+v, %v", e, err)
		}
	})
}

func TestResolveMissingContext(t *testing.T) {
	cfg := t.TempDir()
	setCurrent(t, cfg, "gone")
	_, err := Resolve(envOf(map[string]string{"DOCKER_CONFIG": cfg}))
	var me *msxerr.Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want an msxerr", err)
	}
	if !strings.Contains(me.Msg, `Docker context "gone" does not exist`) || !strings.Contains(me.Hint, "docker context use") {
		t.Errorf("missing current context: %q / %q", me.Msg, me.Hint)
	}
	_, err = Resolve(envOf(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "nope"}))
	if !errors.As(err, &me) || !strings.Contains(me.Msg, `"nope"`) || !strings.Contains(me.Hint, "DOCKER_CONTEXT") {
		t.Errorf("missing DOCKER_CONTEXT: %v", err)
	}
	mustWrite(t, filepath.Join(cfg, "config.json"), []byte("{not json"))
	if _, err := Resolve(envOf(map[string]string{"DOCKER_CONFIG": cfg})); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("broken config.json: %v", err)
	}
}

func TestConnectThroughContext(t *testing.T) {
	makers(t, func(t *testing.T, mk contextMaker) {
		sock := fakeEngine(t)
		cfg := t.TempDir()
		mk(t, cfg, "proxy", "unix://"+sock, false, nil)
		env := envOf(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "proxy"})
		var trace bytes.Buffer
		c, err := connect(context.Background(), env, &trace)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.DaemonHost() != "unix://"+sock {
			t.Errorf("client talks to %s", c.DaemonHost())
		}
		if !strings.Contains(trace.String(), "HEAD /_ping 200 OK") {
			t.Errorf("-v trace lost through a context: %q", trace.String())
		}
	})
}

func TestConnectEngineDown(t *testing.T) {
	makers(t, func(t *testing.T, mk contextMaker) {
		cfg := t.TempDir()
		mk(t, cfg, "colima", "unix://"+filepath.Join(t.TempDir(), "none.sock"), false, nil)
		setCurrent(t, cfg, "colima")
		_, err := connect(context.Background(), envOf(map[string]string{"DOCKER_CONFIG": cfg}), nil)
		var me *msxerr.Error
		if !errors.As(err, &me) {
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(me.Msg, "(context colima)") || !strings.Contains(me.Msg, "none.sock") {
			t.Errorf("message does not name the context and endpoint: %q", me.Msg)
		}
		if !strings.Contains(me.Hint, "docker context use") || !strings.Contains(me.Hint, "DOCKER_HOST") {
			t.Errorf("hint does not say how to switch: %q", me.Hint)
		}
	})
}

func TestConnectTLSContext(t *testing.T) {
	clientCert, clientKey := selfSigned(t)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(clientCert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusForbidden)
			return
		}
		pingHandler().ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	host := "tcp://" + srv.Listener.Addr().String()

	makers(t, func(t *testing.T, mk contextMaker) {
		cfg := t.TempDir()
		mk(t, cfg, "secure", host, false, &tlsFiles{ca: ca, cert: clientCert, key: clientKey})
		mk(t, cfg, "nocert", host, false, &tlsFiles{ca: ca})
		mk(t, cfg, "skip", host, true, &tlsFiles{cert: clientCert, key: clientKey})
		mk(t, cfg, "plain", host, false, nil)
		for name, ok := range map[string]bool{"secure": true, "skip": true, "nocert": false, "plain": false} {
			for _, traced := range []bool{false, true} {
				var w *bytes.Buffer
				if traced {
					w = &bytes.Buffer{}
				}
				env := envOf(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": name})
				var c interface{ Close() error }
				var err error
				if w != nil {
					c, err = connect(context.Background(), env, w)
				} else {
					c, err = connect(context.Background(), env, nil)
				}
				if (err == nil) != ok {
					t.Errorf("context %s (traced %v): err = %v, want ok=%v", name, traced, err, ok)
				}
				if err == nil {
					c.Close()
				}
			}
		}
	})
}

// selfSigned makes a client certificate and its key, PEM encoded.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "msx-test-client"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestRemote(t *testing.T) {
	for host, remote := range map[string]bool{
		"unix:///var/run/docker.sock":    false,
		"npipe:////./pipe/docker_engine": false,
		"tcp://127.0.0.1:2375":           false,
		"tcp://localhost:2375":           false,
		"tcp://[::1]:2375":               false,
		"tcp://10.0.0.5:2376":            true,
		"tcp://build.example.com:2376":   true,
		"ssh://me@build.example.com":     true,
	} {
		if got := (Endpoint{Host: host}).Remote(); got != remote {
			t.Errorf("Remote(%s) = %v, want %v", host, got, remote)
		}
	}
	err := Endpoint{Host: "ssh://me@build.example.com", Context: "build"}.Unreachable()
	if !strings.Contains(err.Error(), "runs on build.example.com") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Unreachable: %v", err)
	}
}

func TestNotAnsweringFindsRootlessSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "msxr")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := Resolve(envOf(map[string]string{"DOCKER_CONFIG": t.TempDir(), "XDG_RUNTIME_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	var me *msxerr.Error
	if !errors.As(e.NotAnswering(errors.New("refused")), &me) || !strings.Contains(me.Hint, "docker context create rootless --docker host=unix://"+dir+"/docker.sock") {
		t.Errorf("hint does not point at the rootless socket: %v", me)
	}
}

func TestRootlessThroughItsContext(t *testing.T) {
	// dockerd-rootless-setuptool.sh makes a context named rootless whose
	// endpoint is the socket under $XDG_RUNTIME_DIR: using it is enough.
	makers(t, func(t *testing.T, mk contextMaker) {
		sock := fakeEngine(t)
		cfg := t.TempDir()
		mk(t, cfg, "rootless", "unix://"+sock, false, nil)
		setCurrent(t, cfg, "rootless")
		c, err := connect(context.Background(), envOf(map[string]string{"DOCKER_CONFIG": cfg}), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
}

// ssh:// goes through the CLI's connection helper (ssh HOST docker system
// dial-stdio), from DOCKER_HOST as from a context; nothing is dialled here.
func TestSSHEndpoints(t *testing.T) {
	cfg := t.TempDir()
	handContext(t, cfg, "build", "ssh://me@build.example.com", false, nil)
	for name, env := range map[string]map[string]string{
		"DOCKER_HOST": {"DOCKER_HOST": "ssh://me@build.example.com"},
		"context":     {"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "build"},
	} {
		e, err := Resolve(envOf(env))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c, err := newClient(e, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.DaemonHost() != "http://docker.example.com" {
			t.Errorf("%s: client host %s, want the connection helper's", name, c.DaemonHost())
		}
		c.Close()
		if !e.Remote() {
			t.Errorf("%s: ssh engine not remote", name)
		}
	}
}
