// Package confine is the one rule that keeps msx's writes inside a folder
// (a workspace it scaffolds, the folder an export writes): a relative path,
// followed through the symbolic links that exist on disk, must stay inside
// the root. A link planted at services/orders/migrations, or inside the
// output folder of msx export, must not make msx write elsewhere.
package confine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/msx-dev/msx/msxerr"
)

// Checker returns a check that a slash-separated relative path, followed
// through any symbolic links on disk, stays inside root; what names root
// in the error ("the workspace", "the output folder"). The check caches
// each folder it resolved: make a new one for each write.
func Checker(root, what string) func(string) error {
	realRoot, rootErr := filepath.EvalSymlinks(root)
	if errors.Is(rootErr, fs.ErrNotExist) {
		realRoot, rootErr = filepath.Abs(root) // nothing exists yet: nothing to follow
	}
	resolved := map[string]error{}
	return func(p string) error {
		if err := Relative(p); err != nil {
			return err
		}
		if rootErr != nil {
			return msxerr.Wrap(rootErr, "check the folder", "cannot resolve %s: %v", root, rootErr)
		}
		dir := filepath.Dir(filepath.Join(root, filepath.FromSlash(p)))
		if err, ok := resolved[dir]; ok {
			return err
		}
		err := resolvesInside(filepath.Clean(root), realRoot, dir, p, what)
		resolved[dir] = err
		return err
	}
}

// resolvesInside checks the deepest existing folder of dir, below root,
// against the root's real path; folders still to be created are plain
// folders and cannot lead anywhere.
func resolvesInside(root, realRoot, dir, p, what string) error {
	existing := dir
	for {
		if existing == root {
			return nil
		}
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return nil
		}
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return msxerr.Wrap(err, "remove the broken or looping link", "cannot resolve the folder of %s: %v", p, err)
	}
	if r, err := filepath.Rel(realRoot, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return msxerr.New("remove the link or point it inside "+what,
			"%s would be written outside %s, to %s, through a symbolic link", p, what, real)
	}
	return nil
}

// Relative refuses a path that could leave the root by its spelling.
func Relative(p string) error {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) {
		return fmt.Errorf("generated path %q is not relative", p)
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." || e == "." || e == "" {
			return fmt.Errorf("generated path %q is not clean", p)
		}
	}
	return nil
}
