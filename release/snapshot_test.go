package release

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/cmd"
	"github.com/msx-dev/msx/iostreams"
)

// artifact is an entry of GoReleaser's dist/artifacts.json.
type artifact struct {
	Name   string         `json:"name"`
	Path   string         `json:"path"`
	Goos   string         `json:"goos"`
	Goarch string         `json:"goarch"`
	Type   string         `json:"type"`
	Extra  map[string]any `json:"extra"`
}

// TestSnapshot inspects a snapshot built by scripts/release-check.sh (which
// sets MSX_RELEASE_DIST): one archive per platform holding the binary,
// LICENSE, README, completions and a man page per command; checksums that
// match; a linux/amd64 binary whose version names the snapshot, the commit
// and its date; a cask that installs every macOS and Linux archive.
func TestSnapshot(t *testing.T) {
	dist := os.Getenv("MSX_RELEASE_DIST")
	if dist == "" {
		t.Skip("inspects a GoReleaser snapshot: run bash scripts/release-check.sh")
	}
	var meta struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	}
	readJSON(t, filepath.Join(dist, "metadata.json"), &meta)
	if !strings.HasSuffix(meta.Version, "-next") {
		t.Errorf("version %q is not a snapshot version", meta.Version)
	}
	var arts []artifact
	readJSON(t, filepath.Join(dist, "artifacts.json"), &arts)
	sums := checksums(t, filepath.Join(dist, "checksums.txt"))

	manPages := manPages(cmd.NewRootCmd(cmd.NewFactory(&iostreams.IOStreams{})))
	archives := map[string]artifact{}
	for _, a := range arts {
		if a.Type == "Archive" {
			archives[a.Goos+"/"+a.Goarch] = a
		}
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, goarch := range []string{"amd64", "arm64"} {
			a, ok := archives[goos+"/"+goarch]
			if !ok {
				t.Errorf("no archive for %s/%s", goos, goarch)
				continue
			}
			path := filepath.Join(dist, a.Name)
			if got, want := sha256File(t, path), sums[a.Name]; got != want {
				t.Errorf("%s: sha256 %s, checksums.txt says %q", a.Name, got, want)
			}
			bin := "msx"
			if goos == "windows" {
				bin = "msx.exe"
			}
			want := append([]string{bin, "LICENSE", "README.md", "completions/msx.bash", "completions/_msx", "completions/msx.fish"}, manPages...)
			got := list(t, path)
			for _, f := range want {
				if !slices.Contains(got, f) {
					t.Errorf("%s lacks %s; it holds %v", a.Name, f, got)
				}
			}
		}
	}

	// The binary runs and says which snapshot, commit and date it is.
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		a := archives["linux/amd64"]
		dir := t.TempDir()
		extract(t, filepath.Join(dist, a.Name), "msx", filepath.Join(dir, "msx"))
		out, err := exec.Command(filepath.Join(dir, "msx"), "version").CombinedOutput()
		if err != nil {
			t.Fatalf("msx version: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`^msx (\S+) \(commit ([0-9a-f]{40}), built (\S+)\)\n$`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("msx version printed %q, want msx VERSION (commit SHA, built DATE)", out)
		}
		if m[1] != meta.Version || m[2] != meta.Commit {
			t.Errorf("msx version says %s at %s, the snapshot is %s at %s", m[1], m[2], meta.Version, meta.Commit)
		}
		built, err := time.Parse(time.RFC3339, m[3])
		if err != nil {
			t.Errorf("build date %q is not RFC 3339: %v", m[3], err)
		}
		ct, err := exec.Command("git", "show", "-s", "--format=%ct", meta.Commit).Output()
		if err != nil {
			t.Fatalf("git show %s: %v", meta.Commit, err)
		}
		secs, _ := strconv.ParseInt(strings.TrimSpace(string(ct)), 10, 64)
		if !built.Equal(time.Unix(secs, 0)) {
			t.Errorf("build date %s is not the commit time %s: the build is not reproducible", built, time.Unix(secs, 0).UTC())
		}
	}

	// The cask installs every macOS and Linux archive, pinned by checksum,
	// with the completions and man pages the archives carry.
	casks, _ := filepath.Glob(filepath.Join(dist, "homebrew", "*", "msx.rb"))
	if len(casks) != 1 {
		t.Fatalf("want one cask dist/homebrew/*/msx.rb, found %v", casks)
	}
	rb, err := os.ReadFile(casks[0])
	if err != nil {
		t.Fatal(err)
	}
	// Each url line names an archive (with Ruby's #{version} in it) and the
	// sha256 line after it pins that archive.
	cask := strings.ReplaceAll(string(rb), "#{version}", meta.Version)
	pinned := map[string]string{}
	for _, m := range regexp.MustCompile(`url "([^"]+)"\s+sha256 "([0-9a-f]{64})"`).FindAllStringSubmatch(cask, -1) {
		pinned[m[1][strings.LastIndex(m[1], "/")+1:]] = m[2]
	}
	for key, a := range archives {
		if strings.HasPrefix(key, "windows/") {
			continue
		}
		if got, ok := pinned[a.Name]; !ok || got != sums[a.Name] {
			t.Errorf("the cask pins %s to sha256 %q, checksums.txt says %s", a.Name, got, sums[a.Name])
		}
	}
	if len(pinned) != 4 {
		t.Errorf("the cask has %d archives, want the 4 of macOS and Linux: %v", len(pinned), pinned)
	}
	for _, want := range append([]string{`binary "msx"`, `bash_completion "completions/msx.bash"`, `zsh_completion "completions/_msx"`, `fish_completion "completions/msx.fish"`}, caskManpages(manPages)...) {
		if !strings.Contains(cask, want) {
			t.Errorf("the cask lacks %s:\n%s", want, cask)
		}
	}
}

func caskManpages(pages []string) []string {
	out := make([]string, len(pages))
	for i, p := range pages {
		out[i] = `manpage "` + p + `"`
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checksums reads checksums.txt: "SHA256  NAME" lines.
func checksums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) == 2 {
			out[fields[1]] = fields[0]
		}
	}
	return out
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// list returns the file names in a .tar.gz or .zip archive.
func list(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	walk(t, path, func(name string, _ io.Reader) { out = append(out, name) })
	return out
}

// extract copies one file of an archive to dst, executable.
func extract(t *testing.T, path, name, dst string) {
	t.Helper()
	found := false
	walk(t, path, func(n string, r io.Reader) {
		if n != name {
			return
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
		found = true
	})
	if !found {
		t.Fatalf("%s has no %s", path, name)
	}
}

func walk(t *testing.T, path string, fn func(name string, r io.Reader)) {
	t.Helper()
	if strings.HasSuffix(path, ".zip") {
		z, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		for _, f := range z.File {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			fn(f.Name, r)
			r.Close()
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			fn(h.Name, tr)
		}
	}
}
