package devenv

import (
	"fmt"
	"net/url"
	"strconv"
)

// The trace collector: a program msx owns (its source is embedded under
// templates/collector and compiled like the gateway) that receives the
// spans of every service and the gateway over OTLP/HTTP, keeps them on a
// volume and answers msx trace through a port published on 127.0.0.1.
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

// telemetryEnv adds what makes a program export its spans to the
// collector. The batch delay is a second, not the SDK's five, so that a
// trace shows in msx trace soon after the request.
func telemetryEnv(env map[string]string) {
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = CollectorEndpoint()
	env["OTEL_BSP_SCHEDULE_DELAY"] = "1000"
}

// collector plans the collector container and its volume.
func collector(m *Manifest, network string, base map[string]string) (Container, Volume) {
	vol := Volume{
		Name:   VolumeName(m.Project, CollectorName, m.Dir),
		Labels: withLabels(base, map[string]string{LabelService: CollectorName}),
	}
	max := m.Traces.MaxSpans
	if max == 0 {
		max = DefaultMaxSpans
	}
	env := map[string]string{
		"MSX_SERVICE": CollectorName,
		"LISTEN_ADDR": "0.0.0.0:" + strconv.Itoa(CollectorPort),
		"DATA_DIR":    DataDir,
		"MAX_SPANS":   strconv.Itoa(max),
	}
	if m.Traces.Forward != "" {
		env["FORWARD_ENDPOINT"] = m.Traces.Forward
	}
	c := Container{
		Name:    ContainerName(m.Project, CollectorName),
		Service: CollectorName,
		Role:    RoleCollector,
		// Built like the gateway, from the source msx writes under .msx
		// (the runner knows the target by its name).
		Image:    ImageRef{Build: CollectorName, Pkg: "."},
		User:     ContainerUser,
		Env:      envList(env),
		Networks: []Attachment{{Network: network, Aliases: []string{CollectorName}}},
		Mounts:   []Mount{{Volume: vol.Name, Target: DataDir}},
		Port:     CollectorPort,
		// msx trace reads the query API through 127.0.0.1.
		Publish:   true,
		Hardening: collectorHardening(),
		Ready:     Probe{HTTPPath: "/healthz"},
		SwapDir:   SwapDir,
		Labels:    withLabels(base, map[string]string{LabelService: CollectorName, LabelRole: RoleCollector}),
	}
	return c, vol
}

// collectorHardening confines the collector as msx confines services,
// except for the health check: the collector is no service binary and
// answers no healthcheck argument; msx waits on its /healthz instead.
func collectorHardening() *Hardening {
	h := hardening(Limits{})
	h.Healthcheck = nil
	return h
}
