// Command dbfloor is the floor of bench/db.sh: it starts, through the Engine
// API, the same containers msx up started (captured from the engine while
// they ran), with the same networks, volumes, environment and readiness
// (databases healthy, then services answering /readyz, then the gateway
// answering through to every service), and prints how long that took in
// milliseconds. It is what a hand-written script of docker calls would do at
// best.
//
//	dbfloor capture PROJECT FILE   record the running project's containers
//	dbfloor run FILE               start them as recorded, print the ms, remove them
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/msx-dev/msx/engine"
)

// spec is one container as msx ran it.
type spec struct {
	Name     string
	Role     string
	Service  string
	Config   *container.Config
	Host     *container.HostConfig
	Networks []attachment // the first is the one it is created on
}

type attachment struct {
	Name     string
	Aliases  []string
	Internal bool
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dbfloor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	ctx := context.Background()
	cli, err := engine.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	switch {
	case len(args) == 3 && args[0] == "capture":
		return capture(ctx, cli, args[1], args[2])
	case len(args) == 2 && args[0] == "run":
		return floor(ctx, cli, args[1])
	}
	return fmt.Errorf("usage: dbfloor capture PROJECT FILE | dbfloor run FILE")
}

func capture(ctx context.Context, cli *client.Client, project, file string) error {
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))})
	if err != nil {
		return err
	}
	var specs []spec
	for _, c := range list {
		insp, err := cli.ContainerInspect(ctx, c.ID)
		if err != nil {
			return err
		}
		s := spec{
			Name:    strings.TrimPrefix(insp.Name, "/") + "-floor",
			Role:    insp.Config.Labels["dev.msx.role"],
			Service: insp.Config.Labels["dev.msx.service"],
			Config:  insp.Config,
			Host:    insp.HostConfig,
		}
		// The recreated container carries the floor's label only, so that
		// msx never mistakes it for its own.
		s.Config.Labels = map[string]string{"bench.floor": project}
		s.Config.Hostname = ""
		first := string(insp.HostConfig.NetworkMode)
		for name, ep := range insp.NetworkSettings.Networks {
			n, err := cli.NetworkInspect(ctx, name, network.InspectOptions{})
			if err != nil {
				return err
			}
			var aliases []string
			for _, a := range ep.Aliases {
				if a != insp.Config.Hostname && !strings.HasPrefix(insp.ID, a) {
					aliases = append(aliases, a)
				}
			}
			a := attachment{Name: name, Aliases: aliases, Internal: n.Internal}
			if name == first {
				s.Networks = append([]attachment{a}, s.Networks...)
			} else {
				s.Networks = append(s.Networks, a)
			}
		}
		specs = append(specs, s)
	}
	b, err := json.MarshalIndent(specs, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o600)
}

func floor(ctx context.Context, cli *client.Client, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var specs []spec
	if err := json.Unmarshal(b, &specs); err != nil {
		return err
	}
	var created []string
	nets := map[string]bool{}
	defer func() {
		for _, id := range created {
			cli.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
		for n := range nets {
			cli.NetworkRemove(context.Background(), n)
		}
	}()
	start := time.Now()
	for _, s := range specs {
		for _, a := range s.Networks {
			if nets[a.Name] {
				continue
			}
			if _, err := cli.NetworkCreate(ctx, a.Name, network.CreateOptions{Driver: "bridge", Internal: a.Internal, Labels: map[string]string{"bench.floor": "1"}}); err != nil {
				return err
			}
			nets[a.Name] = true
		}
	}
	level := func(role string) []spec {
		var out []spec
		for _, s := range specs {
			if s.Role == role {
				out = append(out, s)
			}
		}
		return out
	}
	var mu sync.Mutex
	startAll := func(group []spec, ready func(spec, string) error) error {
		errs := make(chan error, len(group))
		for _, s := range group {
			go func() {
				id, err := startOne(ctx, cli, s)
				if id != "" {
					mu.Lock()
					created = append(created, id)
					mu.Unlock()
				}
				if err == nil {
					err = ready(s, id)
				}
				errs <- err
			}()
		}
		for range group {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	}
	healthy := func(s spec, id string) error {
		return poll(func() bool {
			insp, err := cli.ContainerInspect(ctx, id)
			return err == nil && insp.State.Health != nil && insp.State.Health.Status == container.Healthy
		})
	}
	readyz := func(path string) func(spec, string) error {
		return func(s spec, id string) error {
			return poll(func() bool {
				insp, err := cli.ContainerInspect(ctx, id)
				if err != nil {
					return false
				}
				for _, bs := range insp.NetworkSettings.Ports {
					for _, b := range bs {
						if b.HostPort != "" && get("http://127.0.0.1:"+b.HostPort+path) {
							return true
						}
					}
				}
				return false
			})
		}
	}
	if err := startAll(level("database"), healthy); err != nil {
		return err
	}
	if err := startAll(level("service"), readyz("/readyz")); err != nil {
		return err
	}
	gw := level("gateway")
	var services []string
	for _, s := range level("service") {
		services = append(services, s.Service)
	}
	sort.Strings(services)
	if err := startAll(gw, func(s spec, id string) error {
		if err := readyz("/readyz")(s, id); err != nil {
			return err
		}
		for _, svc := range services {
			if err := readyz("/api/"+svc+"/readyz")(s, id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Println(time.Since(start).Milliseconds())
	return nil
}

// startOne creates a container on its first network, connects the others,
// and starts it, as msx does.
func startOne(ctx context.Context, cli *client.Client, s spec) (string, error) {
	host := *s.Host
	host.NetworkMode = container.NetworkMode(s.Networks[0].Name)
	// Published ports: the same container ports on fresh ephemeral host
	// ports, except a fixed one (the gateway's).
	pm := nat.PortMap{}
	for p, bs := range host.PortBindings {
		for _, b := range bs {
			pm[p] = append(pm[p], nat.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort})
		}
	}
	host.PortBindings = pm
	resp, err := cli.ContainerCreate(ctx, s.Config, &host, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		s.Networks[0].Name: {Aliases: s.Networks[0].Aliases},
	}}, nil, s.Name)
	if err != nil {
		return "", err
	}
	for _, a := range s.Networks[1:] {
		if err := cli.NetworkConnect(ctx, a.Name, resp.ID, &network.EndpointSettings{Aliases: slices.Clone(a.Aliases)}); err != nil {
			return resp.ID, err
		}
	}
	return resp.ID, cli.ContainerStart(ctx, resp.ID, container.StartOptions{})
}

func poll(ok func() bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within 2m")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func get(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}
