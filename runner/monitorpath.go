package runner

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxdir"
)

// keepProbeSecrets reads the secrets the plan's readiness probes fetch
// their paths under (the broker's monitoring path) and keeps them after
// up returns, unlike the other secrets: the session's samples and the
// waits after a swap probe with them.
func (r *Runner) keepProbeSecrets(p *devenv.Plan, src SecretSource) error {
	kept := map[string]string{}
	for _, c := range p.Containers {
		name := c.Ready.PathSecret
		if name == "" || kept[name] != "" {
			continue
		}
		if src == nil {
			return fmt.Errorf("%s's readiness needs the secret %s but up was given no source of secrets", c.Service, name)
		}
		v, err := pathSecret(src, name)
		if err != nil {
			return err
		}
		kept[name] = v
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probeSecrets = kept
	return nil
}

// probePath is the path a readiness probe fetches: its HTTPPath, under
// the value of its PathSecret when it has one. dir is the workspace, ""
// when unknown: the value is then what up kept or r.Secrets holds. The
// secret is looked up, never generated: a broker has only the path its
// configuration was made with.
func (r *Runner) probePath(dir string, pr devenv.Probe) (string, error) {
	if pr.PathSecret == "" {
		return pr.HTTPPath, nil
	}
	base, err := r.probeSecret(dir, pr.PathSecret)
	if err != nil {
		return "", err
	}
	return "/" + base + pr.HTTPPath, nil
}

func (r *Runner) probeSecret(dir, name string) (string, error) {
	r.mu.Lock()
	v, ok := r.probeSecrets[name]
	r.mu.Unlock()
	if ok {
		return v, nil
	}
	var err error
	switch src := r.Secrets.(type) {
	case interface {
		Lookup(string) (string, bool, error)
	}:
		v, ok, err = src.Lookup(name)
	case nil:
		if dir != "" {
			v, ok, err = msxdir.New(dir).Lookup(name)
		}
	default:
		v, err = src.Secret(name)
		ok = err == nil
	}
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", fmt.Errorf("no .msx/secrets/%s (msx up makes it)", name)
	case !devenv.ValidMonitorPath(v):
		return "", fmt.Errorf(".msx/secrets/%s is not a plain path segment", name)
	}
	return v, nil
}

// hidePath takes the secret path out of an error's text (an HTTP client's
// error quotes the URL), so that a reason msx prints never shows it.
func hidePath(err error, path string) string {
	if path == "" {
		return err.Error()
	}
	msg := err.Error()
	if ue, ok := err.(*url.Error); ok {
		msg = ue.Err.Error()
	}
	return strings.ReplaceAll(msg, path, "/...")
}
