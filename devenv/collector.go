package devenv

import (
	"fmt"
	"net/url"
	"strconv"
)

// The trace collector: a program msx owns (its source is embedded under
// templates/collector and compiled like the gateway) that receives the
// spans of every service and the gateway over OTLP/HTTP, keeps them on a
// volume and answers msx trace through a port published on 127.0.0.1. It
// is the Collector entry of the table of kinds; what is here is its
// configuration and the parts of its entry too long to inline.
const (
	// CollectorName is the collector's service name: its container is
	// PROJECT-collector and its network alias collector. names.Validate
	// reserves it.
	CollectorName = "collector"
	// RoleCollector labels the collector's container.
	RoleCollector = "collector"
	// CollectorPort is where the collector listens in its container: OTLP
	// on /v1/traces, the query API on /api/traces.
	CollectorPort = 4318
	// DefaultMaxSpans bounds the spans the collector keeps when msx.yaml
	// says nothing (traces.max_spans).
	DefaultMaxSpans = 200_000
)

// Traces configures trace collection (msx.yaml traces:).
type Traces struct {
	// MaxSpans is how many spans the collector keeps; the oldest go first.
	MaxSpans int `yaml:"max_spans,omitempty"`
	// Forward is another OTLP/HTTP endpoint (http://host:4318) that the
	// collector also sends every span to, such as a Jaeger.
	Forward string `yaml:"forward,omitempty"`
}

// validate checks traces: in msx.yaml.
func (t Traces) validate() error {
	if t.MaxSpans < 0 {
		return fmt.Errorf("traces.max_spans is %d; use a positive number, or leave it out for %d", t.MaxSpans, DefaultMaxSpans)
	}
	if t.Forward != "" {
		u, err := url.Parse(t.Forward)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("traces.forward %q is not an http:// or https:// URL", t.Forward)
		}
	}
	return nil
}

// CollectorEndpoint is OTEL_EXPORTER_OTLP_ENDPOINT for every program on the
// project network.
func CollectorEndpoint() string {
	return fmt.Sprintf("http://%s:%d", CollectorName, CollectorPort)
}

// telemetryEnv is what makes a program export its spans to the
// collector: the Client side of the Collector kind, for every service and
// the gateway. The batch delay is a second, not the SDK's five, so that a
// trace shows in msx trace soon after the request.
func telemetryEnv() map[string]string {
	return map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": CollectorEndpoint(),
		"OTEL_BSP_SCHEDULE_DELAY":     "1000",
	}
}

// collectorSettings is the collector's environment that msx.yaml's
// traces: decides.
func collectorSettings(m *Manifest) map[string]string {
	max := m.Traces.MaxSpans
	if max == 0 {
		max = DefaultMaxSpans
	}
	env := map[string]string{"MAX_SPANS": strconv.Itoa(max)}
	if m.Traces.Forward != "" {
		env["FORWARD_ENDPOINT"] = m.Traces.Forward
	}
	return env
}
