package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// installSecretsArg makes the gateway copy its key files and exit:
// "gateway install-secrets FROM TO". Docker Compose mounts a file secret
// with the mode and owner of the file on the host (0600, the user who ran
// msx), which the gateway's own user cannot read; an exported compose.yaml
// runs the gateway's image once with this argument, as root, to copy them
// into the volume the gateway reads SECRETS_DIR from. Its image has no
// shell and no cp.
const installSecretsArg = "install-secrets"

// ownedDirEnv, set to PATH:UID[,PATH:UID...], makes install-secrets also
// make each folder PATH owned by UID, in the volumes it mounts: the store
// of a program that does not run as root, in a volume whose root belongs
// to root (the broker's JetStream store), or where a read-only volume
// mounted under the secrets one goes (a database's password), in an
// exported compose.yaml whose images have no shell to do it.
const ownedDirEnv = "MSX_OWNED_DIR"

// makeOwnedDirs makes the folders spec names, each owned by its UID.
func makeOwnedDirs(spec string) error {
	for _, one := range strings.Split(spec, ",") {
		dir, id, ok := strings.Cut(one, ":")
		uid, err := strconv.Atoi(id)
		if !ok || err != nil || !filepath.IsAbs(dir) {
			return fmt.Errorf("%s: %q is not PATH:UID", ownedDirEnv, one)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.Chown(dir, uid, uid); err != nil {
			return err
		}
	}
	return nil
}

// installSecrets copies each file of from into to, readable by every user
// (the volume is mounted read-only into the gateway alone), replacing what
// is there in one rename so the gateway never reads half a key.
func installSecrets(from, to string) error {
	if spec := os.Getenv(ownedDirEnv); spec != "" {
		if err := makeOwnedDirs(spec); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() && e.Type()&os.ModeSymlink == 0 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		tmp := filepath.Join(to, "."+e.Name()+".new")
		if err := os.WriteFile(tmp, data, 0o444); err != nil {
			return err
		}
		if err := os.Chmod(tmp, 0o444); err != nil { // whatever the umask
			return err
		}
		if err := os.Rename(tmp, filepath.Join(to, e.Name())); err != nil {
			return fmt.Errorf("installing %s: %w", e.Name(), err)
		}
	}
	return nil
}
