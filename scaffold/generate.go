package scaffold

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/module"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/names"
	"github.com/msx-dev/msx/templates"
)

// GoVersion is the go directive of generated go.mod files and the Go image
// tag of their production Dockerfiles. It must be at least the go directive
// of every module the generated go.mod pins (go 1.26.0 today).
const GoVersion = "1.26.0"

// InitOptions is what msx init asks for.
type InitOptions struct {
	Dir         string // target folder; created if missing
	Project     string // defaults to the folder's base name
	Module      string // defaults to the project name
	GatewayPort int    // defaults to devenv.DefaultGatewayPort
	Force       bool   // overwrite files that differ
	DryRun      bool   // plan only; write nothing
}

// Result lists what generation wrote, or would write under DryRun.
type Result struct {
	Root    string   // absolute folder the paths are relative to
	Changes []Change // in path order
}

// Init generates a new workspace.
func Init(fsys fs.FS, o InitOptions) (*Result, error) {
	if fsys == nil {
		fsys = templates.FS
	}
	root, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if o.Project == "" {
		o.Project = filepath.Base(root)
		if err := names.Validate("project", o.Project); err != nil {
			return nil, msxerr.Wrap(err, "pass --name NAME to choose a valid project name",
				"the folder name %q is not a valid project name", o.Project)
		}
	}
	if err := names.Validate("project", o.Project); err != nil {
		return nil, err
	}
	if o.Module == "" {
		o.Module = o.Project
	}
	if err := module.CheckImportPath(o.Module); err != nil {
		return nil, msxerr.New("use a path such as example.com/"+o.Project, "module path %q is not valid", o.Module)
	}
	if o.GatewayPort == 0 {
		o.GatewayPort = devenv.DefaultGatewayPort
	}
	if err := checkInitTarget(root, o.Force); err != nil {
		return nil, err
	}
	files, err := Render(fsys, "workspace", WorkspaceData{
		Project: o.Project, Module: o.Module, GatewayPort: o.GatewayPort, GoVersion: GoVersion,
	})
	if err != nil {
		return nil, err
	}
	return write(root, files, o.Force, o.DryRun, nil)
}

// checkInitTarget refuses a target that is a file, or a non-empty folder
// without --force.
func checkInitTarget(root string, force bool) error {
	st, err := os.Stat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return msxerr.Wrap(err, "check the path", "cannot use %s", root)
	}
	if !st.IsDir() {
		return msxerr.New("pick a folder name that is not taken", "%s exists and is not a folder", root)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return msxerr.Wrap(err, "check the folder's permissions", "cannot read %s", root)
	}
	if len(entries) > 0 && !force {
		return msxerr.New("pick an empty or new folder, or pass --force to generate into it",
			"%s is not empty", root)
	}
	return nil
}

// ServiceOptions is what msx new service asks for.
type ServiceOptions struct {
	ManifestPath string // the workspace's msx.yaml
	Name         string
	DB           string   // devenv.DBPostgres, DBSQLite or DBNone; default sqlite
	DependsOn    []string // names of existing services
	Port         int      // 0 picks the next free port
	Force        bool
	DryRun       bool
}

