package devenv

import (
	"slices"
	"strings"
	"testing"
)

func TestPlanBrokerOnlyWithSubscribers(t *testing.T) {
	p := mustPlan(t, shop(), PlanOptions{})
	if c := p.Container(KindNATS); c != nil {
		t.Fatalf("a project where nothing subscribes got a broker: %+v", c)
	}
}

func TestPlanBroker(t *testing.T) {
	m := shop()
	cat := m.Services["catalog"]
	cat.DB = DBSQLite
	cat.Subscribes = []string{"payments.item.created", "orders.item.deleted"}
	m.Services["catalog"] = cat
	p := mustPlan(t, m, PlanOptions{})

	b := p.Container(KindNATS)
	if b == nil {
		t.Fatalf("no broker planned: %v", services(p))
	}
	if i := slices.Index(services(p), KindNATS); i != 0 && services(p)[i-1] == "gateway" {
		t.Fatalf("broker planned after a service: %v", services(p))
	}
	if b.Name != "shop-nats" || b.Role != RoleInfra || b.Kind != KindNATS || b.Image.Ref != NATS.DefaultImage {
		t.Errorf("broker container = %+v", b)
	}
	// The monitoring port is the one probed and the only one published
	// (on 127.0.0.1, by the runner): the client port is not.
	if b.Port != 8222 || !b.Publish || b.HostPort != 0 {
		t.Errorf("broker publishes port %d (publish %v, host %d), want 8222 on an ephemeral loopback port",
			b.Port, b.Publish, b.HostPort)
	}
	// Under the secret monitoring path, by its name only: the plan holds
	// no secret value.
	if b.Ready.HTTPPath != "/healthz?js-enabled-only=true" || b.Ready.PathSecret != BrokerMonitorSecret {
		t.Errorf("broker ready probe = %+v", b.Ready)
	}
	if !slices.Equal(b.Cmd, []string{"-c", "/run/secrets/nats-server.conf"}) {
		t.Errorf("broker cmd = %v, want its configuration file", b.Cmd)
	}
	if len(b.Mounts) != 1 || b.Mounts[0].Target != "/data" || b.Mounts[0].Volume != VolumeName("shop", "nats", m.Dir) {
		t.Errorf("broker mounts = %+v", b.Mounts)
	}
	if b.Networks[0].Network != "shop_default" || b.Labels[LabelKind] != KindNATS || b.Labels[LabelProject] != "shop" {
		t.Errorf("broker networks %+v labels %v", b.Networks, b.Labels)
	}

	// Users of the broker: the subscriber, and the publishers it listens
	// to; each starts after it and gets its address.
	for _, n := range []string{"catalog", "payments", "orders"} {
		c := p.Container(n)
		if !slices.Contains(c.DependsOn, KindNATS) {
			t.Errorf("%s does not wait for the broker: %v", n, c.DependsOn)
		}
		if !slices.Contains(c.Env, "NATS_URL=nats://nats:4222") {
			t.Errorf("%s env lacks NATS_URL: %v", n, c.Env)
		}
	}
}

func TestPlanBrokerNotForOthers(t *testing.T) {
	m := shop()
	m.Services["extra"] = Service{Port: 8090, DB: DBSQLite}
	pay := m.Services["payments"]
	pay.Subscribes = []string{"orders.item.created"}
	m.Services["payments"] = pay
	p := mustPlan(t, m, PlanOptions{})
	for _, n := range []string{"extra", "catalog"} {
		c := p.Container(n)
		if slices.Contains(c.DependsOn, KindNATS) || slices.ContainsFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, "NATS_URL=") }) {
			t.Errorf("%s neither publishes to a subscriber nor subscribes, yet uses the broker: %v %v", n, c.DependsOn, c.Env)
		}
	}
}

func TestPlanBrokerImageSetting(t *testing.T) {
	m := shop()
	pay := m.Services["payments"]
	pay.Subscribes = []string{"orders.item.created"}
	m.Services["payments"] = pay
	m.Images = map[string]string{"nats": "msx-local/nats:x"}
	p := mustPlan(t, m, PlanOptions{})
	if got := p.Container(KindNATS).Image; got.Ref != "msx-local/nats:x" || got.Kind != KindNATS {
		t.Errorf("broker image = %+v", got)
	}
}

