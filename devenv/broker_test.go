package devenv

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// subscribed is shop with payments subscribing to orders' items created,
// and catalog (given a database) to two topics of two publishers.
func subscribed() *Manifest {
	m := shop()
	pay := m.Services["payments"]
	pay.Subscribes = []string{"orders.item.created"}
	m.Services["payments"] = pay
	cat := m.Services["catalog"]
	cat.DB = DBSQLite
	cat.Subscribes = []string{"payments.item.created", "orders.item.deleted"}
	m.Services["catalog"] = cat
	return m
}

func TestBrokerUsers(t *testing.T) {
	m := subscribed()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	users := m.BrokerUsers()
	var names []string
	byName := map[string]BrokerUser{}
	for _, u := range users {
		names = append(names, u.Name)
		byName[u.Name] = u
	}
	if want := []string{"catalog", "msx-events", "orders", "payments"}; !slices.Equal(names, want) {
		t.Fatalf("users %v, want %v", names, want)
	}
	api := "$JS.API."
	streams := []string{api + "STREAM.CREATE.EVENTS", api + "STREAM.UPDATE.EVENTS", api + "STREAM.CREATE.DEADLETTER", api + "STREAM.UPDATE.DEADLETTER"}
	// orders subscribes to nothing: it publishes its own events, no dead
	// letter, creates no consumer.
	if got, want := byName["orders"].Publish, append(slices.Clone(streams), "events.orders.>"); !slices.Equal(got, want) {
		t.Errorf("orders publishes\n %q, want\n %q", got, want)
	}
	if got := byName["orders"].Subscribe; !slices.Equal(got, []string{"_INBOX_orders.>"}) {
		t.Errorf("orders subscribes %q", got)
	}
	// catalog: one consumer per topic, its filter in the API subject.
	want := append(slices.Clone(streams), "events.catalog.>", "deadletter.catalog.>",
		api+"CONSUMER.CREATE.EVENTS.catalog_orders_item_deleted.events.orders.item.deleted",
		api+"CONSUMER.MSG.NEXT.EVENTS.catalog_orders_item_deleted",
		api+"CONSUMER.INFO.EVENTS.catalog_orders_item_deleted",
		"$JS.ACK.EVENTS.catalog_orders_item_deleted.>",
		api+"CONSUMER.CREATE.EVENTS.catalog_payments_item_created.events.payments.item.created",
		api+"CONSUMER.MSG.NEXT.EVENTS.catalog_payments_item_created",
		api+"CONSUMER.INFO.EVENTS.catalog_payments_item_created",
		"$JS.ACK.EVENTS.catalog_payments_item_created.>",
	)
	if got := byName["catalog"].Publish; !slices.Equal(got, want) {
		t.Errorf("catalog publishes\n %q, want\n %q", got, want)
	}
	// Nobody may publish another's events, or make a consumer without a
	// filter of its own subscriptions, or subscribe to any event subject
	// or anyone's replies.
	for _, u := range users {
		for _, s := range u.Publish {
			if strings.HasPrefix(s, "events.") && s != "events."+u.Name+".>" {
				t.Errorf("%s may publish %s", u.Name, s)
			}
			if strings.HasPrefix(s, api+"CONSUMER.CREATE.") && !strings.Contains(s, ".events.") {
				t.Errorf("%s may create a consumer with any filter: %s", u.Name, s)
			}
			if strings.Contains(s, "*") || s == ">" || strings.Contains(s, "DELETE") || strings.Contains(s, "PURGE") {
				t.Errorf("%s may publish %s", u.Name, s)
			}
		}
		if !slices.Equal(u.Subscribe, []string{"_INBOX_" + u.Name + ".>"}) {
			t.Errorf("%s subscribes %q", u.Name, u.Subscribe)
		}
	}
	// msx events reads, message by message, and nothing else.
	if got := byName["msx-events"].Publish; !slices.Equal(got, []string{api + "STREAM.INFO.EVENTS", api + "STREAM.MSG.GET.EVENTS"}) {
		t.Errorf("msx events publishes %q", got)
	}
}

func TestConsumerName(t *testing.T) {
	c := ConsumerName("ledger-2", "orders-x.item.created")
	if c != "ledger-2_orders-x_item_created" || ConsumerService(c) != "ledger-2" {
		t.Errorf("ConsumerName = %q, its service %q", c, ConsumerService(c))
	}
	if ConsumerService("payments") != "" {
		t.Error("a name of no topic has a service")
	}
}

