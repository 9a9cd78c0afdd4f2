package runner

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
)

// Database is where a service's data lives, as msx db shows it.
type Database struct {
	Service string
	DB      string // devenv.DBPostgres or devenv.DBSQLite

	// Postgres: the running container, and its port published on
	// 127.0.0.1.
	Container string
	User      string
	Name      string
	HostPort  int
	// Secret is the name of the password's secret in .msx/.
	Secret string

	// SQLite: the service's volume and the file in it.
	Volume string
	Path   string
}

// URL is a Postgres connection URL for a client on the host, with the
// password only when one is given.
func (d Database) URL(password string) string {
	u := url.URL{
		Scheme:   "postgres",
		Host:     devenv.LoopbackIP + ":" + strconv.Itoa(d.HostPort),
		Path:     "/" + d.Name,
		RawQuery: "sslmode=disable",
	}
	if password != "" {
		u.User = url.UserPassword(d.User, password)
	} else {
		u.User = url.User(d.User)
	}
	return u.String()
}

// PGPassLine is the line of a Postgres password file that matches the
// published port: host:port:database:user:password, with ':' and '\'
// escaped as libpq reads them.
func (d Database) PGPassLine(password string) string {
	esc := strings.NewReplacer(`\`, `\\`, ":", `\:`)
	return strings.Join([]string{devenv.LoopbackIP, strconv.Itoa(d.HostPort), esc.Replace(d.Name), esc.Replace(d.User), esc.Replace(password)}, ":") + "\n"
}

// Database finds where a service's data lives: for Postgres, its running
// container and published port; for SQLite, its volume and file.
func (r *Runner) Database(ctx context.Context, m *devenv.Manifest, service string) (Database, error) {
	s, ok := m.Services[service]
	if !ok {
		return Database{}, msxerr.New("msx ps lists the services", "%s is not a service of this workspace", service)
	}
	d := Database{Service: service, DB: s.DB}
	switch s.DB {
	case devenv.DBSQLite:
		d.Volume = devenv.VolumeName(m.Project, service, m.Dir)
		d.Path = devenv.DataDir + "/" + service + ".db"
		return d, nil
	case devenv.DBPostgres:
	default:
		return Database{}, msxerr.New("give it one with msx new service NAME --db postgres or sqlite", "service %s has no database (db: %s in msx.yaml)", service, s.DB)
	}
	inst := devenv.InstanceOf(&devenv.Postgres, service)
	d.User, d.Name = inst.Ident, inst.Ident
	d.Secret = inst.SecretName("db-password")
	args := workspaceFilter(m.Project, m.Dir)
	args.Add("label", devenv.LabelService+"="+inst.Service)
	list, err := r.API.ContainerList(ctx, container.ListOptions{Filters: args})
	if err != nil {
		return Database{}, engineErr(ctx, err, "listing containers")
	}
	for _, c := range list {
		for _, p := range c.Ports {
			if int(p.PrivatePort) == devenv.Postgres.Port && p.PublicPort != 0 && p.IP == devenv.LoopbackIP {
				d.Container = c.ID
				d.HostPort = int(p.PublicPort)
			}
		}
	}
	if d.Container == "" {
		return Database{}, msxerr.New("run msx up "+service+" first", "the database of %s is not running", service)
	}
	return d, nil
}

// ExecAPI is the part of the Docker client that runs a command in a
// container.
type ExecAPI interface {
	ContainerExecCreate(ctx context.Context, containerID string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, config container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
}

// Exec runs cmd in a container with the given streams, a terminal when
// tty, and returns its exit code.
func Exec(ctx context.Context, api ExecAPI, id string, cmd []string, tty bool, in io.Reader, out, errOut io.Writer) (int, error) {
	ex, err := api.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd: cmd, Tty: tty, AttachStdin: in != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return -1, engineErr(ctx, err, "starting "+cmd[0])
	}
	resp, err := api.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{Tty: tty})
	if err != nil {
		return -1, engineErr(ctx, err, "attaching to "+cmd[0])
	}
	defer resp.Close()
	if in != nil {
		go func() {
			io.Copy(resp.Conn, in)
			resp.CloseWrite()
		}()
	}
	if tty {
		_, err = io.Copy(out, resp.Reader)
	} else {
		_, err = stdcopy.StdCopy(out, errOut, resp.Reader)
	}
	if err != nil && ctx.Err() == nil {
		return -1, fmt.Errorf("%s: %w", cmd[0], err)
	}
	st, err := api.ContainerExecInspect(context.WithoutCancel(ctx), ex.ID)
	if err != nil {
		return -1, engineErr(ctx, err, "inspecting "+cmd[0])
	}
	return st.ExitCode, nil
}
