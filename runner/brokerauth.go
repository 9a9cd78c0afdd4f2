package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/nats-io/nkeys"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
)

// generatingSource makes a secret with a generator of its own the first
// time (a broker user's seed); *state.Store is one.
type generatingSource interface {
	SecretWith(name string, gen func() (string, error)) (string, error)
}

// settingSource keeps a file msx makes again each time (the broker's
// configuration), so that an export can reference it; *state.Store is one.
type settingSource interface {
	Set(name, value string) error
}

// newSeed is a new NATS user nkey's seed.
func newSeed() (string, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", err
	}
	seed, err := kp.Seed()
	return string(seed), err
}

// brokerSeed returns a broker user's seed, generating it the first time.
func brokerSeed(src SecretSource, user string) (string, error) {
	return secretValue(nil, devenv.BrokerSeed(user), src)
}

// publicKey is the public key of a user seed.
func publicKey(name, seed string) (string, error) {
	kp, err := nkeys.FromSeed([]byte(seed))
	if err == nil {
		var pub string
		if pub, err = kp.PublicKey(); err == nil && nkeys.IsValidPublicUserKey(pub) {
			return pub, nil
		}
	}
	return "", msxerr.New("remove it; msx generates a new one",
		"%s is not a NATS user seed", ".msx/secrets/"+name)
}

// BrokerConfig makes the broker's configuration for the plan's users, with
// the public keys of their seeds (generating the seeds that are missing,
// the users of services an up did not select included), and keeps it
// under .msx/secrets when src can: an export references it there.
func BrokerConfig(p *devenv.Plan, src SecretSource) (string, error) {
	monitor, err := pathSecret(src, devenv.BrokerMonitorSecret)
	if err != nil {
		return "", err
	}
	conf, err := devenv.BrokerConfig(p.BrokerUsers, monitor, func(user string) (string, error) {
		seed, err := brokerSeed(src, user)
		if err != nil {
			return "", err
		}
		return publicKey(devenv.BrokerSeedSecret(user), seed)
	})
	if err != nil {
		return "", err
	}
	if set, ok := src.(settingSource); ok {
		if err := set.Set(devenv.BrokerConfigSecret, conf); err != nil {
			return "", err
		}
	}
	return conf, nil
}

// pathSecret returns a secret that is a path segment (the broker's
// monitoring path, devenv.BrokerMonitorSecret), generating it the first
// time: a random password is one, and one a user wrote by hand that is
// not would break the configuration and the URLs.
func pathSecret(src SecretSource, name string) (string, error) {
	v, err := src.Secret(name)
	if err != nil {
		return "", err
	}
	if !devenv.ValidMonitorPath(v) {
		return "", msxerr.New("remove it; msx generates a new one",
			"%s is not a path segment of 16 or more letters, digits, '-' or '_'", ".msx/secrets/"+name)
	}
	return v, nil
}

// secretValue reads or makes one secret of the plan as its Gen says.
func secretValue(p *devenv.Plan, s devenv.SecretRef, src SecretSource) (string, error) {
	switch s.Gen {
	case devenv.GenNKey:
		gen, ok := src.(generatingSource)
		if !ok {
			return "", fmt.Errorf("the source of secrets cannot make the broker seed %s", s.Name)
		}
		v, err := gen.SecretWith(s.Name, newSeed)
		if err != nil {
			return "", err
		}
		// A seed that is no seed would make a broker nobody can use.
		if _, err := publicKey(s.Name, v); err != nil {
			return "", err
		}
		return v, nil
	case devenv.GenBrokerConfig:
		return BrokerConfig(p, src)
	}
	return src.Secret(s.Name)
}

// makeOwnedDirs makes a container's OwnedDirs, owned by its user, in the
// volumes they are in, after it is created and before it starts: a tar
// keeps the owner it names when the engine unpacks it.
func (r *Runner) makeOwnedDirs(ctx context.Context, c *devenv.Container, id string) error {
	if len(c.OwnedDirs) == 0 {
		return nil
	}
	uid, err := strconv.Atoi(strings.SplitN(c.User, ":", 2)[0])
	if err != nil {
		return fmt.Errorf("%s: owned folders need a numeric user, not %q", c.Name, c.User)
	}
	for _, d := range c.OwnedDirs {
		parent, name := path.Split(path.Clean(d))
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		hdr := &tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: uid, Gid: uid, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if err := r.API.CopyToContainer(ctx, id, path.Clean(parent), &buf, container.CopyToContainerOptions{}); err != nil {
			return engineErr(ctx, err, "making "+d+" in "+c.Name)
		}
	}
	return nil
}