func TestSubscribesValidation(t *testing.T) {
	tests := []struct {
		subs []string
		want string
	}{
		{[]string{"payments.item.created"}, ""},
		{[]string{"payments.item.deleted", "payments.item.created"}, ""},
		{[]string{"payments.item.updated"}, `subscribes to "payments.item.updated"; use SERVICE.EVENT`},
		{[]string{"payments"}, `subscribes to "payments"; use SERVICE.EVENT`},
		{[]string{"billing.item.created"}, "billing is not a service of this workspace"},
		{[]string{"catalog.item.created"}, "catalog has no database"},
		{[]string{"orders.item.created"}, "subscribes to its own events"},
		{[]string{"payments.item.created", "payments.item.created"}, "twice"},
		{[]string{"catalog.item.created"}, "catalog has no database"},
	}
	for _, tt := range tests {
		m := shop()
		o := m.Services["orders"]
		o.Subscribes = tt.subs
		m.Services["orders"] = o
		err := m.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.subs, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.subs, err, tt.want)
		}
	}
}

func TestManifestSubscribesRoundTrip(t *testing.T) {
	data := []byte("project: shop\nmodule: example.com/shop\nservices:\n" +
		"  orders: {port: 8081, db: sqlite}\n" +
		"  payments: {port: 8082, db: postgres, subscribes: [orders.item.created]}\n")
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Services["orders"].Events || !m.Services["payments"].Events {
		t.Errorf("Events not derived: %+v", m.Services)
	}
	if !m.Publishes("orders") || m.Publishes("payments") {
		t.Errorf("Publishes: orders %v payments %v", m.Publishes("orders"), m.Publishes("payments"))
	}
}

func TestSubscriberNeedsADatabase(t *testing.T) {
	m := shop()
	c := m.Services["catalog"]
	c.Subscribes = []string{"orders.item.created"}
	m.Services["catalog"] = c
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "catalog subscribes to events but has no database") {
		t.Fatalf("err = %v", err)
	}
}

func TestEventTap(t *testing.T) {
	m := shop()
	c := m.EventTap("shop-msx-events-1a2b", "orders.>", true, "1.0")
	if c.Name != "shop-msx-events-1a2b" || c.Role != RoleTool || c.Image.Build != EventTapName || c.Kind != "" {
		t.Errorf("tap = %+v", c)
	}
	// On the project network, beside the broker, which it reaches by name.
	if len(c.Networks) != 1 || c.Networks[0].Network != NetworkName("shop") {
		t.Errorf("tap networks = %+v", c.Networks)
	}
	want := []string{"MSX_EVENTS_FOLLOW=1", "MSX_EVENTS_SUBJECT=orders.>", "MSX_EVENTS_URL=nats://nats:4222", "NATS_NKEY_FILE=/run/secrets/nats.nk"}
	if !slices.Equal(c.Env, want) {
		t.Errorf("tap env = %v, want %v", c.Env, want)
	}
	// Nothing published; confined like every program msx compiles; not
	// restarted: it ends, and msx reads how.
	if c.Publish || c.AdminPort != 0 || c.Hardening == nil || !c.Hardening.ReadOnlyRootFS || c.Hardening.RestartOnFailure != 0 ||
		c.User != ContainerUser {
		t.Errorf("tap = %+v, hardening %+v", c, c.Hardening)
	}
	// Labelled for down, and as no service.
	if c.Labels[LabelProject] != "shop" || c.Labels[LabelWorkspace] != m.Dir || c.Labels[LabelService] != "" {
		t.Errorf("tap labels = %v", c.Labels)
	}
	if c := m.EventTap("x", "", false, "1.0"); !slices.Contains(c.Env, "MSX_EVENTS_FOLLOW=0") || !slices.Contains(c.Env, "MSX_EVENTS_SUBJECT=") {
		t.Errorf("tap env without follow and subject = %v", c.Env)
	}
}
