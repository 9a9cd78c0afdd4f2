package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxdir"
)

// probes records the URLs a runner probes.
type probes struct {
	mu   sync.Mutex
	urls []string
	err  error
}

func (p *probes) probe(_ context.Context, url string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.urls = append(p.urls, url)
	return p.err
}

func (p *probes) reset(err error) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.urls
	p.urls, p.err = nil, err
	return out
}

// The broker's monitoring port answers under a random path msx keeps in
// .msx/secrets (nats-server cannot check Host: a web page that rebinds a
// name to 127.0.0.1 must not read /varz). Up, the session's samples, ps
// and the consumer counts all ask under it; nothing msx prints shows it.
func TestBrokerMonitorUnderItsSecretPath(t *testing.T) {
	h := newHarness()
	h.api.images[devenv.NATS.DefaultImage] = true
	dir := t.TempDir()
	m := brokerManifest()
	m.Dir = dir
	store := msxdir.New(dir)
	pr := &probes{}
	h.r.Probe = pr.probe
	p, err := h.up(t, m, UpOptions{Secrets: store})
	if err != nil {
		t.Fatal(err)
	}
	path, ok, err := store.Lookup(devenv.BrokerMonitorSecret)
	if !ok || err != nil || !devenv.ValidMonitorPath(path) || len(path) < 32 {
		t.Fatalf("monitoring path %q %v %v", path, ok, err)
	}
	if st, _ := os.Stat(store.SecretPath(devenv.BrokerMonitorSecret)); st.Mode().Perm() != 0o600 {
		t.Errorf("monitoring path's file has mode %v", st.Mode())
	}
	conf := h.api.copies["shop-nats:/run/secrets/nats-server.conf"]
	if !strings.Contains(conf, `http_base_path: "/`+path+`"`) {
		t.Errorf("the broker's configuration has no base path:\n%s", conf)
	}
	// Up waited on the broker under the path, never on the bare port.
	var broker []string
	for _, u := range pr.reset(nil) {
		if strings.Contains(u, "healthz?js-enabled-only") {
			broker = append(broker, u)
		}
	}
	if len(broker) == 0 || !slices.ContainsFunc(broker, func(u string) bool { return strings.HasSuffix(u, "/"+path+"/healthz?js-enabled-only=true") }) ||
		slices.ContainsFunc(broker, func(u string) bool { return !strings.Contains(u, path) }) {
		t.Errorf("broker probed at %v", broker)
	}
	// Nowhere in a container's configuration: the broker reads it from
	// its configuration file, and no one else needs it.
	for _, c := range h.api.containers {
		all := strings.Join(append(slices.Clone(c.cfg.Env), c.cfg.Cmd...), " ") + fmt.Sprint(c.cfg.Labels)
		if strings.Contains(all, path) {
			t.Errorf("%s: the monitoring path is in its configuration", c.name)
		}
	}

	// The session samples the broker with the runner that ran up, after
	// up forgot its other secrets; a reason it prints hides the path.
	b := p.Container(devenv.KindNATS)
	s, err := h.r.Sample(context.Background(), b, true)
	if err != nil || !s.Ready {
		t.Errorf("sample = %+v, %v", s, err)
	}
	if got := pr.reset(errors.New("Get \"http://127.0.0.1:1/" + path + "/healthz?js-enabled-only=true\": 503")); len(got) != 1 || !strings.Contains(got[0], "/"+path+"/healthz") {
		t.Errorf("sample probed %v", got)
	}
	s, _ = h.r.Sample(context.Background(), b, true)
	if s.Ready || strings.Contains(s.Reason, path) || !strings.Contains(s.Reason, "/healthz") {
		t.Errorf("sample of a broker not ready: %+v", s)
	}
	if err := h.r.WaitReady(context.Background(), b); err == nil || strings.Contains(err.Error(), path) {
		t.Errorf("wait = %v", err)
	}
	pr.reset(nil)

	// msx ps: a runner of its own, which reads the path from the
	// workspace; the URL it shows is the bare port.
	ps := New(h.api, nil)
	ps.Probe = pr.probe
	fb := &fakeBroker{consumers: map[string]ConsumerStatus{devenv.ConsumerName("payments", "orders.item.created"): {Pending: 3}}}
	ps.Broker = fb
	list, err := ps.Status(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	var nats, payments ServiceStatus
	for _, st := range list {
		switch st.Service {
		case devenv.KindNATS:
			nats = st
		case "payments":
			payments = st
		}
	}
	if !nats.Ready || nats.URL == "" || strings.Contains(nats.URL, path) || fb.url != nats.URL+"/"+path {
		t.Errorf("broker %+v, consumers asked at %q", nats, fb.url)
	}
	if payments.Consumer == nil || payments.Consumer.Pending != 3 {
		t.Errorf("payments %+v", payments)
	}
	if got := pr.reset(nil); !slices.Contains(got, nats.URL+"/"+path+"/healthz?js-enabled-only=true") {
		t.Errorf("ps probed %v", got)
	}
	out, _ := json.Marshal(list)
	if strings.Contains(string(out), path) {
		t.Errorf("ps --json shows the monitoring path: %s", out)
	}

	// Without the path (removed by hand), ps cannot ask the broker: not
	// ready, no counts, and nothing probed at the bare port.
	if err := os.Remove(store.SecretPath(devenv.BrokerMonitorSecret)); err != nil {
		t.Fatal(err)
	}
	fb.url = ""
	list, _ = New(h.api, nil).Status(context.Background(), m)
	for _, st := range list {
		if st.Service == devenv.KindNATS && (st.Ready || fb.url != "") {
			t.Errorf("broker without its path: %+v, asked %q", st, fb.url)
		}
	}
	// The next up makes a new one, and a new configuration with it.
	if _, err := h.up(t, m, UpOptions{Secrets: store}); err != nil {
		t.Fatal(err)
	}
	next, ok, _ := store.Lookup(devenv.BrokerMonitorSecret)
	if !ok || next == path || !strings.Contains(h.api.copies["shop-nats:/run/secrets/nats-server.conf"], next) {
		t.Errorf("new path %q; configuration:\n%s", next, h.api.copies["shop-nats:/run/secrets/nats-server.conf"])
	}
}

// A monitoring path written by hand that is not a plain segment stops up
// before anything starts, naming the file.
func TestBrokerMonitorPathNotAPath(t *testing.T) {
	h := newHarness()
	h.api.images[devenv.NATS.DefaultImage] = true
	store := msxdir.New(t.TempDir())
	if _, err := store.SecretWith(devenv.BrokerMonitorSecret, func() (string, error) { return "../varz?x=", nil }); err != nil {
		t.Fatal(err)
	}
	_, err := h.up(t, brokerManifest(), UpOptions{Secrets: store})
	if err == nil || !strings.Contains(err.Error(), ".msx/secrets/nats-monitor-path is not a path segment") {
		t.Errorf("err = %v", err)
	}
	if len(h.api.callsLike("create")) != 0 {
		t.Errorf("created %v", h.api.callsLike("create"))
	}
}
