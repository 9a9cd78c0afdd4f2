package scaffold

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/names"
	"github.com/msx-dev/msx/templates"
)

// RemoveOptions is what msx remove service asks for.
type RemoveOptions struct {
	ManifestPath string
	Name         string
	DryRun       bool
}

// RemoveService is the reverse of NewService: it takes the service out of
// msx.yaml (and so out of the gateway's routes) and deletes the files of
// services/NAME that are as msx generated them. Files edited or added
// since are kept and listed as Kept, with their folders. A service that
// others depend on is refused: their code imports its API package.
func RemoveService(fsys fs.FS, o RemoveOptions) (*Result, error) {
	if fsys == nil {
		fsys = templates.FS
	}
	if err := names.Validate("service", o.Name); err != nil {
		return nil, err
	}
	m, manifest, err := devenv.LoadData(o.ManifestPath)
	if err != nil {
		return nil, err
	}
	s, ok := m.Services[o.Name]
	if !ok {
		return nil, msxerr.New("run msx ps or read msx.yaml for the services there are",
			"service %s is not in this workspace", o.Name)
	}
	var callers []string
	for _, n := range m.ServiceNames() {
		if slices.Contains(m.Services[n].DependsOn, o.Name) {
			callers = append(callers, n)
		}
	}
	if len(callers) > 0 {
		return nil, msxerr.New("remove the dependency from them first (msx.yaml and their code), or remove them",
			"%s depends on %s", strings.Join(callers, " and "), o.Name)
	}
	deps, err := dependencies(m, o.Name, s.DependsOn)
	if err != nil {
		return nil, err
	}
	generated, err := renderService(fsys, m, o.Name, s, deps)
	if err != nil {
		return nil, err
	}
	want := map[string][]byte{}
	for _, f := range generated {
		want[f.Path] = f.Data
	}
	var deletes, kept []string
	dir := filepath.Join(m.Dir, "services", o.Name)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return fs.SkipAll // the folder is gone already: only msx.yaml changes
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(m.Dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			kept = append(kept, rel) // never follow or delete through a link
			return nil
		}
		if g, ok := want[rel]; ok && bytes.Equal(g, data) {
			deletes = append(deletes, rel)
		} else {
			kept = append(kept, rel)
		}
		return nil
	})
	if err != nil {
		return nil, msxerr.Wrap(err, "check the folder's permissions", "cannot read services/%s", o.Name)
	}
	updated, err := devenv.RemoveService(manifest, o.Name)
	if err != nil {
		return nil, msxerr.Wrap(err, "fix msx.yaml and try again", "cannot remove %s from %s: %v", o.Name, devenv.FileName, err)
	}
	manifestRel := filepath.Base(o.ManifestPath)
	res, err := write(m.Dir, []File{{Path: manifestRel, Data: updated, expect: manifest}}, deletes, kept, false, o.DryRun, map[string]bool{manifestRel: true})
	if err != nil || o.DryRun {
		return res, err
	}
	removeEmptyDirs(dir)
	return res, nil
}

// removeEmptyDirs removes dir and the folders under it that are empty,
// deepest first; folders holding kept files stay.
func removeEmptyDirs(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i]) // fails, as it should, when not empty
	}
}
