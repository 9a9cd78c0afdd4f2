package msxdir

import (
	"os"
	"path/filepath"

	"github.com/msx-dev/msx/msxerr"
)

// WriteFile stores data as .msx/NAME, mode 0600, replacing what was there
// atomically (a temporary file renamed over it), and returns its path: for
// files msx derives from its secrets for a client to read, such as a
// Postgres password file.
func (s *Store) WriteFile(name string, data []byte) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := ensureDir(s.Path()); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(s.Path(), "."+name+".tmp*")
	if err != nil {
		return "", msxerr.Wrap(err, "check the folder's permissions", "cannot write in %s", s.Path())
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", msxerr.Wrap(err, "check the free space", "cannot write %s", tmp)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	dst := filepath.Join(s.Path(), name)
	if err := os.Rename(tmp, dst); err != nil {
		return "", msxerr.Wrap(err, "check the folder's permissions", "cannot write %s", dst)
	}
	return dst, nil
}
