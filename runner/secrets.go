package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/volume"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
)

// SecretSource gives the value of a secret by its name, generating it the
// first time; *state.Store is one.
type SecretSource interface {
	Secret(name string) (string, error)
}

// secretValues reads every secret of the plan before anything is created:
// a secret that cannot be read stops up before it has started anything.
func secretValues(p *devenv.Plan, src SecretSource) (map[string]string, error) {
	if len(p.Secrets()) == 0 {
		return nil, nil
	}
	if src == nil {
		return nil, errors.New("the plan has secrets but up was given no source of secrets")
	}
	return SecretValues(p, src)
}

// SecretValues reads, or makes as each one's Gen says, every secret of the
// plan: what up writes into the containers, and what an export references
// under .msx/secrets.
func SecretValues(p *devenv.Plan, src SecretSource) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range p.Containers {
		for _, s := range c.Secrets {
			if _, ok := out[s.Name]; ok {
				continue
			}
			v, err := secretValue(p, s, src)
			if err != nil {
				return nil, err
			}
			out[s.Name] = v
		}
	}
	return out, nil
}

// GatewayKeys names the gateway's keys that the workspace keeps, without
// generating any: a key is the user's to make.
func GatewayKeys(src SecretSource) ([]string, error) {
	look, ok := src.(interface {
		Lookup(name string) (string, bool, error)
	})
	if !ok {
		return nil, nil
	}
	var out []string
	for _, k := range devenv.GatewayKeys {
		_, found, err := look.Lookup(k.Name)
		if err != nil {
			return nil, msxerr.New("fix the file's permissions or remove it",
				"cannot read the gateway key %s: %s", ".msx/secrets/"+k.Name, err)
		}
		if found {
			out = append(out, k.Name)
		}
	}
	return out, nil
}

// checkStaleVolumes refuses to start an instance whose data volume exists
// while its secret was just generated: the data were initialised with a
// password that is gone from .msx/ (a git clean, say), and the service
// would wait for a database that refuses it. It runs before any build.
func (r *Runner) checkStaleVolumes(ctx context.Context, p *devenv.Plan, src SecretSource) error {
	gen, ok := src.(interface{ Generated(name string) bool })
	if !ok {
		return nil
	}
	var fresh []*devenv.Container
	for i := range p.Containers {
		c := &p.Containers[i]
		for _, s := range c.Secrets {
			// Only a password is in a database's data; a new broker seed
			// is in the new broker configuration too.
			if s.Gen == devenv.GenPassword && gen.Generated(s.Name) {
				fresh = append(fresh, c)
				break
			}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	list, err := r.API.VolumeList(ctx, volume.ListOptions{Filters: workspaceFilter(p.Project, p.Dir)})
	if err != nil {
		return engineErr(ctx, err, "listing volumes")
	}
	have := map[string]bool{}
	for _, v := range list.Volumes {
		have[v.Name] = true
	}
	for _, c := range fresh {
		for _, m := range c.Mounts {
			if m.Target != devenv.SecretsDir && have[m.Volume] {
				return msxerr.New("restore the file from a backup, or run msx down --volumes to start that database afresh (its data go)",
					"the volume %s of %s holds data made with a password that is no longer in %s", m.Volume, c.Service, ".msx/secrets")
			}
		}
	}
	return nil
}

// secretMode is a secret file's mode in its volume: readable by the
// instance's own user (which the image chooses: postgres drops from root to
// its own) and by the service's user. Only the instance and the services
// that use it mount the volume.
const secretMode = 0o444

// writeSecrets writes a container's secrets as files into its SecretsDir
// (a volume), after it is created and before it starts. Values never
// reach the container's configuration, the environment or a label.
func (r *Runner) writeSecrets(ctx context.Context, c *devenv.Container, id string) error {
	return r.writeSecretFiles(ctx, c, id, r.secretValue)
}

// writeSecretFiles is writeSecrets with the values of value.
func (r *Runner) writeSecretFiles(ctx context.Context, c *devenv.Container, id string, value func(name string) (string, bool)) error {
	if len(c.Secrets) == 0 {
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, s := range c.Secrets {
		v, ok := value(s.Name)
		if !ok {
			return msxerr.New("run msx up again", "the secret %s of %s was not read before it was needed", s.Name, c.Service)
		}
		hdr := &tar.Header{Name: s.File, Mode: secretMode, Size: int64(len(v)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write([]byte(v)); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := r.API.CopyToContainer(ctx, id, devenv.SecretsDir, &buf, container.CopyToContainerOptions{}); err != nil {
		// The engine's error never carries the content it was sent.
		return engineErr(ctx, err, "writing the secrets of "+c.Name)
	}
	return nil
}

func (r *Runner) secretValue(name string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.secrets[name]
	return v, ok
}

func (r *Runner) setSecrets(v map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = v
}
