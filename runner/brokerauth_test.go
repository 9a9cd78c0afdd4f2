package runner

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxdir"
)

// brokerManifest is shop with payments subscribing to orders' items
// created: a broker, two of its users.
func brokerManifest() *devenv.Manifest {
	m := manifest("/w/shop")
	s := m.Services["payments"]
	s.Subscribes = []string{"orders.item.created"}
	m.Services["payments"] = s
	if err := m.Validate(); err != nil {
		panic(err)
	}
	return m
}

func TestUpBrokerCredentialsAsFiles(t *testing.T) {
	h := newHarness()
	h.api.images[devenv.NATS.DefaultImage] = true
	store := msxdir.New(t.TempDir())
	if _, err := h.up(t, brokerManifest(), UpOptions{Secrets: store}); err != nil {
		t.Fatal(err)
	}
	seeds := map[string]string{}
	for _, u := range []string{"orders", "payments", devenv.EventTapName} {
		v, ok, err := store.Lookup("nats-" + u + ".nk")
		if !ok || err != nil || !strings.HasPrefix(v, "SU") {
			t.Fatalf("seed of %s: %q %v %v", u, v, ok, err)
		}
		st, _ := os.Stat(store.SecretPath("nats-" + u + ".nk"))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("seed of %s has mode %v", u, st.Mode())
		}
		seeds[u] = v
	}
	// Each service: its own seed as a file, in a volume of its own, the
	// file's path (not the seed) in its environment.
	for _, n := range []string{"orders", "payments"} {
		if got := h.api.copies["shop-"+n+":/run/secrets/nats.nk"]; got != seeds[n]+" 444" {
			t.Errorf("%s's seed file = %q", n, got)
		}
		c := h.api.byRef("shop-" + n)
		if _, ok := c.cfg.Volumes[devenv.SecretsDir]; !ok || !slices.Contains(c.cfg.Env, "NATS_NKEY_FILE=/run/secrets/nats.nk") {
			t.Errorf("%s volumes %v env %v", n, c.cfg.Volumes, c.cfg.Env)
		}
	}
	if _, ok := h.api.copies["shop-catalog:/run/secrets/nats.nk"]; ok {
		t.Error("catalog, no user of the broker, got a seed")
	}
	// The broker: its configuration file, with the public keys only, as
	// a non-root user, its store made for that user.
	conf, ok := h.api.copies["shop-nats:/run/secrets/nats-server.conf"]
	if !ok {
		t.Fatalf("no configuration written; copies %v", keys(h.api.copies))
	}
	for u, seed := range seeds {
		kp, _ := nkeys.FromSeed([]byte(seed))
		pub, _ := kp.PublicKey()
		if !strings.Contains(conf, `nkey: "`+pub+`"`) {
			t.Errorf("configuration lacks %s's public key:\n%s", u, conf)
		}
		if strings.Contains(conf, seed) {
			t.Errorf("configuration holds %s's seed", u)
		}
	}
	if kept, _, _ := store.Lookup("nats-server.conf"); kept != strings.TrimSpace(strings.TrimSuffix(conf, " 444")) {
		t.Errorf(".msx/secrets/nats-server.conf differs from the broker's:\n%s", kept)
	}
	b := h.api.byRef("shop-nats")
	if b.cfg.User != devenv.ContainerUser || !slices.Equal(b.cfg.Cmd, []string{"-c", "/run/secrets/nats-server.conf"}) {
		t.Errorf("broker user %q cmd %v", b.cfg.User, b.cfg.Cmd)
	}
	if got := h.api.copies["shop-nats:/data/store/"]; got != "dir 700 65532:65532" {
		t.Errorf("broker store = %q", got)
	}
	for _, c := range h.api.containers {
		all := strings.Join(append(slices.Clone(c.cfg.Env), c.cfg.Cmd...), " ") + fmt.Sprint(c.cfg.Labels)
		for u, seed := range seeds {
			if strings.Contains(all, seed) {
				t.Errorf("%s: %s's seed is in its configuration", c.name, u)
			}
		}
	}

	// A second up: the same seeds, nothing recreated.
	before := len(h.api.callsLike("create"))
	if _, err := h.up(t, brokerManifest(), UpOptions{Secrets: store}); err != nil {
		t.Fatal(err)
	}
	if after := len(h.api.callsLike("create")); after != before {
		t.Errorf("second up created %v", h.api.callsLike("create")[before:])
	}
}

func TestBrokerSeedNotASeed(t *testing.T) {
	store := msxdir.New(t.TempDir())
	if _, err := store.SecretWith("nats-orders.nk", func() (string, error) { return "not-a-seed", nil }); err != nil {
		t.Fatal(err)
	}
	p, err := devenv.MakePlan(brokerManifest(), devenv.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = SecretValues(p, store)
	if err == nil || !strings.Contains(err.Error(), ".msx/secrets/nats-orders.nk is not a NATS user seed") {
		t.Errorf("err = %v", err)
	}
	// A source that cannot make seeds says so.
	if _, err := SecretValues(p, fakeSecrets{devenv.BrokerMonitorSecret: "0123456789abcdef0123"}); err == nil || !strings.Contains(err.Error(), "cannot make the broker seed") {
		t.Errorf("err = %v", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
