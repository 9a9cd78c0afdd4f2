package devenv

import (
	"slices"
	"strings"
	"testing"
)

// TestPlanEventRetention: msx.yaml's events: reaches the services that
// publish or subscribe, and only the keys it sets.
func TestPlanEventRetention(t *testing.T) {
	p := planOfYAML(t, `project: shop
module: example.com/shop
events:
  stream_max_age: 72h
  stream_max_mb: 256
  inbox_max_age: 96h
services:
  orders: {port: 8081, db: postgres}
  payments: {port: 8082, db: sqlite, subscribes: [orders.item.created]}
  catalog: {port: 8083, db: none}
`)
	for _, s := range []string{"orders", "payments"} {
		env := p.Container(s).Env
		for _, kv := range []string{"EVENTS_STREAM_MAX_AGE=72h", "EVENTS_STREAM_MAX_MB=256", "EVENTS_INBOX_MAX_AGE=96h"} {
			if !slices.Contains(env, kv) {
				t.Errorf("%s lacks %s: %v", s, kv, env)
			}
		}
	}
	for _, kv := range p.Container("catalog").Env {
		if strings.HasPrefix(kv, "EVENTS_") {
			t.Errorf("catalog, which neither publishes nor subscribes, got %s", kv)
		}
	}
	p = planOfYAML(t, "project: shop\nmodule: example.com/shop\nevents: {stream_max_mb: 64}\nservices:\n  orders: {port: 8081, db: postgres}\n  payments: {port: 8082, db: sqlite, subscribes: [orders.item.created]}\n")
	var got []string
	for _, kv := range p.Container("payments").Env {
		if strings.HasPrefix(kv, "EVENTS_") {
			got = append(got, kv)
		}
	}
	if !slices.Equal(got, []string{"EVENTS_STREAM_MAX_MB=64"}) {
		t.Errorf("only stream_max_mb set: %v", got)
	}
}

func TestManifestRefusesBadEventRetention(t *testing.T) {
	for y, want := range map[string]string{
		"events: {stream_max_age: 7d}":                      "events.stream_max_age",
		"events: {inbox_max_age: -1h}":                      "events.inbox_max_age",
		"events: {stream_max_mb: -5}":                       "events.stream_max_mb",
		"events: {stream_max_age: 48h, inbox_max_age: 24h}": "applied twice",
		"events: {inbox_max_age: 24h}":                      "applied twice", // under the default 168h
		"events: {stream_max_ages: 24h}":                    "stream_max_ages",
	} {
		_, err := Parse([]byte("project: shop\nmodule: example.com/shop\n" + y + "\nservices: {}\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", y, err, want)
		}
	}
}
