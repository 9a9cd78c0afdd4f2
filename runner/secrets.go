package runner

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/msx-dev/msx/msxerr"
)

// SecretsFile is where database passwords live in a workspace, mode 0600.
const SecretsFile = ".msx/secrets"

type secrets struct {
	Postgres map[string]string `json:"postgres"`
}

// Passwords returns the database password of each service, generating and
// storing those that do not exist yet. Passwords are random per workspace
// and never printed.
func Passwords(dir string, services []string) (map[string]string, error) {
	path := filepath.Join(dir, SecretsFile)
	var s secrets
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, msxerr.Wrap(err, "check its permissions", "cannot read %s", path)
	default:
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, msxerr.Wrap(err, "delete it to generate new passwords (and run msx down --volumes)", "%s is not valid", path)
		}
	}
	if s.Postgres == nil {
		s.Postgres = map[string]string{}
	}
	changed := false
	out := map[string]string{}
	for _, svc := range services {
		pw := s.Postgres[svc]
		if pw == "" {
			b := make([]byte, 24)
			if _, err := rand.Read(b); err != nil {
				return nil, err
			}
			pw = hex.EncodeToString(b)
			s.Postgres[svc] = pw
			changed = true
		}
		out[svc] = pw
	}
	if changed {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		data, _ := json.MarshalIndent(s, "", "  ")
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
			return nil, msxerr.Wrap(err, "check the folder's permissions", "cannot write %s", path)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	}
	return out, nil
}
