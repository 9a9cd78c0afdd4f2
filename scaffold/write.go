package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/msx-dev/msx/confine"
	"github.com/msx-dev/msx/msxerr"
)

// Action says what writing a file does.
type Action string

// Actions, as listed by --dry-run and after generation.
const (
	Create    Action = "create"
	Overwrite Action = "overwrite"
	Update    Action = "update" // a file msx owns a part of, such as msx.yaml
	Unchanged Action = "unchanged"
	Delete    Action = "delete" // a file the old settings generated and the new ones do not
	Kept      Action = "kept"   // a file edited since msx generated it, left as it is
)

// Change is one file and what writing it does.
type Change struct {
	Path   string // slash-separated, relative to the root written into
	Action Action
	data   []byte
	expect []byte // see File.expect
}

// planWrites compares files with what is on disk under root. A file that
// exists with other content is refused unless force, or unless its path is
// in updates (files msx edits on purpose).
func planWrites(root string, files []File, deletes []string, force bool, updates map[string]bool) ([]Change, error) {
	changes := make([]Change, 0, len(files)+len(deletes))
	inside := confine.Checker(root, "the workspace")
	for _, p := range deletes {
		if err := inside(p); err != nil {
			return nil, err
		}
		changes = append(changes, Change{Path: p, Action: Delete})
	}
	var conflicts []string
	for _, f := range files {
		if err := inside(f.Path); err != nil {
			return nil, err
		}
		dst := filepath.Join(root, filepath.FromSlash(f.Path))
		old, err := os.ReadFile(dst)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			changes = append(changes, Change{Path: f.Path, Action: Create, data: f.Data})
		case err != nil:
			return nil, msxerr.Wrap(err, "check the file's permissions", "cannot read %s", dst)
		case bytes.Equal(old, f.Data):
			changes = append(changes, Change{Path: f.Path, Action: Unchanged, data: f.Data})
		case updates[f.Path]:
			changes = append(changes, Change{Path: f.Path, Action: Update, data: f.Data, expect: f.expect})
		case force:
			changes = append(changes, Change{Path: f.Path, Action: Overwrite, data: f.Data})
		default:
			conflicts = append(conflicts, f.Path)
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return nil, msxerr.New("pass --force to overwrite it, or move it away",
			"%s already exists with other content%s", conflicts[0], more(len(conflicts)-1))
	}
	return changes, nil
}

func more(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more files)", n)
}

// apply writes changes under root as one transaction: every file is first
// written to a staging folder on the same file system, then renamed into
// place; if any step fails, what was moved is put back as it was.
func apply(root string, changes []Change) (err error) {
	rootDirs, err := mkdirs(root)
	if err != nil {
		return msxerr.Wrap(err, "check the folder's permissions", "cannot create %s", root)
	}
	stage, err := os.MkdirTemp(root, ".msx-stage-")
	if err != nil {
		removeDirs(rootDirs)
		return msxerr.Wrap(err, "check the folder's permissions", "cannot write in %s", root)
	}
	defer os.RemoveAll(stage)

	type moved struct {
		dst, backup string
		dirs        []string // folders created for dst, deepest last
	}
	var done []moved
	defer func() {
		if err == nil {
			return
		}
		for i := len(done) - 1; i >= 0; i-- {
			m := done[i]
			if m.backup != "" {
				_ = os.Rename(m.backup, m.dst)
			} else {
				_ = os.Remove(m.dst)
			}
			removeDirs(m.dirs)
		}
		_ = os.RemoveAll(stage)
		removeDirs(rootDirs)
	}()

	for i, c := range changes {
		if c.Action == Unchanged || c.Action == Kept || c.Action == Delete {
			continue
		}
		tmp := filepath.Join(stage, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(tmp, c.data, fileMode(filepath.Join(root, filepath.FromSlash(c.Path)))); err != nil {
			return msxerr.Wrap(err, "check free disk space and permissions", "cannot write %s", c.Path)
		}
	}
	for i, c := range changes {
		if c.Action == Unchanged || c.Action == Kept {
			continue
		}
		dst := filepath.Join(root, filepath.FromSlash(c.Path))
		if c.expect != nil {
			if now, err := os.ReadFile(dst); err != nil || !bytes.Equal(now, c.expect) {
				return msxerr.New("run the command again", "%s changed while msx was generating", c.Path)
			}
		}
		m := moved{dst: dst}
		m.dirs, err = mkdirs(filepath.Dir(dst))
		if err != nil {
			return msxerr.Wrap(err, "check the folder's permissions", "cannot create the folder of %s", c.Path)
		}
		if c.Action != Create {
			m.backup = filepath.Join(stage, fmt.Sprintf("b%d", i))
			if err := os.Rename(dst, m.backup); err != nil {
				return msxerr.Wrap(err, "check the file's permissions", "cannot replace %s", c.Path)
			}
		}
		done = append(done, m)
		if c.Action == Delete {
			continue
		}
		if err := os.Rename(filepath.Join(stage, fmt.Sprintf("f%d", i)), dst); err != nil {
			return msxerr.Wrap(err, "check the folder's permissions", "cannot write %s", c.Path)
		}
	}
	return nil
}

// mkdirs creates dir and its missing parents and returns those it created,
// outermost first, so a rollback can remove exactly them.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for i, j := 0, len(missing)-1; i < j; i, j = i+1, j-1 {
		missing[i], missing[j] = missing[j], missing[i]
	}
	return missing, nil
}

// fileMode keeps the mode of a file being replaced (a 0600 msx.yaml stays
// 0600); new files get 0644.
func fileMode(path string) fs.FileMode {
	if st, err := os.Stat(path); err == nil {
		return st.Mode().Perm()
	}
	return 0o644
}

// removeDirs removes folders that mkdirs created, deepest first; a folder
// that is no longer empty stays.
func removeDirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i])
	}
}
