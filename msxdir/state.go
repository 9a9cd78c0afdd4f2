// Package msxdir is what msx keeps under a workspace's .msx/ folder: the
// secrets it generates (database passwords) and, later, caches. The folder
// is 0700 and every file in it 0600, and it is git-ignored by the generated
// .gitignore; nothing here is ever printed.
package msxdir

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/msx-dev/msx/msxerr"
)

// DirName is the state folder at the root of a workspace.
const DirName = ".msx"

// secretsDir holds one file per secret, named after the secret.
const secretsDir = "secrets"

// Modes of the state folders and files: the owner only.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// secretBytes is the entropy of a generated secret: 24 random bytes, 48 hex
// characters, safe in a URL, a DSN and a shell without quoting.
const secretBytes = 24

// Store is the state of one workspace.
type Store struct {
	// Dir is the workspace root (the folder of msx.yaml).
	Dir string

	mu        sync.Mutex
	generated map[string]bool
}

// New returns the store of the workspace at dir.
func New(dir string) *Store { return &Store{Dir: dir} }

// Path is the state folder.
func (s *Store) Path() string { return filepath.Join(s.Dir, DirName) }

// Ensure makes the state folder, mode 0700, or tightens one that exists:
// whatever msx keeps there (secrets, binaries) is the user's alone.
func (s *Store) Ensure() error { return ensureDir(s.Path()) }

// SecretPath is the file that holds a secret.
func (s *Store) SecretPath(name string) string {
	return filepath.Join(s.Path(), secretsDir, name)
}

// checkName refuses secret names that could leave the secrets folder.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return fmt.Errorf("secret name %q is not a plain file name", name)
	}
	return nil
}

// Secret returns the value of a secret, generating and storing a random
// one the first time. The value is the file's content without surrounding
// white space, so that a user may write one by hand.
func (s *Store) Secret(name string) (string, error) {
	return s.SecretWith(name, randomSecret)
}

// randomSecret is a new random password.
func randomSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// SecretWith is Secret for a secret that gen makes the first time (a
// broker user's seed) instead of a random password.
func (s *Store) SecretWith(name string, gen func() (string, error)) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if strings.HasSuffix(name, KeySuffix) || strings.HasSuffix(name, KeySuffix+".pub") {
		return s.keyPair(name)
	}
	v, err := s.read(name)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	v, err = gen()
	if err != nil {
		return "", err
	}
	if err := s.write(name, v); err != nil {
		return "", err
	}
	s.mu.Lock()
	if s.generated == nil {
		s.generated = map[string]bool{}
	}
	s.generated[name] = true
	s.mu.Unlock()
	// Two msx processes may generate the same secret at once: the first
	// rename wins, and both return what is on disk.
	return s.read(name)
}

// Generated reports whether this Store generated the secret, rather than
// finding it on disk: a new password for a database whose volume exists
// is one that database does not know.
func (s *Store) Generated(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.generated[name]
}

// Lookup returns a secret that exists, without generating one; ok is false
// when it has never been generated.
func (s *Store) Lookup(name string) (value string, ok bool, err error) {
	if err := checkName(name); err != nil {
		return "", false, err
	}
	v, err := s.read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	return v, err == nil, err
}

func (s *Store) read(name string) (string, error) {
	p := s.SecretPath(name)
	st, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", msxerr.Wrap(err, "check its permissions", "cannot read %s", p)
	}
	if !st.Mode().IsRegular() {
		return "", msxerr.New("remove it; msx generates a new secret", "%s is not a regular file", p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "", msxerr.Wrap(err, "check its permissions", "cannot read %s", p)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", msxerr.New("remove it; msx generates a new secret (then run msx down --volumes, since the database keeps the old one)", "%s is empty", p)
	}
	return v, nil
}

// Set stores a file msx makes from other secrets each time (the broker's
// configuration), replacing what is there in one rename: the user does
// not edit it.
func (s *Store) Set(name, value string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if old, err := s.read(name); err == nil && old == strings.TrimSpace(value) {
		return nil
	}
	tmp := s.SecretPath("." + name + ".set")
	_ = os.Remove(tmp) // one a crash left: write never replaces a file
	if err := s.write("."+name+".set", value); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Rename(tmp, s.SecretPath(name)); err != nil {
		return msxerr.Wrap(err, "check the folder's permissions", "cannot write %s", s.SecretPath(name))
	}
	return nil
}

// write stores a secret atomically: a temporary file of mode 0600 renamed
// over the name, in folders of mode 0700.
func (s *Store) write(name, value string) error {
	dir := filepath.Join(s.Path(), secretsDir)
	if err := ensureDir(s.Path()); err != nil {
		return err
	}
	if err := ensureDir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return msxerr.Wrap(err, "check the folder's permissions", "cannot write in %s", dir)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return msxerr.Wrap(err, "check the free space", "cannot write %s", tmp)
	}
	if err := f.Close(); err != nil {
		return err
	}
	dst := s.SecretPath(name)
	// Link, not rename: an existing secret is never replaced, so that two
	// processes racing agree on the first one written.
	if err := os.Link(tmp, dst); err != nil && !errors.Is(err, fs.ErrExist) {
		return msxerr.Wrap(err, "check the folder's permissions", "cannot write %s", dst)
	}
	return nil
}

// ensureDir makes a state folder of mode 0700, and tightens one that exists
// with a looser mode (an older msx, or a user's mkdir).
func ensureDir(dir string) error {
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(dir, DirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return msxerr.Wrap(err, "check the workspace folder's permissions", "cannot create %s", dir)
		}
		return os.Chmod(dir, DirMode) // the umask may have narrowed it further; keep it exact
	case err != nil:
		return msxerr.Wrap(err, "check its permissions", "cannot read %s", dir)
	case !st.IsDir():
		return msxerr.New("remove or rename it; msx keeps its state there", "%s is not a folder", dir)
	case st.Mode().Perm() != DirMode:
		return os.Chmod(dir, DirMode)
	}
	return nil
}

// KeySuffix marks a secret that is an Ed25519 private key in PKCS #8 PEM
// (a program's identity key); NAME.pub is its public key in PKIX PEM. Both
// are generated together the first time either is asked for, and the
// public key is derived from the private one whenever it is read, so the
// two always match. A new key pair is not Generated: no data were made
// with the old one.
const KeySuffix = ".ed25519"

func (s *Store) keyPair(name string) (string, error) {
	privName, public := strings.CutSuffix(name, ".pub")
	v, err := s.read(privName)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return "", gerr
		}
		der, gerr := x509.MarshalPKCS8PrivateKey(priv)
		if gerr != nil {
			return "", gerr
		}
		if err := s.write(privName, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))); err != nil {
			return "", err
		}
		v, err = s.read(privName) // the first written wins a race
	}
	if err != nil || !public {
		return v, err
	}
	blk, _ := pem.Decode([]byte(v))
	var key any
	if blk != nil && blk.Type == "PRIVATE KEY" {
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok || err != nil {
		return "", msxerr.New("remove it; msx generates a new key pair", "%s is not an Ed25519 private key in PEM", s.SecretPath(privName))
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return "", err
	}
	pub := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	// Kept beside the private key for the exports, which read the files.
	if old, err := s.read(name); err != nil || old != pub {
		os.Remove(s.SecretPath(name))
		if err := s.write(name, pub); err != nil {
			return "", err
		}
	}
	return pub, nil
}
