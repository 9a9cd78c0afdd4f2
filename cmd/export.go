package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/export"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/runner"
)

type exportOptions struct {
	Out    string
	Images string
	Force  bool
}

func newExportCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "export",
		Short: "Write files that run the workspace on Docker Compose or Kubernetes",
		Args:  exactArgs(0, "a target, such as: msx export compose"),
		RunE: func(c *cobra.Command, _ []string) error {
			return msxerr.Usage("say what to export to, such as: msx export compose")
		},
	}
	c.AddCommand(newExportComposeCmd(f, nil), newExportK8sCmd(f, nil))
	return c
}

type exportK8sOptions struct {
	Out   string
	Mesh  string
	Force bool
}

func newExportK8sCmd(f *Factory, runF func(context.Context, *exportK8sOptions) error) *cobra.Command {
	run := orRun(f, runF, runExportK8s)
	o := &exportK8sOptions{}
	c := &cobra.Command{
		Use:   "k8s",
		Short: "Write a Kustomize base and a local overlay for Kubernetes",
		Long: `Write Kubernetes manifests, read from msx.yaml through the same plan msx up
applies: per service a Deployment (probes on /healthz and /readyz, resources, a
restricted securityContext from msx up's hardening), a Service and a ConfigMap;
the gateway with an Ingress of its routes; the trace collector, its source to
build its image from written to collector/ at the workspace root (where msx
export compose writes it too); per Postgres database a StatefulSet with a volume claim;
the NATS broker as a StatefulSet with JetStream storage; Secrets referenced by
name and key only (README.md says how to create them), the gateway's keys that
.msx/secrets holds among them; and NetworkPolicies that
admit only the gateway to services, a service's declared dependents to it, its
owner to each database, the publishers and subscribers to the broker, and the
programs to the collector.

Then: kubectl apply -k k8s/overlays/local`,
		Example: "  msx export k8s\n  msx export k8s --mesh linkerd",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Mesh != "" && !slices.Contains(export.Meshes, o.Mesh) {
				return msxerr.Usage("--mesh %q is not known; use %s", o.Mesh, strings.Join(export.Meshes, " or "))
			}
			return run(c.Context(), o)
		},
	}
	c.Flags().StringVar(&o.Out, "out", "", "folder to write the manifests into (default: k8s in the workspace root)")
	c.Flags().StringVar(&o.Mesh, "mesh", "", "service mesh whose sidecar injection the pods ask for: "+strings.Join(export.Meshes, ", "))
	c.Flags().BoolVar(&o.Force, "force", false, "overwrite exported files that were edited")
	return c
}

func runExportK8s(_ context.Context, f *Factory, o *exportK8sOptions) error {
	m, p, out, err := exportPlan(f, o.Out, "k8s")
	if err != nil {
		return err
	}
	files, err := export.K8s(p, export.K8sOptions{Mesh: o.Mesh})
	if err != nil {
		return msxerr.Wrap(err, "leave that service out of msx.yaml for the export, or export to Compose", "cannot export: %v", err)
	}
	if p.BrokerUsers != nil {
		// The broker's seeds and configuration are msx's to make, as up
		// makes them: the README's kubectl lines read them there.
		if _, err := runner.BrokerConfig(p, f.Store(m.Dir)); err != nil {
			return err
		}
	}
	changes, err := export.Write(out, files, o.Force)
	if err != nil {
		return err
	}
	printExport(f, out, changes)
	// The collector's source goes to the workspace root, where the
	// Compose export puts it too: one copy, built from there.
	source, err := export.CollectorSource(p)
	if err != nil {
		return err
	}
	if changes, err = export.Write(m.Dir, source, o.Force); err != nil {
		return err
	}
	printExport(f, m.Dir, changes)
	fmt.Fprintf(f.IO.ErrOut, "Not exported: %s.\n", strings.Join(append(export.NotExportedBy("k8s"), export.K8sSkipped(p)...), "; "))
	fmt.Fprintf(f.IO.ErrOut, "Create the secrets as %s says, then: kubectl apply -k %s\n",
		filepath.Join(out, "README.md"), filepath.Join(out, "overlays", "local"))
	return nil
}

