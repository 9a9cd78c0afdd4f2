package devenv

import (
	"strings"
	"testing"
)

const overlayManifest = `project: shop
module: example.com/shop
gateway:
  port: 8080
services:
  orders: {port: 8081, db: sqlite, route: /api/orders/}
  pay-ments: {port: 8082, db: postgres, route: /api/pay-ments/, depends_on: [orders]}
`

func overlaid(t *testing.T, env map[string]string, set map[string]string) (*Manifest, error) {
	t.Helper()
	m, err := Parse([]byte(overlayManifest))
	if err != nil {
		t.Fatal(err)
	}
	m.Dir = "/w/shop"
	return Overlay(m, []byte(overlayManifest), Overrides{Env: func(k string) string { return env[k] }, Set: set})
}

func TestOverlayPrecedenceSetEnvironmentFile(t *testing.T) {
	m, err := overlaid(t, nil, nil)
	if err != nil || m.Gateway.Port != 8080 || m.Services["pay-ments"].Port != 8082 || m.Dir != "/w/shop" {
		t.Fatalf("no overrides: %+v %v", m, err)
	}
	env := map[string]string{
		"MSX_GATEWAY_PORT":              "9191",
		"MSX_SERVICES_PAY_MENTS_PORT":   "9302",
		"MSX_SERVICES_ORDERS_PROTECTED": "true",
		"MSX_IMAGES_POSTGRES":           "local/postgres:16",
	}
	m, err = overlaid(t, env, map[string]string{"gateway.port": "9400"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Gateway.Port != 9400 {
		t.Errorf("gateway port %d, want 9400: a setting wins over the environment", m.Gateway.Port)
	}
	if s := m.Services["pay-ments"]; s.Port != 9302 || len(s.DependsOn) != 1 {
		t.Errorf("pay-ments: %+v, want port 9302 from the environment and its dependency from the file", s)
	}
	if !m.Services["orders"].Protected || m.Image(&Postgres) != "local/postgres:16" {
		t.Errorf("orders protected %v, postgres image %q", m.Services["orders"].Protected, m.Image(&Postgres))
	}
}

func TestOverlayNamesTheFirstBadVariableInKeyOrder(t *testing.T) {
	env := map[string]string{
		"MSX_SERVICES_ORDERS_PORT":    "0",
		"MSX_GATEWAY_RATE_BURST":      "many",
		"MSX_GATEWAY_PORT":            "http",
		"MSX_SERVICES_PAY_MENTS_PORT": "x",
	}
	for range 20 {
		if _, err := overlaid(t, env, nil); err == nil || !strings.Contains(err.Error(), `MSX_GATEWAY_PORT is "http", not a port`) {
			t.Fatalf("err = %v, want MSX_GATEWAY_PORT, the first in key order", err)
		}
	}
	delete(env, "MSX_GATEWAY_PORT")
	if _, err := overlaid(t, env, nil); err == nil || !strings.Contains(err.Error(), `MSX_GATEWAY_RATE_BURST is "many", not a whole number`) {
		t.Fatalf("err = %v, want MSX_GATEWAY_RATE_BURST", err)
	}
}

func TestEnvGatewayPort(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "MSX_GATEWAY_PORT" {
				return v
			}
			return ""
		}
	}
	if p, err := EnvGatewayPort(env("")); p != 0 || err != nil {
		t.Errorf("unset: %d %v", p, err)
	}
	if p, err := EnvGatewayPort(env("9191")); p != 9191 || err != nil {
		t.Errorf("9191: %d %v", p, err)
	}
	for _, bad := range []string{"http", "0", "70000"} {
		if _, err := EnvGatewayPort(env(bad)); err == nil || !strings.Contains(err.Error(), "MSX_GATEWAY_PORT is \""+bad+"\", not a port") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