// NewService generates services/NAME and registers it in msx.yaml.
func NewService(fsys fs.FS, o ServiceOptions) (*Result, error) {
	if fsys == nil {
		fsys = templates.FS
	}
	if err := names.Validate("service", o.Name); err != nil {
		return nil, err
	}
	if o.DB == "" {
		o.DB = devenv.DBSQLite
	}
	if !slices.Contains(devenv.DBKinds, o.DB) {
		return nil, msxerr.New("use --db "+strings.Join(devenv.DBKinds, ", --db "), "database kind %q is not supported", o.DB)
	}
	m, err := devenv.Load(o.ManifestPath)
	if err != nil {
		return nil, err
	}
	_, exists := m.Services[o.Name]
	if exists && !o.Force {
		return nil, msxerr.New("pick another name, or pass --force to generate it again",
			"service %s already exists in this workspace", o.Name)
	}
	deps, err := dependencies(m, o.Name, o.DependsOn)
	if err != nil {
		return nil, err
	}
	if o.Port == 0 {
		if exists {
			o.Port = m.Services[o.Name].Port
		} else {
			o.Port = m.NextPort()
		}
	}
	if err := checkServicePort(m, o.Name, o.Port); err != nil {
		return nil, err
	}
	rel := "services/" + o.Name
	if err := checkInside(m.Dir, rel); err != nil {
		return nil, err
	}
	if !o.Force {
		if entries, _ := os.ReadDir(filepath.Join(m.Dir, filepath.FromSlash(rel))); len(entries) > 0 {
			return nil, msxerr.New("pick another name, or pass --force to generate into it",
				"%s already exists and is not empty", rel)
		}
	}

	files, err := Render(fsys, "service", serviceData(m, o, deps))
	if err != nil {
		return nil, err
	}
	for i := range files {
		files[i].Path = rel + "/" + files[i].Path
	}

	depNames := make([]string, len(deps))
	for i, d := range deps {
		depNames[i] = d.Name
	}
	manifest, err := os.ReadFile(o.ManifestPath)
	if err != nil {
		return nil, msxerr.Wrap(err, "check the file's permissions", "cannot read %s", o.ManifestPath)
	}
	manifest, err = devenv.SetService(manifest, o.Name, devenv.Service{
		Port: o.Port, DB: o.DB, DependsOn: depNames, Route: devenv.Route(o.Name),
	})
	if err != nil {
		return nil, msxerr.Wrap(err, "fix msx.yaml and try again", "cannot register %s in %s: %v", o.Name, devenv.FileName, err)
	}
	manifestRel, err := filepath.Rel(m.Dir, o.ManifestPath)
	if err != nil || strings.HasPrefix(manifestRel, "..") {
		return nil, msxerr.New("keep msx.yaml at the workspace root", "%s is outside the workspace", o.ManifestPath)
	}
	manifestRel = filepath.ToSlash(manifestRel)
	files = append(files, File{Path: manifestRel, Data: manifest})
	return write(m.Dir, files, o.Force, o.DryRun, map[string]bool{manifestRel: true})
}

// dependencies checks --depends-on and returns the template's view of each
// dependency, sorted by name.
func dependencies(m *devenv.Manifest, self string, names_ []string) ([]Dep, error) {
	seen := map[string]bool{}
	var deps []Dep
	for _, d := range names_ {
		d = strings.TrimSpace(d)
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		if err := names.Validate("dependency", d); err != nil {
			return nil, err
		}
		if d == self {
			return nil, msxerr.New("remove it from --depends-on", "service %s cannot depend on itself", self)
		}
		s, ok := m.Services[d]
		if !ok {
			return nil, msxerr.New("create it first with msx new service "+d+", or fix --depends-on",
				"dependency %s is not a service of this workspace", d)
		}
		deps = append(deps, Dep{
			Name: d, GoName: names.GoName(d), VarName: names.LowerGoName(d),
			EnvVar: names.EnvName(d) + "_URL", Port: s.Port,
		})
	}
	slices.SortFunc(deps, func(a, b Dep) int { return strings.Compare(a.Name, b.Name) })
	return deps, nil
}

func checkServicePort(m *devenv.Manifest, self string, port int) error {
	if port < 1 || port > 65535 {
		return msxerr.New("use a port between 1 and 65535", "port %d is not valid", port)
	}
	if port == m.Gateway.Port {
		return msxerr.New("pick another --port", "port %d is the gateway's", port)
	}
	for _, n := range m.ServiceNames() {
		if n != self && m.Services[n].Port == port {
			return msxerr.New("pick another --port, or leave it out to take the next free one",
				"port %d is already used by service %s", port, n)
		}
	}
	return nil
}

// checkInside makes sure rel, resolved through any symbolic links that
// exist on disk, stays inside the workspace root.
func checkInside(root, rel string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	// Resolve the deepest part of the path that exists.
	existing := p
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return err
	}
	if r, err := filepath.Rel(realRoot, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return msxerr.New("remove the link or point it inside the workspace",
			"%s resolves outside the workspace (to %s)", rel, real)
	}
	return nil
}

func serviceData(m *devenv.Manifest, o ServiceOptions, deps []Dep) ServiceData {
	return ServiceData{
		Project: m.Project, Module: m.Module, Name: o.Name,
		GoName: names.GoName(o.Name), EnvName: names.EnvName(o.Name),
		DB: o.DB, Port: o.Port, Deps: deps, GoVersion: GoVersion,
	}
}

// write plans the changes and, unless dryRun, applies them.
func write(root string, files []File, force, dryRun bool, updates map[string]bool) (*Result, error) {
	changes, err := planWrites(root, files, force, updates)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	if !dryRun {
		if err := apply(root, changes); err != nil {
			return nil, err
		}
	}
	return &Result{Root: root, Changes: changes}, nil
}
