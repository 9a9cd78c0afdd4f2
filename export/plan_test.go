package export

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/templates"
)

// loadCompose exports p under dir/deploy, with its secret files, and loads
// the result with Compose v2's own loader.
func loadCompose(t *testing.T, p *devenv.Plan, o ComposeOptions) *types.Project {
	t.Helper()
	out := filepath.Join(p.Dir, "deploy")
	o.OutDir = out
	files, err := Compose(p, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(out, files, true); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Secrets() {
		path := filepath.Join(p.Dir, ".msx", "secrets", s)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	proj, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  out,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(out, ComposeFile)}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName(p.Project, true) })
	if err != nil {
		t.Fatalf("Compose's loader refuses the export: %v", err)
	}
	return proj
}

// workloads decodes the Deployments and StatefulSets of a k8s export, by
// name, as their pod templates.
func workloads(t *testing.T, files []File) map[string]corev1.PodTemplateSpec {
	t.Helper()
	out := map[string]corev1.PodTemplateSpec{}
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "base/") {
			continue
		}
		for _, doc := range strings.Split(string(f.Data), "\n---\n") {
			switch {
			case strings.Contains(doc, "\nkind: Deployment\n"):
				var d appsv1.Deployment
				if err := yaml.UnmarshalStrict([]byte(doc), &d); err != nil {
					t.Fatal(err)
				}
				out[d.Name] = d.Spec.Template
			case strings.Contains(doc, "\nkind: StatefulSet\n"):
				var s appsv1.StatefulSet
				if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
					t.Fatal(err)
				}
				out[s.Name] = s.Spec.Template
			}
		}
	}
	return out
}