func newExportComposeCmd(f *Factory, runF func(context.Context, *exportOptions) error) *cobra.Command {
	run := orRun(f, runF, runExportCompose)
	o := &exportOptions{}
	c := &cobra.Command{
		Use:   "compose",
		Short: "Write compose.yaml: the same topology for Docker Compose v2",
		Long: `Write compose.yaml, read from msx.yaml through the same plan msx up applies:
every service and the gateway with a build: section (its production Dockerfile)
and an image: name, the trace collector built from its source (written beside
compose.yaml, in collector/), the NATS broker, each database on a private
network only its service joins, named volumes, secrets as Compose secrets read
from the files msx keeps under .msx/secrets (created now if missing, never
copied into the file; the gateway's keys, which are yours to make, when they
are there), health checks that depends_on waits for, ports on
127.0.0.1, and the containers confined as msx up confines them. With --images
msx it runs the images msx up built instead, so it needs no registry and no
Dockerfile build.

Then: docker compose up -d (from the --out folder).`,
		Example: "  msx export compose\n  msx export compose --out deploy --images msx",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Images != "" && o.Images != "msx" {
				return msxerr.Usage("--images %q is not known; use --images msx, or leave it out to build from the Dockerfiles", o.Images)
			}
			return run(c.Context(), o)
		},
	}
	c.Flags().StringVar(&o.Out, "out", "", "folder to write compose.yaml (and collector/) into (default: the workspace root)")
	c.Flags().StringVar(&o.Images, "images", "", `"msx": run the images msx up built instead of building from the Dockerfiles`)
	c.Flags().BoolVar(&o.Force, "force", false, "overwrite exported files that were edited")
	return c
}

// exportPlan loads the manifest and makes the plan of every service.
func exportPlan(f *Factory, out, def string) (*devenv.Manifest, *devenv.Plan, string, error) {
	m, err := f.Manifest()
	if err != nil {
		return nil, nil, "", err
	}
	// The gateway's keys the workspace keeps are exported, as msx up
	// gives them to the gateway; none is generated.
	keys, err := runner.GatewayKeys(f.Store(m.Dir))
	if err != nil {
		return nil, nil, "", err
	}
	// Compose and Kubernetes run a service's replicas themselves.
	p, err := devenv.MakePlan(m, devenv.PlanOptions{MsxVersion: msxVersion(), GatewayKeys: keys, ReplicasByEngine: true})
	if err != nil {
		return nil, nil, "", err
	}
	if w := export.KeylessWarning(m, keys); w != "" {
		fmt.Fprintln(f.IO.ErrOut, w)
	}
	if out == "" {
		out = filepath.Join(m.Dir, def)
	} else if !filepath.IsAbs(out) {
		wd, err := f.WorkDir()
		if err != nil {
			return nil, nil, "", err
		}
		out = filepath.Join(wd, out)
	}
	return m, p, filepath.Clean(out), nil
}

func runExportCompose(ctx context.Context, f *Factory, o *exportOptions) error {
	m, p, out, err := exportPlan(f, o.Out, ".")
	if err != nil {
		return err
	}
	opts := export.ComposeOptions{OutDir: out}
	if o.Images == "msx" {
		if opts.Built, err = builtImages(ctx, f, m); err != nil {
			return err
		}
	} else {
		for _, df := range export.Dockerfiles(p) {
			if _, err := os.Stat(filepath.Join(m.Dir, filepath.FromSlash(df))); err != nil {
				return msxerr.New("generate it again with msx new service NAME --force, or pass --images msx",
					"%s, which the export builds from, is missing", df)
			}
		}
	}
	files, err := export.Compose(p, opts)
	if err != nil {
		return msxerr.Wrap(err, "run msx up once so that msx builds every image", "cannot export: %v", err)
	}
	// The export references secret files; make sure they exist, so that
	// docker compose up works before any msx up.
	if _, err := runner.SecretValues(p, f.Store(m.Dir)); err != nil {
		return err
	}
	changes, err := export.Write(out, files, o.Force)
	if err != nil {
		return err
	}
	printExport(f, out, changes)
	fmt.Fprintf(f.IO.ErrOut, "Not exported: %s.\n", strings.Join(export.NotExportedBy("compose"), "; "))
	fmt.Fprintf(f.IO.ErrOut, "Run it with: docker compose -f %s up -d\n", filepath.Join(out, export.ComposeFile))
	return nil
}

func printExport(f *Factory, out string, changes []export.Change) {
	for _, c := range changes {
		fmt.Fprintf(f.IO.Out, "%s\t%s\n", c.Action, filepath.Join(out, filepath.FromSlash(c.Path)))
	}
}

// builtImages finds the images msx up built in this workspace.
func builtImages(ctx context.Context, f *Factory, m *devenv.Manifest) (map[string]string, error) {
	cli, err := f.Docker(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	imgs, err := builder.BuiltImages(ctx, cli, m.Project, m.Dir)
	if err != nil {
		return nil, msxerr.Wrap(err, "check that Docker is running", "cannot list the images msx built: %v", err)
	}
	return imgs, nil
}
