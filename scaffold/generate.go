package scaffold

import (
	"bytes"
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
// tag of their production Dockerfiles: templates.GoVersion, the one source.
const GoVersion = templates.GoVersion

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

// ProjectName is the project name msx init gives the workspace in dir:
// name (--name) when given, else the folder's name. Either must be a valid
// name; when the folder's is not, the hint suggests a valid one.
func ProjectName(dir, name string) (string, error) {
	if name != "" {
		return name, names.Validate("project", name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	name = filepath.Base(abs)
	if err := names.Validate("project", name); err != nil {
		hint := "pass --name NAME to choose a valid project name"
		if s := names.Suggest(name); s != "" {
			hint = "pass --name " + s + " or another valid project name"
		}
		return "", msxerr.Wrap(err, hint, "the folder name %q is not a valid project name", name)
	}
	return name, nil
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
	if o.Project, err = ProjectName(root, o.Project); err != nil {
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
	if ws := enclosingWorkspace(filepath.Dir(root)); ws != "" {
		return nil, msxerr.New("create it outside that workspace, or add a service to it with msx new service NAME",
			"%s is inside the workspace %s", root, ws)
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
	// init --force over an existing workspace regenerates the gateway and
	// platform code but never its manifest: that would unregister every
	// service.
	if _, err := os.Stat(filepath.Join(root, devenv.FileName)); err == nil {
		files = slices.DeleteFunc(files, func(f File) bool { return f.Path == devenv.FileName })
	}
	return write(root, files, nil, nil, o.Force, o.DryRun, nil)
}

// enclosingWorkspace returns the nearest folder from dir upwards that has
// an msx.yaml, or "".
func enclosingWorkspace(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, devenv.FileName)); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
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
	DB           string   // devenv.DBPostgres, DBSQLite or DBNone; "" keeps what msx.yaml says, else sqlite
	API          string   // devenv.APIREST or APIGraphQL; "" keeps what msx.yaml says, else rest
	DependsOn    []string // names of existing services
	DependsOnSet bool     // DependsOn was given; otherwise an existing service keeps its dependencies
	Port         int      // 0 keeps the service's port, or picks the next free one
	// Subscribes are event subjects (orders.item.created) the service
	// handles; SubscribesSet says they were given, otherwise an existing
	// service keeps its subscriptions.
	Subscribes    []string
	SubscribesSet bool
	Force         bool
	// KeepEdits leaves every file edited since msx generated it as it is,
	// not only those the new settings change: msx add changes settings and
	// must not restore a file the user made their own, as new --force does.
	KeepEdits bool
	DryRun    bool
}

// NewService generates services/NAME and registers it in msx.yaml. With
// Force over an existing service, settings not given keep their values from
// msx.yaml (including the route and protection), and files the old settings
// generated but the new ones do not are removed, unless they were edited.
func NewService(fsys fs.FS, o ServiceOptions) (*Result, error) {
	if fsys == nil {
		fsys = templates.FS
	}
	if err := names.Validate("service", o.Name); err != nil {
		return nil, err
	}
	if o.DB != "" && !slices.Contains(devenv.DBKinds, o.DB) {
		return nil, msxerr.New("use --db "+strings.Join(devenv.DBKinds, ", --db "), "database kind %q is not supported", o.DB)
	}
	if o.API != "" && !slices.Contains(devenv.APIKinds, o.API) {
		return nil, msxerr.New("use --api "+strings.Join(devenv.APIKinds, " or --api "), "API kind %q is not supported", o.API)
	}
	m, manifest, err := devenv.LoadData(o.ManifestPath)
	if err != nil {
		return nil, err
	}
	old, exists := m.Services[o.Name]
	if exists && !o.Force {
		return nil, msxerr.New("pick another name, or pass --force to generate it again",
			"service %s already exists in this workspace", o.Name)
	}
	entry := devenv.Service{DB: devenv.DBSQLite, Route: devenv.Route(o.Name)}
	if exists {
		entry = old
	}
	if o.DB != "" {
		entry.DB = o.DB
	}
	switch o.API {
	case devenv.APIREST:
		entry.API = "" // the default: msx.yaml of a REST service does not say it
	case devenv.APIGraphQL:
		entry.API = o.API
	}
	if o.DependsOnSet || !exists {
		entry.DependsOn = o.DependsOn
	}
	deps, err := dependencies(m, o.Name, entry.DependsOn)
	if err != nil {
		return nil, err
	}
	entry.DependsOn = make([]string, len(deps))
	for i, d := range deps {
		entry.DependsOn[i] = d.Name
	}
	if len(entry.DependsOn) == 0 {
		entry.DependsOn = nil
	}
	if o.SubscribesSet || !exists {
		entry.Subscribes = slices.Compact(slices.Sorted(slices.Values(o.Subscribes)))
		for _, sub := range entry.Subscribes {
			if err := m.CheckSubject(o.Name, sub); err != nil {
				return nil, msxerr.Usage("%v", err)
			}
		}
		if len(entry.Subscribes) == 0 {
			entry.Subscribes = nil
		}
	}
	switch {
	case o.Port != 0:
		entry.Port = o.Port
	case !exists:
		entry.Port = m.NextPort()
	}
	if err := checkServicePort(m, o.Name, entry.Port); err != nil {
		return nil, err
	}
	if !exists {
		if other := m.RouteOwner(entry.Route); other != "" {
			return nil, msxerr.New("pick another name, or change the route of "+other+" in msx.yaml",
				"route %s is already taken by service %s", entry.Route, other)
		}
	}
	rel := "services/" + o.Name
	if err := checkServicesFolder(m.Dir); err != nil {
		return nil, err
	}
	if !o.Force {
		if entries, _ := os.ReadDir(filepath.Join(m.Dir, filepath.FromSlash(rel))); len(entries) > 0 {
			return nil, msxerr.New("pick another name, or pass --force to generate into it",
				"%s already exists and is not empty", rel)
		}
	}

	files, err := renderService(fsys, m, o.Name, entry, deps)
	if err != nil {
		return nil, err
	}
	var stale, kept []string
	if exists {
		oldDeps, err := dependencies(m, o.Name, old.DependsOn)
		if err != nil {
			return nil, err
		}
		oldFiles, err := renderService(fsys, m, o.Name, old, oldDeps)
		if err != nil {
			return nil, err
		}
		if stale, err = staleFiles(m.Dir, oldFiles, files); err != nil {
			return nil, err
		}
		if files, kept, err = keepEdited(m.Dir, oldFiles, files, o.KeepEdits); err != nil {
			return nil, err
		}
	}

	updated, err := devenv.SetService(manifest, o.Name, entry)
	if err != nil {
		return nil, msxerr.Wrap(err, "fix msx.yaml and try again", "cannot register %s in %s: %v", o.Name, devenv.FileName, err)
	}
	// The workspace root is the manifest's folder (devenv.Load), so the
	// manifest is always at the root.
	manifestRel := filepath.Base(o.ManifestPath)
	files = append(files, File{Path: manifestRel, Data: updated, expect: manifest})
	return write(m.Dir, files, stale, kept, o.Force, o.DryRun, map[string]bool{manifestRel: true})
}

// keepEdited takes out of newFiles each file that was edited since the old
// settings generated it, and that the new settings would change: adding a
// dependency rewires main.go and handlers.go only where they are as msx
// left them. The paths taken out are returned, for the user to edit. An
// edited file the new settings generate as before is restored (new
// --force), or, with keepAll (msx add), left as it is and not listed:
// there is nothing in it for the user to do.
func keepEdited(root string, oldFiles, newFiles []File, keepAll bool) (write []File, kept []string, err error) {
	old := map[string][]byte{}
	for _, f := range oldFiles {
		old[f.Path] = f.Data
	}
	for _, f := range newFiles {
		disk, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, nil, msxerr.Wrap(err, "check the file's permissions", "cannot read %s", f.Path)
		case bytes.Equal(disk, f.Data) || bytes.Equal(disk, old[f.Path]):
			// As msx generated it: the new settings may rewrite it.
		case !bytes.Equal(f.Data, old[f.Path]):
			kept = append(kept, f.Path)
			continue
		case keepAll:
			continue
		}
		write = append(write, f)
	}
	return write, kept, nil
}

// renderService renders the service tree for one set of settings, with
// paths relative to the workspace root.
func renderService(fsys fs.FS, m *devenv.Manifest, name string, s devenv.Service, deps []Dep) ([]File, error) {
	files, err := Render(fsys, "service", ServiceData{
		Project: m.Project, Module: m.Module, Name: name,
		GoName: names.GoName(name), EnvName: names.EnvName(name), APIPkg: APIPackage(name),
		DB: s.DB, API: apiKind(s.API), Port: s.Port, Deps: deps, GoVersion: GoVersion,
		GQLAPIPath: gqlgenPath.Replace(m.Module + "/services/" + name + "/" + APIPackage(name)),
		Subscribes: subscriptions(s.Subscribes), Publishers: publishers(s.Subscribes),
	})
	if err != nil {
		return nil, err
	}
	for i := range files {
		// The API package's folder is named after the package.
		if rest, ok := strings.CutPrefix(files[i].Path, "api/"); ok {
			files[i].Path = APIPackage(name) + "/" + rest
		}
		files[i].Path = "services/" + name + "/" + files[i].Path
	}
	return files, nil
}

// staleFiles returns the files that the old settings generated and the new
// ones do not, so that regenerating with --db postgres does not leave the
// SQLite store behind to break the build. A file that was edited since it
// was generated is the user's: it is never removed, and regeneration stops.
func staleFiles(root string, oldFiles, newFiles []File) ([]string, error) {
	keep := map[string]bool{}
	for _, f := range newFiles {
		keep[f.Path] = true
	}
	var stale []string
	for _, f := range oldFiles {
		if keep[f.Path] {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, msxerr.Wrap(err, "check the file's permissions", "cannot read %s", f.Path)
		}
		if !bytes.Equal(data, f.Data) {
			return nil, msxerr.New("move it away or delete it yourself, then run the command again",
				"%s was edited, and the new settings no longer generate it", f.Path)
		}
		stale = append(stale, f.Path)
	}
	return stale, nil
}

// checkServicesFolder makes sure services/ is a folder inside the
// workspace (not a file, nor a link that leads out of it).
func checkServicesFolder(root string) error {
	p := filepath.Join(root, "services")
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return msxerr.Wrap(err, "remove or fix services/ in the workspace", "cannot use %s: %v", p, err)
	case !st.IsDir():
		return msxerr.New("move the file away so msx can create the services folder", "%s is a file, not a folder", p)
	}
	return nil
}

// dependencies checks --depends-on and returns the template's view of each
// dependency, sorted by name.
func dependencies(m *devenv.Manifest, self string, names_ []string) ([]Dep, error) {
	seen := map[string]bool{}
	goNames := map[string]string{}
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
			if near := devenv.Nearest(d, m.ServiceNames()); near != "" {
				return nil, msxerr.New("did you mean --depends-on "+near+"? (or create it first with msx new service "+d+")",
					"dependency %s is not a service of this workspace", d)
			}
			return nil, msxerr.New("create it first with msx new service "+d+", or fix --depends-on",
				"dependency %s is not a service of this workspace", d)
		}
		// a1 and a-1 are different names but the same Go identifier: their
		// clients would be declared twice.
		if other, ok := goNames[names.GoName(d)]; ok {
			return nil, msxerr.New("depend on one of them, or rename one",
				"dependencies %s and %s would both become the Go type %sClient", other, d, names.GoName(d))
		}
		if names.GoName(d) == names.GoName(self) {
			return nil, msxerr.New("depend on another service, or rename one",
				"service %s and its dependency %s would both have the API package %s", self, d, APIPackage(d))
		}
		goNames[names.GoName(d)] = d
		deps = append(deps, Dep{
			Name: d, GoName: names.GoName(d), VarName: names.LowerGoName(d), APIPkg: APIPackage(d), API: apiKind(s.API),
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

// write plans the changes and, unless dryRun, applies them.
func write(root string, files []File, deletes, kept []string, force, dryRun bool, updates map[string]bool) (*Result, error) {
	changes, err := planWrites(root, files, deletes, force, updates)
	if err != nil {
		return nil, err
	}
	for _, p := range kept {
		changes = append(changes, Change{Path: p, Action: Kept})
	}
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	if !dryRun {
		if err := apply(root, changes); err != nil {
			return nil, err
		}
	}
	return &Result{Root: root, Changes: changes}, nil
}

// subscriptions names the handler of each subscribed topic
// (SOURCE.EVENT) and the type of its data in SOURCE's API package.
func subscriptions(topics []string) []Subscription {
	var out []Subscription
	for _, t := range topics {
		source, event, _ := strings.Cut(t, ".")
		out = append(out, Subscription{
			Topic:  t,
			GoName: names.GoName(strings.ReplaceAll(t, ".", "-")),
			APIPkg: APIPackage(source),
			Type:   names.GoName(strings.ReplaceAll(event, ".", "-")),
		})
	}
	return out
}

// publishers are the sources of topics, sorted, each once.
func publishers(topics []string) []Publisher {
	var out []Publisher
	for _, t := range topics {
		source, _, _ := strings.Cut(t, ".")
		if !slices.ContainsFunc(out, func(p Publisher) bool { return p.Name == source }) {
			out = append(out, Publisher{Name: source, APIPkg: APIPackage(source)})
		}
	}
	slices.SortFunc(out, func(a, b Publisher) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// AddDependency makes service call deps as well as what it calls already:
// msx.yaml is updated and the service regenerated with its settings kept,
// leaving alone the files edited since msx generated them (Result lists
// those the new settings would change as Kept). A dependency that would
// close a cycle is refused.
func AddDependency(fsys fs.FS, manifestPath, service string, deps []string, dryRun bool) (*Result, error) {
	m, s, err := loadService(manifestPath, service)
	if err != nil {
		return nil, err
	}
	all := union(s.DependsOn, deps)
	// Refuse a cycle before writing anything: msx up could never start it.
	s.DependsOn = all
	m.Services[service] = s
	if _, err := m.StartOrder(); err != nil {
		return nil, msxerr.Wrap(err, "remove one of the dependencies", "%v", err)
	}
	return NewService(fsys, ServiceOptions{
		ManifestPath: manifestPath, Name: service, DependsOn: all, DependsOnSet: true, Force: true, KeepEdits: true, DryRun: dryRun,
	})
}

// AddSubscription makes service handle subjects (orders.item.created) as
// well as the events it handles already, as msx new service --subscribes
// does for a new one: msx.yaml is updated and the service regenerated with
// its settings kept, leaving alone the files edited since msx generated
// them (Result lists those the new settings would change as Kept).
func AddSubscription(fsys fs.FS, manifestPath, service string, subjects []string, dryRun bool) (*Result, error) {
	_, s, err := loadService(manifestPath, service)
	if err != nil {
		return nil, err
	}
	return NewService(fsys, ServiceOptions{
		ManifestPath: manifestPath, Name: service, Subscribes: union(s.Subscribes, subjects), SubscribesSet: true,
		Force: true, KeepEdits: true, DryRun: dryRun,
	})
}

// loadService reads the manifest and the entry of a service that must be
// in it.
func loadService(manifestPath, service string) (*devenv.Manifest, devenv.Service, error) {
	m, _, err := devenv.LoadData(manifestPath)
	if err != nil {
		return nil, devenv.Service{}, err
	}
	s, ok := m.Services[service]
	if !ok {
		return nil, devenv.Service{}, msxerr.New("create it first with msx new service "+service, "service %s is not in this workspace", service)
	}
	return m, s, nil
}

// union is have followed by the items of add it lacks, in order.
func union(have, add []string) []string {
	all := slices.Clone(have)
	for _, a := range add {
		if !slices.Contains(all, a) {
			all = append(all, a)
		}
	}
	return all
}
