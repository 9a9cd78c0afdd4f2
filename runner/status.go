package runner

import (
	"context"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/devenv"
)

// Port is a published port.
type Port struct {
	HostIP        string `json:"host_ip"`
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
}

// ServiceStatus is one line of msx ps.
type ServiceStatus struct {
	Service   string `json:"service"`
	Role      string `json:"role"`
	Container string `json:"container"`
	// State is the engine's state (running, exited, created, ...) or
	// "missing" when the container does not exist.
	State    string `json:"state"`
	ExitCode int    `json:"exit_code"`
	Ready    bool   `json:"ready"`
	Ports    []Port `json:"ports"`
	URL      string `json:"url,omitempty"`
	// GraphQL is the gateway's URL of a GraphQL service's endpoint
	// (api: graphql in msx.yaml).
	GraphQL string `json:"graphql,omitempty"`
	// AdminURL is the admin listener, published for msx on 127.0.0.1.
	AdminURL string `json:"admin_url,omitempty"`
	// Breakers are the states of the program's circuit breakers, by name.
	Breakers map[string]string `json:"breakers,omitempty"`
	// Faults are the faults msx fault injected and still active.
	Faults *Faults `json:"faults,omitempty"`
	// Consumer is the broker's view of a subscribing service's durable
	// consumer of events.
	Consumer *ConsumerStatus `json:"consumer,omitempty"`
	// DeadLetters is, on the broker's line, how many events its
	// dead-letter stream holds, once read. Not in msx ps --json (yet):
	// the session publishes its growth as DeadLettered events.
	DeadLetters   *uint64   `json:"-"`
	Restarts      int       `json:"restarts"`
	StartedAt     time.Time `json:"started_at,omitzero"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	Image         string    `json:"image,omitempty"`

	// brokerMonitor is the broker's monitoring endpoint with its secret
	// path, which msx reads and never prints: URL is the bare port.
	brokerMonitor string
}

// StateMissing is the state of a service whose container does not exist.
const StateMissing = "missing"

// Status returns the state of every service of the manifest, the gateway
// and any other container of the workspace, in start order.
func (r *Runner) Status(ctx context.Context, m *devenv.Manifest) ([]ServiceStatus, error) {
	list, err := r.API.ContainerList(ctx, container.ListOptions{All: true, Filters: workspaceFilter(m.Project, m.Dir)})
	if err != nil {
		return nil, engineErr(ctx, err, "listing containers")
	}
	byService := map[string]container.Summary{}
	for _, c := range list {
		if c.Labels[devenv.LabelRole] == devenv.RoleTool {
			continue // msx events' reader: no service, gone when it ends
		}
		byService[c.Labels[devenv.LabelService]] = c
	}
	order, err := m.StartOrder()
	if err != nil {
		return nil, err
	}
	var want []string
	var extra []string
	for _, c := range list {
		if r := c.Labels[devenv.LabelRole]; r == devenv.RoleDatabase || r == devenv.RoleInfra {
			extra = append(extra, c.Labels[devenv.LabelService])
		}
	}
	sort.Strings(extra)
	var instances []string // every replica of each service, in start order
	for _, s := range order {
		instances = append(instances, m.ReplicaNames(s)...)
	}
	want = append(append(append(append(want, devenv.CollectorName), extra...), instances...), devenv.GatewayName)
	// Containers of services no longer in msx.yaml: the next up removes them.
	var orphans []string
	for s := range byService {
		if !slices.Contains(want, s) {
			orphans = append(orphans, s)
		}
	}
	sort.Strings(orphans)
	want = append(want, orphans...)
	seen := map[string]bool{}
	out := make([]ServiceStatus, 0, len(want))
	for _, s := range want {
		if seen[s] {
			continue
		}
		seen[s] = true
		st := ServiceStatus{Service: s, Container: devenv.ContainerName(m.Project, s), State: StateMissing, Ports: []Port{}}
		switch {
		case s == devenv.GatewayName:
			st.Role = devenv.RoleGateway
		case s == devenv.CollectorName:
			st.Role = devenv.RoleCollector
		case byService[s].Labels[devenv.LabelRole] != "":
			st.Role = byService[s].Labels[devenv.LabelRole]
		case m.ReplicaOf(s) != "":
			st.Role = devenv.RoleService
		default:
			st.Role = devenv.RoleDatabase
		}
		if svc, ok := m.Services[s]; ok && svc.GraphQL() {
			st.GraphQL = "http://127.0.0.1:" + strconv.Itoa(m.Gateway.Port) + svc.Route + "graphql"
		}
		out = append(out, st)
	}

	now := r.clock().Now()
	admin := r.admin(m)
	var wg sync.WaitGroup
	for i := range out {
		c, ok := byService[out[i].Service]
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.fill(ctx, m.Dir, &out[i], c, now, admin)
		}()
	}
	wg.Wait()
	r.fillConsumers(ctx, out)
	return out, nil
}

// fill completes one status from the engine and a readiness probe.
func (r *Runner) fill(ctx context.Context, dir string, st *ServiceStatus, c container.Summary, now time.Time, admin AdminClient) {
	st.State = string(c.State)
	st.Image = c.Image
	insp, err := r.API.ContainerInspect(ctx, c.ID)
	if err != nil {
		return
	}
	st.Restarts = insp.RestartCount
	if insp.State == nil {
		return
	}
	st.ExitCode = insp.State.ExitCode
	if insp.State.Running {
		if t, err := time.Parse(time.RFC3339Nano, insp.State.StartedAt); err == nil {
			st.StartedAt = t.UTC()
			st.UptimeSeconds = int64(now.Sub(t) / time.Second)
		}
	}
	if insp.NetworkSettings != nil {
		for port, binds := range insp.NetworkSettings.Ports {
			for _, b := range binds {
				hp, _ := strconv.Atoi(b.HostPort)
				st.Ports = append(st.Ports, Port{HostIP: b.HostIP, HostPort: hp, ContainerPort: port.Int()})
			}
		}
		sort.Slice(st.Ports, func(i, j int) bool { return st.Ports[i].HostPort < st.Ports[j].HostPort })
	}
	if !insp.State.Running {
		return
	}
	if st.Role == devenv.RoleDatabase {
		st.Ready = insp.State.Health != nil && insp.State.Health.Status == container.Healthy
		return
	}
	// An instance of a kind (the broker) publishes its monitoring endpoint
	// beside other ports: that one is its URL and is probed as up does,
	// under its secret path (base) when it has one.
	mon, path, base, known := 0, "/readyz", "", true
	if k := devenv.LookupKind(c.Labels[devenv.LabelKind]); k != nil && k.MonitorPort != 0 {
		pr := k.Ready(devenv.Instance{Kind: k})
		mon, path = k.MonitorPort, pr.HTTPPath
		full, err := r.probePath(dir, pr)
		// Without its path msx cannot ask it: not ready, no consumers.
		known = err == nil
		base = strings.TrimSuffix(full, path)
	}
	for _, p := range st.Ports {
		u := "http://" + net.JoinHostPort(devenv.LoopbackIP, strconv.Itoa(p.HostPort))
		switch {
		case p.ContainerPort == devenv.AdminPort:
			st.AdminURL = u
		case mon != 0 && p.ContainerPort != mon:
			// Another port of the instance (the broker's client port).
		default:
			st.URL = u
		}
	}
	probeURL := st.URL
	if st.AdminURL != "" {
		probeURL = st.AdminURL
	}
	if probeURL == "" || !known {
		return
	}
	if mon != 0 && st.URL != "" && c.Labels[devenv.LabelKind] == devenv.KindNATS {
		st.brokerMonitor = st.URL + base
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st.Ready = r.probe(pctx, probeURL+base+path) == nil
	if st.AdminURL != "" {
		st.Breakers, _ = admin.Breakers(pctx, st.AdminURL)
		if f, err := admin.Faults(pctx, st.AdminURL); err == nil && f.Active() {
			st.Faults = &f
		}
	}
}
