package engine

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Podman serves the Docker Engine API, and msx runs on it as it does on
// Docker but for one thing the API leaves to the engine: health checks.
// Docker runs a container's health check itself, every interval; Podman
// asks systemd for a timer per container, and where there is no systemd
// (a container, WSL, a minimal VM) no check ever runs and the container
// stays "starting" for ever: msx up would wait on every database until it
// times out. Podman's own API runs a check on demand
// (GET /libpod/containers/NAME/healthcheck), so msx runs it there, when it
// inspects a container whose last check is older than its interval; the
// result goes into the container's health log as a timer's would, and the
// inspection that follows reads it.

// redialable says whether a stream that takes over its connection (exec,
// attach) can dial the engine again from its address alone: a socket or
// plain TCP. Over ssh:// or TLS the dialer lives in the transport that a
// wrapped client hides, so there msx leaves the client as it is and runs
// no health checks: Podman must run them itself, with systemd.
func (e Endpoint) redialable() bool {
	proto, _, _ := strings.Cut(e.Host, "://")
	return proto == "unix" || (proto == "tcp" && !e.tls)
}

// podmanHeader is the response header Podman's API service sets on every
// answer, Docker-compatible calls included: that is how msx knows it talks
// to Podman without asking.
const podmanHeader = "Libpod-Api-Version"

// isPodman reports whether a response came from Podman.
func isPodman(h http.Header) bool { return h.Get(podmanHeader) != "" }

// podmanHealth is the transport that runs health checks on Podman. On
// Docker it only looks at the path and a header of each answer.
type podmanHealth struct {
	next http.RoundTripper
	now  func() time.Time

	mu sync.Mutex
	// ran is when msx last ran each container's check: several callers
	// that inspect the same container at once run it once.
	ran map[string]time.Time
}

var _ http.RoundTripper = (*podmanHealth)(nil)

func newPodmanHealth(next http.RoundTripper) *podmanHealth {
	return &podmanHealth{next: next, now: time.Now, ran: map[string]time.Time{}}
}

// inspectBodyLimit bounds what is read of an inspection to decide: a
// container's inspection is a few kilobytes.
const inspectBodyLimit = 8 << 20

func (p *podmanHealth) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := p.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || res.StatusCode != http.StatusOK || !isPodman(res.Header) {
		return res, err
	}
	id, ok := inspectedContainer(req.URL.Path)
	if !ok {
		return res, nil
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, inspectBodyLimit))
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if !p.due(id, body) || !p.runCheck(req, id, res.Header.Get(podmanHeader)) {
		return res, nil
	}
	again, err := p.next.RoundTrip(req.Clone(req.Context()))
	if err != nil {
		// The first answer is still true, only older.
		return res, nil
	}
	return again, nil
}

// inspectedContainer is the container a GET of /containers/ID/json
// inspects, with or without the API version prefix.
func inspectedContainer(path string) (string, bool) {
	rest, ok := strings.CutPrefix(apiPath(path), "/containers/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/json")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// inspected is the part of an inspection that says whether a check is due.
type inspected struct {
	Config *struct {
		Healthcheck *struct {
			Test     []string
			Interval time.Duration
		}
	}
	State *struct {
		Running bool
		Health  *struct {
			Log []struct{ End time.Time }
		}
	}
}

// defaultInterval is the engines' interval for a check that names none.
const defaultInterval = 30 * time.Second

// due says whether a running container with a health check has gone its
// interval without one, and if so marks it as run now.
func (p *podmanHealth) due(id string, body []byte) bool {
	var c inspected
	if json.Unmarshal(body, &c) != nil || c.Config == nil || c.Config.Healthcheck == nil || c.State == nil || !c.State.Running {
		return false
	}
	hc := c.Config.Healthcheck
	if len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return false
	}
	interval := hc.Interval
	if interval <= 0 {
		interval = defaultInterval
	}
	now := p.now()
	// A check the engine ran itself (Podman with systemd) counts.
	if h := c.State.Health; h != nil && len(h.Log) > 0 && now.Sub(h.Log[len(h.Log)-1].End) < interval {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if last, ok := p.ran[id]; ok && now.Sub(last) < interval {
		return false
	}
	p.ran[id] = now
	return true
}

// runCheck runs a container's health check through Podman's API, under
// the caller's context, and says whether it ran. Whatever goes wrong, the
// inspection stands as it was: a check that cannot run is a container that
// does not become healthy, which msx reports as it would on Docker.
func (p *podmanHealth) runCheck(req *http.Request, id, version string) bool {
	// A copy of the inspection's request keeps how it reaches the engine
	// (for a socket, a URL host that is no host name).
	check := req.Clone(req.Context())
	u := *req.URL
	u.Path = "/v" + version + "/libpod/containers/" + id + "/healthcheck"
	u.RawPath, u.RawQuery = "", ""
	check.URL = &u
	res, err := p.next.RoundTrip(check)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}
