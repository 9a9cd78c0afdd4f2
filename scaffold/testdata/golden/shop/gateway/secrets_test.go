package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestInstallSecretsCopiesReadable(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(from, "api-keys"), []byte("k1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, "api-keys"), []byte("old\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	for range 2 { // again over what it installed
		if err := installSecrets(from, to); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(filepath.Join(to, "api-keys"))
	if err != nil || st.Mode().Perm() != 0o444 {
		t.Fatalf("installed key: %v, %v; want mode 0444", st, err)
	}
	if got, _ := os.ReadFile(filepath.Join(to, "api-keys")); string(got) != "k1\n" {
		t.Fatalf("installed key reads %q", got)
	}
	if entries, _ := os.ReadDir(to); len(entries) != 1 {
		t.Fatalf("left %d files in the volume, want the key alone", len(entries))
	}
	if err := installSecrets(filepath.Join(from, "missing"), to); err == nil {
		t.Fatal("no error for a folder that is not there")
	}
}

func TestInstallSecretsMakesOwnedDir(t *testing.T) {
	from, to, data := t.TempDir(), t.TempDir(), t.TempDir()
	uid := os.Getuid() // chown to oneself needs no privilege
	t.Setenv(ownedDirEnv, filepath.Join(data, "store")+":"+strconv.Itoa(uid)+","+filepath.Join(to, "postgres")+":"+strconv.Itoa(uid))
	if err := installSecrets(from, to); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(data, "store"), filepath.Join(to, "postgres")} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v, %v", d, st, err)
		}
	}
	for _, bad := range []string{"store:1", filepath.Join(data, "x") + ":me"} {
		t.Setenv(ownedDirEnv, bad)
		if err := installSecrets(from, to); err == nil {
			t.Errorf("%s=%q: no error", ownedDirEnv, bad)
		}
	}
}