func TestPlanBrokerCredentials(t *testing.T) {
	m := subscribed()
	p := mustPlan(t, m, PlanOptions{})
	b := p.Container(KindNATS)
	// The broker: its configuration alone, in a volume of its own (no
	// mount at SecretsDir, no users' volume), not root, its store made.
	if !slices.Equal(b.Secrets, []SecretRef{{Name: "nats-server.conf", File: "nats-server.conf", Gen: GenBrokerConfig}}) {
		t.Errorf("broker secrets %+v", b.Secrets)
	}
	if b.User != ContainerUser || b.User == "0" || b.User == "root" {
		t.Errorf("broker user %q", b.User)
	}
	if !slices.Equal(b.OwnedDirs, []string{"/data/store"}) {
		t.Errorf("broker owned dirs %v", b.OwnedDirs)
	}
	for _, mt := range b.Mounts {
		if strings.HasPrefix(mt.Target, SecretsDir) {
			t.Errorf("broker mounts a shared secrets volume: %+v", mt)
		}
	}
	if !reflect.DeepEqual(p.BrokerUsers, m.BrokerUsers()) {
		t.Errorf("plan's broker users %+v", p.BrokerUsers)
	}
	// Each user: its own seed, as a file, its path in the environment.
	for _, n := range []string{"orders", "payments", "catalog"} {
		c := p.Container(n)
		want := SecretRef{Name: "nats-" + n + ".nk", File: "nats.nk", Gen: GenNKey}
		if !slices.Contains(c.Secrets, want) {
			t.Errorf("%s secrets %+v, want %+v", n, c.Secrets, want)
		}
		if !slices.Contains(c.Env, "NATS_NKEY_FILE=/run/secrets/nats.nk") {
			t.Errorf("%s env %v", n, c.Env)
		}
		for _, e := range c.Env {
			if strings.Contains(e, "SU") && strings.Contains(e, "NKEY=") {
				t.Errorf("%s has a seed in its environment: %s", n, e)
			}
		}
	}
	// payments' database password stays in the database's shared volume.
	pay := p.Container("payments")
	if !slices.ContainsFunc(pay.Mounts, func(mt Mount) bool { return mt.Target == SecretsDir+"/postgres" }) {
		t.Errorf("payments mounts %+v", pay.Mounts)
	}
	// A subset does not change the broker.
	sub := mustPlan(t, subscribed(), PlanOptions{Services: []string{"orders"}})
	if sub.Container(KindNATS).Hash() != b.Hash() || !reflect.DeepEqual(sub.BrokerUsers, p.BrokerUsers) {
		t.Errorf("up of a subset changes the broker")
	}
	// msx events' reader gets its own read-only user.
	tap := m.EventTap("x", "", false, "1")
	if !slices.Equal(tap.Secrets, []SecretRef{BrokerSeed(EventTapName)}) || !slices.Contains(tap.Env, "NATS_NKEY_FILE=/run/secrets/nats.nk") {
		t.Errorf("tap secrets %+v env %v", tap.Secrets, tap.Env)
	}
}

func TestPlanNoBrokerNoUsers(t *testing.T) {
	p := mustPlan(t, shop(), PlanOptions{})
	if p.BrokerUsers != nil {
		t.Errorf("no broker, yet users %+v", p.BrokerUsers)
	}
	for _, c := range p.Containers {
		if slices.ContainsFunc(c.Secrets, func(s SecretRef) bool { return s.Gen != GenPassword }) {
			t.Errorf("%s has broker secrets %+v", c.Service, c.Secrets)
		}
	}
}

func TestBrokerConfig(t *testing.T) {
	m := subscribed()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	key := func(u string) (string, error) { return "U" + strings.ToUpper(u), nil }
	const path = "0123456789abcdef0123"
	a, err := BrokerConfig(m.BrokerUsers(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BrokerConfig(m.BrokerUsers(), path, key)
	if a != b {
		t.Fatal("two renderings differ")
	}
	for _, want := range []string{
		`listen: "0.0.0.0:4222"`,
		"http_port: 8222",
		// The monitoring port answers under the secret path alone.
		`http_base_path: "/0123456789abcdef0123"`,
		`store_dir: "/data/store"`,
		`nkey: "UORDERS"`,
		`nkey: "UMSX-EVENTS"`,
		`publish: { allow: ["$JS.API.STREAM.CREATE.EVENTS", "$JS.API.STREAM.UPDATE.EVENTS", "$JS.API.STREAM.CREATE.DEADLETTER", "$JS.API.STREAM.UPDATE.DEADLETTER", "events.orders.>"] }`,
		`subscribe: { allow: ["_INBOX_orders.>"] }`,
	} {
		if !strings.Contains(a, want) {
			t.Errorf("config lacks %s:\n%s", want, a)
		}
	}
	if strings.Contains(a, "password") || strings.Contains(a, "no_auth_user") {
		t.Errorf("config has a password or an anonymous user:\n%s", a)
	}
	bad := errors.New("no seed")
	if _, err := BrokerConfig(m.BrokerUsers(), path, func(string) (string, error) { return "", bad }); !errors.Is(err, bad) {
		t.Errorf("error %v", err)
	}
	// A path that is no plain segment would escape the quotes or the URL;
	// a short one could be guessed.
	for _, p := range []string{"", "short", "0123456789abcdef/x", `0123456789abcdef"x`, "0123456789abcdef 12", "../0123456789abcdef"} {
		if _, err := BrokerConfig(m.BrokerUsers(), p, key); err == nil {
			t.Errorf("monitoring path %q accepted", p)
		}
	}
}
