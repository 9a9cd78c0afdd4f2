package devenv

import (
	"cmp"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func shop() *Manifest {
	return &Manifest{
		Project: "shop",
		Module:  "example.com/shop",
		Gateway: Gateway{Port: 8080},
		Dir:     "/home/ann/shop",
		Services: map[string]Service{
			"orders":   {Port: 8081, DB: DBSQLite, DependsOn: []string{"payments", "catalog"}},
			"payments": {Port: 8082, DB: DBPostgres},
			"catalog":  {Port: 8083, DB: DBNone, Protected: true},
		},
	}
}

func built(m *Manifest) map[string]string {
	out := map[string]string{GatewayName: "msx-shop/gateway:1", CollectorName: "msx-shop/collector:1"}
	for n := range m.Services {
		out[n] = "msx-shop/" + n + ":1"
	}
	return out
}

// planOfYAML is the plan of the msx.yaml text y, for a workspace at /w/shop.
func planOfYAML(t *testing.T, y string) *Plan {
	t.Helper()
	m, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	m.Dir = "/w/shop"
	p, err := MakePlan(m, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustPlan(t *testing.T, m *Manifest, opts PlanOptions) *Plan {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Resolve(built(m)); err != nil {
		t.Fatal(err)
	}
	return p
}

func services(p *Plan) []string {
	var out []string
	for _, c := range p.Containers {
		out = append(out, c.Service)
	}
	return out
}

func TestPlanOrder(t *testing.T) {
	tests := []struct {
		name string
		only []string
		want []string
	}{
		{"all", nil, []string{"collector", "payments-db", "catalog", "payments", "orders", "gateway"}},
		{"one with deps", []string{"orders"}, []string{"collector", "payments-db", "catalog", "payments", "orders", "gateway"}},
		{"a leaf", []string{"catalog"}, []string{"collector", "catalog", "gateway"}},
		{"a db service", []string{"payments"}, []string{"collector", "payments-db", "payments", "gateway"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPlan(t, shop(), PlanOptions{Services: tt.only})
			if got := services(p); !slices.Equal(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanForwardAuthorizationOnlyWhereSet(t *testing.T) {
	p := planOfYAML(t, `
project: shop
module: example.com/shop
gateway: {port: 8080}
services:
  orders: {port: 8081, db: none, forward_authorization: true}
  catalog: {port: 8082, db: none}
`)
	var routes string
	for _, kv := range p.Container(GatewayName).Env {
		if v, ok := strings.CutPrefix(kv, "MSX_ROUTES="); ok {
			routes = v
		}
	}
	// Only where set: a gateway generated before the setting refuses
	// unknown fields.
	if strings.Count(routes, "forward_authorization") != 1 || !strings.Contains(routes, `"name":"orders","prefix":"/api/orders/","upstream":"http://orders:8081","protected":false,"forward_authorization":true`) {
		t.Errorf("MSX_ROUTES = %s, want forward_authorization on orders only", routes)
	}
}

func TestPlanContainers(t *testing.T) {
	p := mustPlan(t, shop(), PlanOptions{MsxVersion: "1.2.3"})
	env := func(service string) map[string]string {
		out := map[string]string{}
		for _, kv := range p.Container(service).Env {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
		return out
	}
	tests := []struct {
		service, key, want string
	}{
		{"orders", "MSX_SERVICE", "orders"},
		{"orders", "PORT", "8081"},
		{"orders", "LISTEN_ADDR", "0.0.0.0:8081"},
		{"orders", "PAYMENTS_URL", "http://payments:8082"},
		{"orders", "CATALOG_URL", "http://catalog:8083"},
		{"orders", "SQLITE_PATH", "/data/orders.db"},
		{"orders", "OTEL_SERVICE_NAME", "orders"},
		{"orders", "LOG_LEVEL", "info"},
		{"orders", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"},
		{"catalog", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"},
		{"gateway", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"},
		{"collector", "MAX_SPANS", "200000"},
		{"collector", "DATA_DIR", "/data"},
		{"collector", "FORWARD_ENDPOINT", ""},
		{"orders", "DRAIN_DELAY", "0s"},
		{"payments", "DATABASE_URL", "postgres://payments@payments-db:5432/payments?sslmode=disable"},
		{"payments", "DATABASE_PASSWORD_FILE", "/run/secrets/postgres/db-password"},
		{"payments", "SQLITE_PATH", ""},
		{"catalog", "SQLITE_PATH", ""},
		{"catalog", "DATABASE_URL", ""},
		{"gateway", "PORT", "8080"},
		{"gateway", "LISTEN_ADDR", "0.0.0.0:8080"},
		{"gateway", "MSX_SERVICE", "gateway"},
		// 5 timeouts in a row open a breaker: at 10s each, within a minute.
		{"gateway", "UPSTREAM_TIMEOUT", "10s"},
		{"payments-db", "POSTGRES_PASSWORD", ""},
		{"payments-db", "POSTGRES_PASSWORD_FILE", "/run/secrets/db-password"},
		{"payments-db", "POSTGRES_USER", "payments"},
		{"payments-db", "POSTGRES_DB", "payments"},
		{"payments-db", "PGDATA", "/var/lib/postgresql/data/pgdata"},
	}
	for _, tt := range tests {
		if got := env(tt.service)[tt.key]; got != tt.want {
			t.Errorf("%s: %s = %q, want %q", tt.service, tt.key, got, tt.want)
		}
	}
	for _, c := range p.Containers {
		if !slices.IsSorted(c.Env) {
			t.Errorf("%s: env not sorted: %v", c.Service, c.Env)
		}
		if c.Name != "shop-"+c.Service {
			t.Errorf("container name %q", c.Name)
		}
		for k, want := range map[string]string{
			LabelProject: "shop", LabelService: c.Service, LabelWorkspace: "/home/ann/shop", LabelVersion: "1.2.3",
		} {
			if c.Labels[k] != want {
				t.Errorf("%s: label %s = %q, want %q", c.Service, k, c.Labels[k], want)
			}
		}
		if c.Hash() == "" {
			t.Errorf("%s: no config hash", c.Service)
		}
	}

	var routes []route
	if err := json.Unmarshal([]byte(env("gateway")["MSX_ROUTES"]), &routes); err != nil {
		t.Fatal(err)
	}
	want := []route{
		{Name: "catalog", Prefix: "/api/catalog/", Upstream: "http://catalog:8083", Protected: true},
		{Name: "orders", Prefix: "/api/orders/", Upstream: "http://orders:8081"},
		{Name: "payments", Prefix: "/api/payments/", Upstream: "http://payments:8082"},
	}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("routes = %+v, want %+v", routes, want)
	}

	gw := p.Container(GatewayName)
	if gw.HostPort != 8080 || gw.Port != 8080 {
		t.Errorf("gateway ports %d->%d", gw.HostPort, gw.Port)
	}
	if o := p.Container("orders"); o.HostPort != 0 || o.Port != 8081 || o.Ready.HTTPPath != "/readyz" {
		t.Errorf("orders: %+v", o)
	}
	if o := p.Container("orders"); len(o.Mounts) != 1 || o.Mounts[0].Target != "/data" || o.Mounts[0].Volume != VolumeName("shop", "orders", "/home/ann/shop") {
		t.Errorf("orders mounts: %+v", o.Mounts)
	}
	if !slices.Equal(p.Container("orders").Networks[0].Aliases, []string{"orders"}) {
		t.Errorf("orders aliases: %+v", p.Container("orders").Networks)
	}
}

func TestPlanNetworks(t *testing.T) {
	p := mustPlan(t, shop(), PlanOptions{})
	var got []string
	for _, n := range p.Networks {
		got = append(got, n.Name)
		if n.Labels[LabelProject] != "shop" || n.Labels[LabelWorkspace] != "/home/ann/shop" {
			t.Errorf("network %s labels %v", n.Name, n.Labels)
		}
	}
	if want := []string{"shop_default", "shop_payments-db", "shop_payments-db-host"}; !slices.Equal(got, want) {
		t.Errorf("networks = %v, want %v", got, want)
	}
	// The database is reachable only from its service.
	onDB := func(c Container) bool {
		return slices.ContainsFunc(c.Networks, func(a Attachment) bool { return a.Network == "shop_payments-db" })
	}
	for _, c := range p.Containers {
		if want := c.Service == "payments" || c.Service == "payments-db"; onDB(c) != want {
			t.Errorf("%s on the database network: %v, want %v", c.Service, onDB(c), want)
		}
	}
	// Its own way out, for msx db's published port, is its alone.
	if db := p.Container("payments-db"); len(db.Networks) != 2 || db.Networks[0].Network != "shop_payments-db-host" ||
		!db.Publish || db.HostPort != 0 || len(db.Ready.Healthcheck) == 0 {
		t.Errorf("database: %+v", db)
	}
	var vols []string
	for _, v := range p.Volumes {
		vols = append(vols, v.Name)
	}
	if want := []string{
		VolumeName("shop", CollectorName, "/home/ann/shop"),
		VolumeName("shop", "payments-db", "/home/ann/shop"),
		SecretsVolumeName("shop", "payments-db", "/home/ann/shop"),
		VolumeName("shop", "orders", "/home/ann/shop"),
	}; !slices.Equal(vols, want) {
		t.Errorf("volumes = %v, want %v", vols, want)
	}
}

func TestPlanHash(t *testing.T) {
	base := mustPlan(t, shop(), PlanOptions{MsxVersion: "1"})
	tests := []struct {
		name    string
		change  func(m *Manifest, o *PlanOptions)
		changed []string
	}{
		{"nothing", func(*Manifest, *PlanOptions) {}, nil},
		{"msx version only", func(_ *Manifest, o *PlanOptions) { o.MsxVersion = "2" }, nil},
		{"postgres image", func(m *Manifest, _ *PlanOptions) { m.Images = map[string]string{"postgres": "local/pg:16"} }, []string{"payments-db"}},
		{"gateway port", func(m *Manifest, _ *PlanOptions) { m.Gateway.Port = 9090 }, []string{"gateway"}},
		{"subset keeps the gateway's routes", func(_ *Manifest, o *PlanOptions) { o.Services = []string{"orders"} }, nil},
		// payments alone really is a smaller set: the gateway then depends
		// on fewer containers, which is start order, not its configuration.
		{"smaller subset keeps the gateway", func(_ *Manifest, o *PlanOptions) { o.Services = []string{"payments"} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := shop()
			o := PlanOptions{MsxVersion: "1"}
			tt.change(m, &o)
			p := mustPlan(t, m, o)
			var changed []string
			for _, c := range p.Containers {
				if c.Hash() != base.Container(c.Service).Hash() {
					changed = append(changed, c.Service)
				}
			}
			if !slices.Equal(changed, tt.changed) {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
		})
	}
}

func TestPlanSubsetKeepsTheGatewayHash(t *testing.T) {
	// up payments, then up: the second plan starts more containers and the
	// gateway waits for more of them, but it is the same gateway.
	sub := mustPlan(t, shop(), PlanOptions{Services: []string{"payments"}})
	full := mustPlan(t, shop(), PlanOptions{})
	if got, want := services(sub), []string{CollectorName, "payments-db", "payments", GatewayName}; !slices.Equal(got, want) {
		t.Fatalf("subset plan = %v, want %v", got, want)
	}
	gs, gf := sub.Container(GatewayName), full.Container(GatewayName)
	if slices.Equal(gs.DependsOn, gf.DependsOn) {
		t.Fatalf("the gateway depends on %v in both plans: not a smaller subset", gs.DependsOn)
	}
	if gs.Hash() != gf.Hash() {
		t.Errorf("gateway hash %s after up payments, %s after up: a second up would recreate it", gs.Hash(), gf.Hash())
	}
	for _, c := range sub.Containers {
		if c.Hash() != full.Container(c.Service).Hash() {
			t.Errorf("%s: hash changed with the selection", c.Service)
		}
	}
}

func TestPlanSameNameOtherFolder(t *testing.T) {
	a := mustPlan(t, shop(), PlanOptions{})
	m := shop()
	m.Dir = "/home/bob/shop"
	b := mustPlan(t, m, PlanOptions{})
	if a.Volumes[0].Name == b.Volumes[0].Name {
		t.Errorf("two folders share volume %s", a.Volumes[0].Name)
	}
	if a.Container("orders").Labels[LabelWorkspace] == b.Container("orders").Labels[LabelWorkspace] {
		t.Error("two folders share a workspace label")
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		m    func() *Manifest
		opts PlanOptions
		want string
	}{
		{"unknown service", shop, PlanOptions{Services: []string{"nope"}}, "nope is not a service"},
		{"cycle", func() *Manifest {
			m := shop()
			m.Services["catalog"] = Service{Port: 8083, DB: DBNone, DependsOn: []string{"orders"}}
			return m
		}, PlanOptions{}, "dependency cycle: catalog -> orders -> catalog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m()
			_, err := MakePlan(m, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			var ce *CycleError
			if tt.name == "cycle" && !errors.As(err, &ce) {
				t.Errorf("not a CycleError: %T", err)
			}
		})
	}
}

func TestPlanNoServices(t *testing.T) {
	m := &Manifest{Project: "empty", Module: "m", Dir: "/x", Services: map[string]Service{}}
	p := mustPlan(t, m, PlanOptions{})
	if got := services(p); !slices.Equal(got, []string{"collector", "gateway"}) {
		t.Errorf("containers = %v", got)
	}
	if !strings.Contains(strings.Join(p.Container(GatewayName).Env, " "), "MSX_ROUTES=[]") {
		t.Errorf("env = %v", p.Container(GatewayName).Env)
	}
}

func TestPlanCollector(t *testing.T) {
	m := shop()
	m.Traces = Traces{MaxSpans: 5000, Forward: "http://jaeger:4318"}
	p := mustPlan(t, m, PlanOptions{})
	c := p.Container(CollectorName)
	if c == nil {
		t.Fatal("no collector planned")
	}
	env := strings.Join(c.Env, " ")
	for _, want := range []string{"MAX_SPANS=5000", "FORWARD_ENDPOINT=http://jaeger:4318", "LISTEN_ADDR=0.0.0.0:4318"} {
		if !strings.Contains(env, want) {
			t.Errorf("collector env %v lacks %s", c.Env, want)
		}
	}
	if c.Role != RoleCollector || c.Labels[LabelRole] != RoleCollector || c.HostPort != 0 || c.Port != CollectorPort ||
		c.Ready.HTTPPath != "/healthz" || len(c.Mounts) != 1 || c.Mounts[0].Target != DataDir || c.User != ContainerUser {
		t.Errorf("collector: %+v", c)
	}
	// Every program starts after the collector, so no span is lost.
	for _, s := range []string{"orders", "catalog", GatewayName} {
		if !slices.Contains(p.Container(s).DependsOn, CollectorName) {
			t.Errorf("%s does not depend on the collector: %v", s, p.Container(s).DependsOn)
		}
	}
	for _, tt := range []struct {
		tr   Traces
		want string
	}{
		{Traces{MaxSpans: -1}, "traces.max_spans"},
		{Traces{Forward: "jaeger:4318"}, "traces.forward"},
		{Traces{Forward: "ftp://x"}, "traces.forward"},
	} {
		m := shop()
		m.Traces = tt.tr
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error about %s", tt.tr, err, tt.want)
		}
	}
}

func TestPlanResolveHashesTheBuiltImage(t *testing.T) {
	m := shop()
	a := mustPlan(t, m, PlanOptions{})
	b, err := MakePlan(m, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := built(m)
	img["catalog"] = "msx-shop/catalog:2"
	if err := b.Resolve(img); err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Containers {
		if changed := c.Hash() != a.Container(c.Service).Hash(); changed != (c.Service == "catalog") {
			t.Errorf("%s: hash changed = %v", c.Service, changed)
		}
	}
	if got := b.Container("catalog").ResolvedImage; got != "msx-shop/catalog:2" {
		t.Errorf("catalog runs %q", got)
	}
	if got := b.Container("payments-db").ResolvedImage; got != "postgres:16" {
		t.Errorf("payments-db runs %q", got)
	}
	delete(img, "orders")
	c, _ := MakePlan(m, PlanOptions{})
	if err := c.Resolve(img); err == nil || !strings.Contains(err.Error(), "no image was built for orders") {
		t.Errorf("resolve without orders: %v", err)
	}
}

func TestPlanNeedsNoBuildAndNoSecret(t *testing.T) {
	p, err := MakePlan(shop(), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Container("orders").Image; got != (ImageRef{Build: "orders", Pkg: "./services/orders"}) {
		t.Errorf("orders image = %+v", got)
	}
	if got := p.Container("payments-db").Image; got != (ImageRef{Ref: "postgres:16", Kind: "postgres"}) {
		t.Errorf("payments-db image = %+v", got)
	}
	want := []string{"identity-catalog.ed25519", "identity-gateway.ed25519", "identity-gateway.ed25519.pub",
		"identity-orders.ed25519", "identity-orders.ed25519.pub", "identity-payments.ed25519", "payments-db-db-password"}
	if got := p.Secrets(); !slices.Equal(got, want) {
		t.Errorf("secrets = %v, want %v", got, want)
	}
}

// TestPlanKinds checks what each kind of the table plans for an instance:
// image, environment, readiness, volumes, network, secrets.
func TestPlanKinds(t *testing.T) {
	for _, k := range Kinds {
		t.Run(k.Name, func(t *testing.T) {
			m := &Manifest{Project: "shop", Module: "m", Dir: "/w", Services: map[string]Service{}}
			// A manifest whose orders uses the kind: orders with each
			// database, or orders publishing to a subscriber (the broker).
			// Events is what Validate sets for a publisher.
			setups := []map[string]Service{{
				"orders": {Port: 8081, DB: "postgres", Events: true},
				"ledger": {Port: 8082, DB: "sqlite", Subscribes: []string{"orders.item.created"}},
			}}
			for _, db := range DBKinds {
				setups = append(setups, map[string]Service{"orders": {Port: 8081, DB: db}})
			}
			i := slices.IndexFunc(setups, func(s map[string]Service) bool { return k.Uses(s["orders"]) })
			if i < 0 {
				t.Fatalf("no manifest this test makes uses the kind %s: add one to the setups", k.Name)
			}
			m.Services = setups[i]
			if k.Build == "" {
				m.Images = map[string]string{k.Name: "local/" + k.Name + ":1"}
			}
			p := mustPlan(t, m, PlanOptions{})
			inst := instance(k, "orders")
			if !k.PerService {
				inst = instance(k, "")
			}
			c := p.Container(inst.Service)
			if c == nil {
				t.Fatalf("no container %s in %v", inst.Service, services(p))
			}
			switch {
			case k.Build != "" && (c.Kind != "" || c.Labels[LabelKind] != ""):
				t.Errorf("a program msx builds has kind %q, label %q", c.Kind, c.Labels[LabelKind])
			case k.Build == "" && (c.Kind != k.Name || c.Labels[LabelKind] != k.Name):
				t.Errorf("kind %q, label %q", c.Kind, c.Labels[LabelKind])
			case k.Build != "":
				// A program msx compiles, run from its swap volume as the
				// services are.
				if c.Image != (ImageRef{Build: k.Build, Pkg: "."}) || c.ResolvedImage != "msx-shop/"+k.Build+":1" || c.SwapDir != SwapDir {
					t.Errorf("image %+v resolved %q swap dir %q", c.Image, c.ResolvedImage, c.SwapDir)
				}
			case c.Image.Ref != "local/"+k.Name+":1" || c.ResolvedImage != c.Image.Ref:
				t.Errorf("image %+v resolved %q", c.Image, c.ResolvedImage)
			}
			if want := cmp.Or(k.Role, RoleInfra); c.Role != want || c.Labels[LabelRole] != want {
				t.Errorf("role %q, label %q, want %q", c.Role, c.Labels[LabelRole], want)
			}
			if k.All {
				gw := p.Container(GatewayName)
				for key, v := range k.Client(inst) {
					if !slices.Contains(gw.Env, key+"="+v) {
						t.Errorf("gateway env lacks %s=%s", key, v)
					}
				}
				if !slices.Contains(gw.DependsOn, inst.Service) {
					t.Errorf("the gateway does not wait for %s: %v", inst.Service, gw.DependsOn)
				}
			}
			// The port msx reads on 127.0.0.1: the monitoring endpoint
			// when the kind has one (the broker), else the kind's port.
			if want := cmp.Or(k.MonitorPort, k.Port); c.HostPort != 0 || c.Port != want {
				t.Errorf("ports %d->%d, want an ephemeral host port to %d", c.HostPort, c.Port, want)
			}
			if !slices.Equal(c.Ready.Healthcheck, k.Ready(inst).Healthcheck) || c.Ready.HTTPPath != k.Ready(inst).HTTPPath {
				t.Errorf("ready = %+v", c.Ready)
			}
			for key, v := range k.Env(inst) {
				if !slices.Contains(c.Env, key+"="+v) {
					t.Errorf("env lacks %s=%s: %v", key, v, c.Env)
				}
			}
			svcC := p.Container("orders")
			for key, v := range k.Client(inst) {
				if !slices.Contains(svcC.Env, key+"="+v) {
					t.Errorf("service env lacks %s=%s", key, v)
				}
			}
			if !slices.Contains(svcC.DependsOn, inst.Service) {
				t.Errorf("service does not wait for %s: %v", inst.Service, svcC.DependsOn)
			}
			if (k.DataDir != "") != slices.ContainsFunc(c.Mounts, func(mt Mount) bool { return mt.Target == k.DataDir && !mt.ReadOnly }) {
				t.Errorf("data mount: %+v", c.Mounts)
			}
			if len(k.Secrets) > 0 {
				if len(c.Secrets) != len(k.Secrets) {
					t.Errorf("secrets = %+v", c.Secrets)
				}
				sv := SecretsVolumeName("shop", inst.Service, "/w")
				if !slices.Contains(c.Mounts, Mount{Volume: sv, Target: SecretsDir}) {
					t.Errorf("instance mounts %+v", c.Mounts)
				}
				if !slices.Contains(svcC.Mounts, Mount{Volume: sv, Target: SecretsDir + "/" + k.Name, ReadOnly: true}) {
					t.Errorf("service mounts %+v", svcC.Mounts)
				}
				for _, kv := range append(slices.Clone(c.Env), svcC.Env...) {
					if strings.Contains(strings.ToUpper(kv), "PASSWORD=") {
						t.Errorf("a secret by value in the environment: %s", kv)
					}
				}
			}
			if k.Private {
				priv := PrivateNetworkName("shop", inst.Service)
				want := []Attachment{{Network: priv, Aliases: []string{inst.Service}}}
				if k.Publish {
					want = append([]Attachment{{Network: HostNetworkName("shop", inst.Service)}}, want...)
				}
				if !slices.EqualFunc(c.Networks, want, func(a, b Attachment) bool { return a.Network == b.Network && slices.Equal(a.Aliases, b.Aliases) }) {
					t.Errorf("instance networks %+v, want %+v", c.Networks, want)
				}
				for _, other := range p.Containers {
					if other.Service != inst.Service && slices.ContainsFunc(other.Networks, func(a Attachment) bool { return a.Network == HostNetworkName("shop", inst.Service) }) {
						t.Errorf("%s joins the instance's host network", other.Service)
					}
				}
				for _, n := range p.Networks {
					if n.Name == priv && !n.Internal {
						t.Errorf("network %s is not internal", priv)
					}
				}
				for _, other := range p.Containers {
					on := slices.ContainsFunc(other.Networks, func(a Attachment) bool { return a.Network == priv })
					if on != (other.Service == "orders" || other.Service == inst.Service) {
						t.Errorf("%s on %s: %v", other.Service, priv, on)
					}
				}
			}
		})
	}
}

func TestManifestImages(t *testing.T) {
	good := "project: shop\nmodule: m.com/shop\nservices: {}\nimages:\n  postgres: local/postgres:16\n"
	m, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Image(&Postgres); got != "local/postgres:16" {
		t.Errorf("image = %q", got)
	}
	m.Images = nil
	if got := m.Image(&Postgres); got != "postgres:16" {
		t.Errorf("default image = %q", got)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"images:\n  mysql: x\n", "images.mysql is not a kind msx runs; known kinds: nats, postgres"},
		{"images:\n  collector: x\n", "images.collector is not a kind msx runs; known kinds: nats, postgres"},
		{"images:\n  postgres: \"-x\"\n", "not an image reference"},
		{"images:\n  postgres: \"a b\"\n", "not an image reference"},
	} {
		_, err := Parse([]byte("project: shop\nmodule: m.com/shop\nservices: {}\n" + bad.yaml))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: err = %v, want %q", bad.yaml, err, bad.want)
		}
	}
}
func TestPlanHardensAndPublishesOnlyWhatIsAsked(t *testing.T) {
	p := planOfYAML(t, `project: shop
module: example.com/shop
services:
  orders: {port: 8081, db: none, expose: true, limits: {memory_mb: 128, pids: 64}}
  catalog: {port: 8082, db: none, protected: true}
`)
	orders, catalog, gw := p.Container("orders"), p.Container("catalog"), p.Container(GatewayName)
	if !orders.Publish || catalog.Publish || !gw.Publish {
		t.Errorf("publish: orders %v catalog %v gateway %v; want true false true", orders.Publish, catalog.Publish, gw.Publish)
	}
	for _, c := range []*Container{orders, catalog, gw} {
		h := c.Hardening
		if c.AdminPort != AdminPort || c.Ready.Port != AdminPort || h == nil || !h.ReadOnlyRootFS || !h.NoNewPrivileges ||
			len(h.CapDrop) != 1 || h.CapDrop[0] != "ALL" || h.Tmpfs["/tmp"] == "" ||
			h.RestartOnFailure == 0 || len(h.Healthcheck) == 0 || h.Healthcheck[0] != "CMD" {
			t.Errorf("%s: admin %d, hardening %+v", c.Service, c.AdminPort, h)
		}
	}
	if orders.Hardening.MemoryBytes != 128<<20 || orders.Hardening.Pids != 64 || catalog.Hardening.MemoryBytes != DefaultMemoryMB<<20 {
		t.Errorf("limits: orders %+v catalog %+v", orders.Hardening, catalog.Hardening)
	}
	if !slices.Contains(catalog.Env, "MSX_PROTECTED=1") || slices.Contains(orders.Env, "MSX_PROTECTED=1") || !slices.Contains(orders.Env, "MSX_FAULTS=1") {
		t.Errorf("env: orders %v catalog %v", orders.Env, catalog.Env)
	}
}

func TestManifestRefusesBadEdgeSettings(t *testing.T) {
	for _, y := range []string{
		"gateway: {port: 8080, rate_limit: -1}",
		"gateway: {port: 8080, trusted_proxies: [nonsense]}",
		"gateway: {port: 8080, cors: ['a,b']}",
		"services: {orders: {port: 8081, db: none, limits: {memory_mb: 1}}}",
		"services: {orders: {port: 9901, db: none}}",
		"gateway: {port: 8080, jwt: {algorithms: [none]}}",
		"gateway: {port: 8080, jwt: {algorithms: [rs256]}}",
		"gateway: {port: 8080, jwt: {issuer: \"a\\nb\"}}",
	} {
		if _, err := Parse([]byte("project: shop\nmodule: example.com/shop\n" + y + "\n")); err == nil {
			t.Errorf("accepted %s", y)
		}
	}
}

func TestPlanGatewayKeysAreFilesOnlyWhenPresent(t *testing.T) {
	identity := SecretRef{Name: "identity-gateway.ed25519", File: "identity.key"}
	without := mustPlan(t, shop(), PlanOptions{}).Container(GatewayName)
	if !slices.Equal(without.Secrets, []SecretRef{identity}) {
		t.Errorf("no keys: secrets %v, want the identity key alone", without.Secrets)
	}
	m := shop()
	m.Gateway.JWT = JWT{Issuer: "https://id.example.com", Audience: "shop"}
	with := mustPlan(t, m, PlanOptions{GatewayKeys: []string{"gateway-api-keys", "gateway-jwt.pem"}}).Container(GatewayName)
	want := []SecretRef{{Name: "gateway-jwt.pem", File: "jwt.pem"}, {Name: "gateway-api-keys", File: "api-keys"}, identity}
	if !slices.Equal(with.Secrets, want) || !slices.Contains(with.Env, "SECRETS_DIR="+SecretsDir) {
		t.Errorf("keys: secrets %v, env %v; want %v and SECRETS_DIR", with.Secrets, with.Env, want)
	}
	// A key added to .msx/ recreates the gateway, to give it the key.
	if with.Hash() == without.Hash() {
		t.Error("the gateway's hash does not change with its keys")
	}
	// Only the gateway gets them; nothing else changes.
	for _, c := range mustPlan(t, shop(), PlanOptions{GatewayKeys: []string{"gateway-api-keys"}}).Containers {
		if c.Service != GatewayName && slices.ContainsFunc(c.Secrets, func(s SecretRef) bool { return strings.HasPrefix(s.Name, "gateway-") }) {
			t.Errorf("%s got secrets %v", c.Service, c.Secrets)
		}
	}
}

func TestPlanGatewayJWTSettings(t *testing.T) {
	p := planOfYAML(t, "project: shop\nmodule: example.com/shop\ngateway: {port: 8080, jwt: {algorithms: [RS256, EdDSA], issuer: https://id.example.com, audience: shop}}\n")
	env := p.Container(GatewayName).Env
	for _, want := range []string{"JWT_ALGORITHMS=RS256,EdDSA", "JWT_ISSUER=https://id.example.com", "JWT_AUDIENCE=shop"} {
		if !slices.Contains(env, want) {
			t.Errorf("gateway env lacks %s: %v", want, env)
		}
	}
}

// TestPlanReplicas plans a service with three replicas: three containers of
// one build, each with an alias of its own beside the service's, one
// database, dependents and the gateway waiting for all three, and the
// gateway's route listing them.
func TestPlanReplicas(t *testing.T) {
	p := planOfYAML(t, `project: shop
module: example.com/shop
services:
  orders: {port: 8081, db: postgres, replicas: 3}
  checkout: {port: 8082, db: none, depends_on: [orders]}
`)
	want := []string{"orders", "orders-2", "orders-3"}
	var got []Container
	for _, c := range p.Containers {
		if c.Image.Build == "orders" {
			got = append(got, c)
		}
	}
	if len(got) != 3 {
		t.Fatalf("containers of orders' build: %v", services(p))
	}
	for i, c := range got {
		alias := []string{"orders-1", "orders-2", "orders-3"}[i]
		if c.Service != want[i] || c.Name != "shop-"+want[i] {
			t.Errorf("replica %d is %s (%s), want %s", i+1, c.Service, c.Name, want[i])
		}
		if c.Labels[LabelService] != want[i] || c.Labels[LabelReplicaOf] != "orders" || ReplicaOf(c.Labels) != "orders" {
			t.Errorf("replica %d labels %v", i+1, c.Labels)
		}
		if !slices.Equal(c.Networks[0].Aliases, []string{"orders", alias}) {
			t.Errorf("replica %d aliases %v, want orders and %s", i+1, c.Networks[0].Aliases, alias)
		}
		if !slices.Contains(c.DependsOn, "orders-db") || !slices.Equal(c.Env, got[0].Env) {
			t.Errorf("replica %d: depends on %v, env differs from the first: %v", i+1, c.DependsOn, c.Env)
		}
		if c.Labels[LabelConfigHash] == got[0].Labels[LabelConfigHash] && i > 0 {
			t.Errorf("replicas %d and 1 share a config hash", i+1)
		}
	}
	// The aliases are the replicas' own slices: planning one never edits another's.
	if &got[0].Networks[0].Aliases[0] == &got[1].Networks[0].Aliases[0] {
		t.Error("replicas share their aliases' backing array")
	}
	dbs := 0
	for _, c := range p.Containers {
		if c.Role == RoleDatabase {
			dbs++
		}
	}
	if dbs != 1 {
		t.Errorf("%d databases for one service with replicas", dbs)
	}
	for _, name := range []string{"checkout", GatewayName} {
		c := p.Container(name)
		for _, w := range want {
			if !slices.Contains(c.DependsOn, w) {
				t.Errorf("%s does not wait for %s: %v", name, w, c.DependsOn)
			}
		}
	}
	var routes []route
	for _, kv := range p.Container(GatewayName).Env {
		if v, ok := strings.CutPrefix(kv, "MSX_ROUTES="); ok {
			if err := json.Unmarshal([]byte(v), &routes); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, rt := range routes {
		switch rt.Name {
		case "orders":
			if rt.Upstream != "http://orders:8081" || !slices.Equal(rt.Replicas, []string{"http://orders-1:8081", "http://orders-2:8081", "http://orders-3:8081"}) {
				t.Errorf("orders' route %+v", rt)
			}
		case "checkout":
			if rt.Replicas != nil {
				t.Errorf("one replica listed: %+v", rt)
			}
		}
	}
}

func TestPlanIdentityKeys(t *testing.T) {
	// web calls orders, which calls payments and catalog.
	m := shop()
	m.Services["web"] = Service{Port: 8084, DB: DBNone, DependsOn: []string{"orders"}}
	p := mustPlan(t, m, PlanOptions{})
	pub := func(names ...string) []SecretRef {
		var out []SecretRef
		for _, n := range names {
			out = append(out, SecretRef{Name: "identity-" + n + ".ed25519.pub", File: "identity-" + n + ".pub"})
		}
		return out
	}
	own := func(n string) SecretRef { return SecretRef{Name: "identity-" + n + ".ed25519", File: "identity.key"} }
	for name, want := range map[string][]SecretRef{
		// Only the gateway's own private key: it verifies no one's tokens.
		GatewayName: {own(GatewayName)},
		// A service's own private key, and the public keys of the gateway
		// and of every service that reaches it, directly or not.
		"web":      append([]SecretRef{own("web")}, pub(GatewayName)...),
		"orders":   append([]SecretRef{own("orders")}, pub(GatewayName, "web")...),
		"payments": append([]SecretRef{own("payments")}, pub(GatewayName, "orders", "web")...),
	} {
		c := p.Container(name)
		var got []SecretRef
		for _, s := range c.Secrets {
			if strings.HasPrefix(s.Name, "identity-") {
				got = append(got, s)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: identity secrets %v, want %v", name, got, want)
		}
		if !slices.Contains(c.Env, "SECRETS_DIR="+SecretsDir) {
			t.Errorf("%s: no SECRETS_DIR in %v", name, c.Env)
		}
	}
}

// TestPlanReplicasByEngine: for an export, one container per service with
// the count, reached by the service's name, and no replica list.
func TestPlanReplicasByEngine(t *testing.T) {
	m, err := Parse([]byte(`project: shop
module: example.com/shop
services:
  orders: {port: 8081, db: postgres, replicas: 3}
  checkout: {port: 8082, db: none, depends_on: [orders]}
`))
	if err != nil {
		t.Fatal(err)
	}
	m.Dir = "/w/shop"
	p, err := MakePlan(m, PlanOptions{ReplicasByEngine: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ContainersOf("orders"); len(got) != 1 || got[0].Replicas != 3 || got[0].Service != "orders" ||
		!slices.Equal(got[0].Networks[0].Aliases, []string{"orders"}) || got[0].Labels[LabelReplicaOf] != "" {
		t.Fatalf("orders for an engine: %+v", got)
	}
	if c := p.Container("checkout"); c.Replicas != 0 || slices.Contains(c.DependsOn, "orders-2") {
		t.Errorf("checkout: replicas %d, waits for %v", c.Replicas, c.DependsOn)
	}
	for _, kv := range p.Container(GatewayName).Env {
		if strings.HasPrefix(kv, "MSX_ROUTES=") && strings.Contains(kv, "replicas") {
			t.Errorf("the gateway spreads over replicas the engine runs: %s", kv)
		}
	}
}

func TestPlanRefusesAJWTKeyWithoutIssuerAndAudience(t *testing.T) {
	for _, tt := range []struct {
		jwt  JWT
		want string // in the error, or "" for none
		env  []string
	}{
		{JWT{}, "gateway.jwt.issuer", nil},
		{JWT{Issuer: "https://id.example.com"}, "gateway.jwt.audience", nil},
		{JWT{Issuer: "https://id.example.com", Audience: "shop"}, "", nil},
		{JWT{AnyIssuer: true, AnyAudience: true}, "", []string{"JWT_ANY_ISSUER=true", "JWT_ANY_AUDIENCE=true"}},
	} {
		m := shop()
		m.Gateway.JWT = tt.jwt
		p, err := MakePlan(m, PlanOptions{GatewayKeys: []string{"gateway-jwt.secret"}})
		if tt.want != "" {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%+v: error %v, want one naming %s", tt.jwt, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tt.jwt, err)
			continue
		}
		for _, e := range tt.env {
			if !slices.Contains(p.Container(GatewayName).Env, e) {
				t.Errorf("%+v: gateway env lacks %s", tt.jwt, e)
			}
		}
	}
	// Without a JWT key (API keys only) there is nothing to check.
	if _, err := MakePlan(shop(), PlanOptions{GatewayKeys: []string{"gateway-api-keys"}}); err != nil {
		t.Errorf("API keys only: %v", err)
	}
}

// TestPlanGivesProgramsTheAdminToken: under msx up every program msx
// builds gets the admin token as a file (its path in the environment,
// never the value); an export's plan gives none, so that exported
// programs serve neither faults nor the profiler.
func TestPlanGivesProgramsTheAdminToken(t *testing.T) {
	m := shop()
	p := mustPlan(t, m, PlanOptions{AdminToken: true})
	programs := 0
	for _, c := range p.Containers {
		has := slices.Contains(c.Secrets, SecretRef{Name: "admin-token", File: "admin-token"}) &&
			slices.Contains(c.Env, "ADMIN_TOKEN_FILE=/run/secrets/admin-token") && slices.Contains(c.Env, "ADMIN_HOSTS="+c.Name)
		program := c.Role == RoleService || c.Role == RoleGateway
		if has != program || !slices.IsSorted(c.Env) {
			t.Errorf("%s (%s): admin token %v, env %v", c.Name, c.Role, has, c.Env)
		}
		if program {
			programs++
		}
	}
	if programs != len(m.Services)+1 {
		t.Errorf("%d programs", programs)
	}
	if !slices.Contains(p.Secrets(), "admin-token") {
		t.Errorf("plan secrets = %v", p.Secrets())
	}
	for _, c := range mustPlan(t, m, PlanOptions{}).Containers {
		if slices.ContainsFunc(c.Secrets, func(s SecretRef) bool { return s.Name == "admin-token" }) ||
			strings.Contains(strings.Join(c.Env, " "), "ADMIN_TOKEN_FILE") {
			t.Errorf("%s has the admin token without AdminToken", c.Name)
		}
	}
}