// checkHardening compares every container's confinement in both exports
// with the plan's hardening of it, field by field.
func checkHardening(t *testing.T, p *devenv.Plan) {
	t.Helper()
	proj := loadCompose(t, p, ComposeOptions{})
	files, err := K8s(p, K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := workloads(t, files)
	for _, c := range p.Containers {
		h := c.Hardening
		if h == nil {
			t.Fatalf("%s has no hardening in the plan", c.Service)
		}
		s, ok := proj.Services[c.Service]
		if !ok {
			t.Fatalf("%s is not in compose.yaml", c.Service)
		}
		var tmpfs []string
		for path, opts := range h.Tmpfs {
			tmpfs = append(tmpfs, path+":"+opts)
		}
		slices.Sort(tmpfs)
		got := fmt.Sprint(s.ReadOnly, s.Tmpfs, s.CapDrop, s.CapAdd, slices.Contains(s.SecurityOpt, "no-new-privileges:true"),
			int64(s.MemLimit), s.PidsLimit, s.User)
		want := fmt.Sprint(h.ReadOnlyRootFS, tmpfs, h.CapDrop, h.CapAdd, h.NoNewPrivileges, h.MemoryBytes, h.Pids, c.User)
		if got != want {
			t.Errorf("compose %s: read-only, tmpfs, cap drop, cap add, no-new-privileges, memory, pids, user\n got %s\nwant %s", c.Service, got, want)
		}
		restart := "no"
		if h.RestartOnFailure > 0 {
			restart = fmt.Sprintf("on-failure:%d", h.RestartOnFailure)
		}
		if s.Restart != restart {
			t.Errorf("compose %s: restart %q, want %q", c.Service, s.Restart, restart)
		}

		pod, ok := pods[c.Service]
		if !ok {
			t.Fatalf("%s has no workload in the k8s export", c.Service)
		}
		kc := pod.Spec.Containers[0]
		sc := kc.SecurityContext
		var drop []string
		for _, d := range sc.Capabilities.Drop {
			drop = append(drop, string(d))
		}
		mounts := map[string]string{}
		for _, m := range kc.VolumeMounts {
			mounts[m.MountPath] = m.Name
		}
		var kTmpfs []string
		for _, v := range pod.Spec.Volumes {
			if v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory {
				for path, name := range mounts {
					if name == v.Name {
						kTmpfs = append(kTmpfs, path)
					}
				}
			}
		}
		slices.Sort(kTmpfs)
		mem := kc.Resources.Limits[corev1.ResourceMemory]
		got = fmt.Sprint(*sc.ReadOnlyRootFilesystem, kTmpfs, drop, sc.Capabilities.Add, !*sc.AllowPrivilegeEscalation, mem.Value())
		want = fmt.Sprint(h.ReadOnlyRootFS, slices.Sorted(func(yield func(string) bool) {
			for k := range h.Tmpfs {
				if !yield(k) {
					return
				}
			}
		}), h.CapDrop, []corev1.Capability(nil), h.NoNewPrivileges, h.MemoryBytes)
		if got != want {
			t.Errorf("k8s %s: read-only, tmpfs, cap drop, cap add, no privilege gain, memory\n got %s\nwant %s", c.Service, got, want)
		}
		ps := pod.Spec.SecurityContext
		if ps.RunAsUser == nil || *ps.RunAsUser == 0 || !*ps.RunAsNonRoot || (c.User != "" && fmt.Sprint(*ps.RunAsUser) != c.User) {
			t.Errorf("k8s %s runs as %v, plan user %q", c.Service, ps.RunAsUser, c.User)
		}
	}
}

// The exports read the plan's hardening rather than applying their own:
// they follow it when it changes, for programs and instances alike.
func TestExportsFollowThePlansHardening(t *testing.T) {
	p := workspace(t, t.TempDir())
	checkHardening(t, p)

	for i := range p.Containers {
		h := *p.Containers[i].Hardening
		h.Tmpfs = map[string]string{"/tmp": "rw,size=8m", "/cache": "rw,size=32m"}
		h.MemoryBytes, h.Pids = 300<<20, 99
		if p.Containers[i].Service == "search" {
			h.ReadOnlyRootFS, h.NoNewPrivileges = false, false
			h.CapDrop = []string{"NET_RAW"}
		}
		p.Containers[i].Hardening = &h
	}
	checkHardening(t, p)
}

// Compose health checks: each program runs its own check (the program
// where the image holds it), each instance its readiness command, and
// whatever depends on a container with a check waits until it is healthy.
func TestComposeHealthChecks(t *testing.T) {
	for _, msxImages := range []bool{false, true} {
		p := workspace(t, t.TempDir())
		var o ComposeOptions
		if msxImages {
			o.Built = map[string]string{}
			for _, c := range p.Containers {
				if c.Image.Build != "" {
					o.Built[c.Image.Build] = "msx-shop/" + c.Image.Build + ":1"
				}
			}
		}
		proj := loadCompose(t, p, o)
		for _, c := range p.Containers {
			s := proj.Services[c.Service]
			var want []string
			switch {
			case len(c.Ready.Healthcheck) > 0:
				want = c.Ready.Healthcheck
			case c.Role == devenv.RoleService || c.Role == devenv.RoleGateway || c.Role == devenv.RoleCollector:
				prog := "/" + c.Service
				if msxImages {
					prog = devenv.SwapDir + "/app"
				}
				want = []string{"CMD", prog, "healthcheck"}
			}
			var got []string
			if s.HealthCheck != nil {
				got = s.HealthCheck.Test
			}
			if !slices.Equal(got, want) {
				t.Errorf("images from msx %v: %s health check %q, want %q", msxImages, c.Service, got, want)
			}
			for _, d := range c.DependsOn {
				cond := types.ServiceConditionStarted
				if proj.Services[d].HealthCheck != nil {
					cond = types.ServiceConditionHealthy
				}
				if got := s.DependsOn[d].Condition; got != cond {
					t.Errorf("%s waits on %s with %q, want %q", c.Service, d, got, cond)
				}
			}
		}
	}
}

// A pod that mounts a secret can read it: the files belong to the pod's
// group (fsGroup) and are group-readable, whatever user the image has.
func TestK8sSecretsAreReadable(t *testing.T) {
	files, err := K8s(workspace(t, "/src/shop"), K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, pod := range workloads(t, files) {
		for _, v := range pod.Spec.Volumes {
			if v.Secret == nil {
				continue
			}
			n++
			mode := *v.Secret.DefaultMode
			ps := pod.Spec.SecurityContext
			if ps.FSGroup == nil || mode&0o040 == 0 || mode&0o007 != 0 {
				t.Errorf("%s: secret %s mode %o, fsGroup %v: not readable by the pod's group alone", name, v.Name, mode, ps.FSGroup)
			}
		}
	}
	if n != 15 {
		t.Errorf("%d secret volumes, want 15 (the database's, its service's, the gateway's two keys, 8 identity keys, the broker's configuration and two seeds)", n)
	}
}

// The collector is msx's program: an export that builds carries its
// source as msx embeds it, with a Dockerfile whose program is where the
// health check and the plan expect it.
func TestCollectorSource(t *testing.T) {
	src, err := templates.CollectorFiles()
	if err != nil {
		t.Fatal(err)
	}
	p := workspace(t, "/src/shop")
	cfiles, err := Compose(p, ComposeOptions{OutDir: "/src/shop"})
	if err != nil {
		t.Fatal(err)
	}
	kfiles, err := CollectorSource(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, files := range [][]File{cfiles, kfiles} {
		got := map[string][]byte{}
		for _, f := range files {
			if rest, ok := strings.CutPrefix(f.Path, CollectorDir+"/"); ok {
				got[rest] = f.Data
			}
		}
		df := got["Dockerfile"]
		if !bytes.Contains(df, []byte(`ENTRYPOINT ["/collector"]`)) || !bytes.Contains(df, []byte("ARG GO_IMAGE=golang:"+templates.GoVersion)) {
			t.Errorf("collector Dockerfile:\n%s", df)
		}
		delete(got, "Dockerfile")
		if len(got) != len(src) {
			t.Errorf("%d collector files exported, msx embeds %d", len(got), len(src))
		}
		for name, data := range src {
			if !bytes.Equal(got[name], data) {
				t.Errorf("collector/%s differs from msx's embedded source", name)
			}
		}
	}
}

// Every pod of the default plan passes the restricted Pod Security
// Standard: non-root, RuntimeDefault seccomp, no privilege escalation, all
// capabilities dropped and none added, and only the volume types it allows.
func TestK8sPodsAreRestricted(t *testing.T) {
	files, err := K8s(workspace(t, "/src/shop"), K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := workloads(t, files)
	if len(pods) != 7 {
		t.Fatalf("%d workloads", len(pods))
	}
	for name, pod := range pods {
		ps := pod.Spec.SecurityContext
		if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil ||
			ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod securityContext %+v", name, ps)
		}
		for _, c := range pod.Spec.Containers {
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
				!slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: container securityContext %+v", name, sc)
			}
		}
		for _, v := range pod.Spec.Volumes {
			if v.EmptyDir == nil && v.Secret == nil && v.PersistentVolumeClaim == nil && v.ConfigMap == nil {
				t.Errorf("%s: volume %s is of a type the restricted standard refuses", name, v.Name)
			}
		}
	}
}
