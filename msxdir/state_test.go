package msxdir

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestSecretGeneratedOnceAndKept(t *testing.T) {
	s := New(t.TempDir())
	a, err := s.Secret("orders-db-db-password")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2*secretBytes || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("secret %q is not %d hex characters", a, 2*secretBytes)
	}
	if !s.Generated("orders-db-db-password") {
		t.Error("a new secret is not reported as generated")
	}
	other := New(s.Dir)
	b, err := other.Secret("orders-db-db-password")
	if err != nil || b != a {
		t.Errorf("second read = %q, %v; want the first", b, err)
	}
	if other.Generated("orders-db-db-password") {
		t.Error("a secret read from disk is reported as generated")
	}
	c, err := s.Secret("users-db-db-password")
	if err != nil || c == a {
		t.Errorf("another secret = %q, %v", c, err)
	}
	v, ok, err := s.Lookup("orders-db-db-password")
	if err != nil || !ok || v != a {
		t.Errorf("lookup = %q %v %v", v, ok, err)
	}
	if _, ok, err := s.Lookup("nope"); ok || err != nil {
		t.Errorf("lookup of a missing secret = %v, %v", ok, err)
	}
}

func TestModes(t *testing.T) {
	dir := t.TempDir()
	// A folder made by hand with a loose mode is tightened.
	if err := os.Mkdir(filepath.Join(dir, DirName), 0o755); err != nil {
		t.Fatal(err)
	}
	s := New(dir)
	if _, err := s.Secret("x"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{s.Path(), filepath.Join(s.Path(), secretsDir)} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", p, st.Mode().Perm(), err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(s.Path(), secretsDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files left in the secrets folder: %v", entries)
	}
	st, err := os.Stat(s.SecretPath("x"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
}

func TestConcurrentGenerationAgrees(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := New(dir).Secret("pw")
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for _, v := range got {
		if v != got[0] {
			t.Fatalf("racing generations disagree: %q", got)
		}
	}
}

func TestBadNamesAndFiles(t *testing.T) {
	s := New(t.TempDir())
	for _, n := range []string{"", "../x", "a/b", ".hidden", ".."} {
		if _, err := s.Secret(n); err == nil {
			t.Errorf("Secret(%q) accepted", n)
		}
	}
	if err := os.MkdirAll(filepath.Join(s.Path(), secretsDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.SecretPath("empty"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secret("empty"); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty secret: %v", err)
	}
	if err := os.Symlink("/etc/passwd", s.SecretPath("link")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secret("link"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlinked secret: %v", err)
	}
	if err := os.WriteFile(s.SecretPath("hand"), []byte("  written-by-hand \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Secret("hand"); err != nil || v != "written-by-hand" {
		t.Errorf("hand-written secret = %q, %v", v, err)
	}
}

func TestIdentityKeyPairs(t *testing.T) {
	s := New(t.TempDir())
	pub, err := s.Secret("identity-orders" + KeySuffix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := s.Secret("identity-orders" + KeySuffix)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(priv))
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ = pem.Decode([]byte(pub))
	pk, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !pk.(ed25519.PublicKey).Equal(key.(ed25519.PrivateKey).Public()) {
		t.Error("the public key is not the private key's")
	}
	for _, n := range []string{"identity-orders" + KeySuffix, "identity-orders" + KeySuffix + ".pub"} {
		st, err := os.Stat(s.SecretPath(n))
		if err != nil || st.Mode().Perm() != FileMode {
			t.Errorf("%s: %v, mode %v; want 0600", n, err, st.Mode().Perm())
		}
		if s.Generated(n) {
			t.Errorf("%s counts as a generated password", n)
		}
	}
	if again, _ := s.Secret("identity-orders" + KeySuffix); again != priv {
		t.Error("a second read made a new key")
	}
	if other, _ := s.Secret("identity-ledger" + KeySuffix + ".pub"); other == pub {
		t.Error("two programs share a key")
	}
}

func TestSecretWithAndSet(t *testing.T) {
	s := New(t.TempDir())
	v, err := s.SecretWith("nats-orders.nk", func() (string, error) { return "SUSEED", nil })
	if err != nil || v != "SUSEED" || !s.Generated("nats-orders.nk") {
		t.Fatalf("SecretWith = %q, %v", v, err)
	}
	// Made once: the second call reads it.
	v, _ = s.SecretWith("nats-orders.nk", func() (string, error) { return "OTHER", nil })
	if v != "SUSEED" {
		t.Errorf("second SecretWith = %q", v)
	}
	for _, want := range []string{"conf one", "conf two"} {
		if err := s.Set("nats-server.conf", want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Lookup("nats-server.conf")
		if err != nil || !ok || got != want {
			t.Errorf("after Set(%q): %q %v %v", want, got, ok, err)
		}
	}
	st, err := os.Stat(s.SecretPath("nats-server.conf"))
	if err != nil || st.Mode().Perm() != FileMode {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Path(), "secrets"))
	if len(entries) != 2 {
		t.Errorf("files left: %v", entries)
	}
	if err := s.Set("../x", "v"); err == nil {
		t.Error("a path was accepted")
	}
}
