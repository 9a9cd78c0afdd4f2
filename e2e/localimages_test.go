package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scriptFunc runs one function of scripts/local-images.sh (sourced without
// its main) with a fake debootstrap first on PATH, and returns its output
// and whether it succeeded.
func scriptFunc(t *testing.T, fakeDebootstrap string, env []string, call string) (string, bool) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "debootstrap"), []byte("#!/bin/sh\n"+fakeDebootstrap), 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "local-images.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", `source <(sed '/^main "\$@"$/d' "$1"); `+call, "bash", script)
	cmd.Env = append(append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH")), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// The Postgres image's root file system is built only from an archive
// whose Release file debootstrap verified against Debian's keyring: a run
// that did not say so fails, whatever debootstrap's exit code.
func TestLocalImagesVerifiesTheArchive(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	args := `echo "args: $*"; `
	out, ok := scriptFunc(t, args+`echo "I: Retrieving Release"; echo "I: Valid Release signature (key id 4D64FEC119C2029067D6E791F8D2585B8783D481)"`, nil,
		`verified_debootstrap --variant=minbase bookworm /tmp/x http://deb.debian.org/debian`)
	if !ok || !strings.Contains(out, "--force-check-gpg") || !strings.Contains(out, "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg") {
		t.Errorf("a verified run failed or was not forced to verify:\n%s", out)
	}
	for name, fake := range map[string]string{
		"no signature check": `echo "W: Cannot check Release signature; keyring file not available /x.gpg"`,
		"debootstrap failed": `echo "E: Release signed by unknown key"; exit 1`,
	} {
		if out, ok := scriptFunc(t, args+fake, nil, `verified_debootstrap bookworm /tmp/x`); ok {
			t.Errorf("%s: accepted\n%s", name, out)
		}
	}
	// Another NATS version needs its own pinned hash.
	if out, ok := scriptFunc(t, "", []string{"NATS_VERSION=v9.9.9", "NATS_SUM="}, `nats_module_checked /tmp`); ok || !strings.Contains(out, "set NATS_SUM") {
		t.Errorf("a NATS version without a hash: %v\n%s", ok, out)
	}
}

// docs/offline.md shows the literal images: block the script prints: its
// tags are those of the script's recipe today, so a changed recipe changes
// the page too.
func TestOfflinePageShowsTheTags(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	page, err := os.ReadFile(filepath.Join("..", "docs", "offline.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := "images:\n"
	for _, kind := range []string{"postgres", "nats"} {
		tag, ok := scriptFunc(t, "", nil, "image_"+kind)
		if !ok {
			t.Fatalf("image_%s: %s", kind, tag)
		}
		block += "  " + kind + ": " + strings.TrimSpace(tag) + "\n"
	}
	if !strings.Contains(string(page), "```yaml\n"+block+"```") {
		t.Errorf("docs/offline.md does not show the block scripts/local-images.sh --yaml prints today:\n%s", block)
	}
}
