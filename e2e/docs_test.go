package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The documentation's shell examples are tests. In README.md and docs/*.md,
// every ```sh block with a line that starts with `msx` runs, block after
// block in the page's order, in one temporary folder per page, against the
// msx binary this package built. The line before a block may mark it:
//
//	<!-- example: docker -->         needs the Docker engine (skipped without
//	                                 one, a failure under CI=true)
//	<!-- example: fails -->          must exit non-zero with one line on
//	                                 stderr, as every msx error does
//	<!-- example: skip REASON -->    cannot run here (brew, a shell that
//	                                 stays attached); the reason is required
//
// Each page gets its own project name (MSX_PROJECT) and a free gateway port
// (MSX_GATEWAY_PORT, with localhost:8080 in the examples rewritten to it), and
// ends with msx down --volumes in every workspace it created and a check that
// nothing labelled with its project remains.

// docExample is one shell block of a page.
type docExample struct {
	Page   string
	Line   int // of the opening fence
	Mark   string
	Reason string
	Script string
}

var (
	fenceOpen  = regexp.MustCompile("^```(sh|bash|shell)\\s*$")
	fenceClose = regexp.MustCompile("^```\\s*$")
	markRe     = regexp.MustCompile(`^<!--\s*example:\s*(\w+)\s*(.*?)\s*-->$`)
	msxLine    = regexp.MustCompile(`(?m)^\s*msx(\s|$)`)
)

// docPages lists README.md and docs/*.md, relative to the repository root.
func docPages(t *testing.T, root string) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, p := range pages {
		rel, _ := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

// parseExamples returns the runnable shell blocks of a page, in order.
func parseExamples(page string, data []byte) ([]docExample, error) {
	var out []docExample
	var cur *docExample
	prev := ""
	s := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		switch {
		case cur != nil && fenceClose.MatchString(line):
			if msxLine.MatchString(cur.Script) {
				out = append(out, *cur)
			}
			cur = nil
		case cur != nil:
			cur.Script += line + "\n"
		case fenceOpen.MatchString(line):
			cur = &docExample{Page: page, Line: n}
			if m := markRe.FindStringSubmatch(strings.TrimSpace(prev)); m != nil {
				cur.Mark, cur.Reason = m[1], m[2]
				switch {
				case cur.Mark != "docker" && cur.Mark != "fails" && cur.Mark != "skip":
					return nil, fmt.Errorf("%s:%d: unknown example mark %q; use docker, fails or skip REASON", page, n-1, cur.Mark)
				case cur.Mark == "skip" && cur.Reason == "":
					return nil, fmt.Errorf("%s:%d: example: skip needs a reason", page, n-1)
				}
			}
		}
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: code block never closed", page, cur.Line)
	}
	return out, s.Err()
}

// TestParseExamples checks the extraction and the marks on a page of its own.
func TestParseExamples(t *testing.T) {
	page := "text\n```sh\nbash scripts/demo.sh\n```\n<!-- example: docker -->\n```sh\nmsx up -d\ncurl -fsS localhost:8080/api/orders/healthz\n```\n\n<!-- example: skip needs Homebrew -->\n```sh\nbrew install x\nmsx version\n```\n```text\nmsx up\n```\n```sh\nmsx ps\n```\n"
	got, err := parseExamples("p.md", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	want := []docExample{
		{Page: "p.md", Line: 6, Mark: "docker", Script: "msx up -d\ncurl -fsS localhost:8080/api/orders/healthz\n"},
		{Page: "p.md", Line: 12, Mark: "skip", Reason: "needs Homebrew", Script: "brew install x\nmsx version\n"},
		{Page: "p.md", Line: 19, Script: "msx ps\n"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"<!-- example: skip -->\n```sh\nmsx up\n```\n", "<!-- example: dockr -->\n```sh\nmsx up\n```\n", "```sh\nmsx up\n"} {
		if _, err := parseExamples("p.md", []byte(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

// TestDocExamples runs every page's examples.
func TestDocExamples(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range docPages(t, root) {
		data, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		examples, err := parseExamples(page, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(examples) == 0 {
			continue
		}
		t.Run(page, func(t *testing.T) { runPage(t, root, examples) })
	}
}

func runPage(t *testing.T, root string, examples []docExample) {
	needsDocker := false
	for _, ex := range examples {
		needsDocker = needsDocker || ex.Mark == "docker"
	}
	if needsDocker && testing.Short() {
		t.Skip("runs containers; skipped with -short")
	}
	work := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	state := filepath.Join(t.TempDir(), "cwd")
	if err := os.WriteFile(state, []byte(work), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + filepath.Dir(msxBin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"MSX_PROJECT=" + project,
		"MSX_GATEWAY_PORT=" + strconv.Itoa(port),
		"MSX_REPO=" + root,
		"MSX_DOC_STATE=" + state,
		"NO_COLOR=1",
	}
	if needsDocker {
		cli := requireDocker(t)
		removeImages(t, cli, project)
		// Registered after removeImages, so it runs first: down, then check.
		t.Cleanup(func() {
			downAll(t, work, env)
			requireNothingLeft(t, cli, project, true)
		})
	}
	for _, ex := range examples {
		if ex.Mark == "skip" {
			t.Logf("%s:%d: skipped: %s", ex.Page, ex.Line, ex.Reason)
			continue
		}
		script := strings.NewReplacer("localhost:8080", "localhost:"+strconv.Itoa(port), "127.0.0.1:8080", "127.0.0.1:"+strconv.Itoa(port)).Replace(ex.Script)
		stdout, stderr, code := runBlock(t, script, env)
		where := fmt.Sprintf("%s:%d", ex.Page, ex.Line)
		switch {
		case ex.Mark == "fails" && code == 0:
			t.Fatalf("%s: the example should fail but exited 0\n%s\nstdout:\n%s", where, ex.Script, stdout)
		case ex.Mark == "fails" && (strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "msx: ")):
			t.Fatalf("%s: the example's error is not one line starting with msx: \n%s", where, stderr)
		case ex.Mark != "fails" && code != 0:
			t.Fatalf("%s: the example exited %d\n%s\nstdout:\n%s\nstderr:\n%s", where, code, ex.Script, stdout, stderr)
		}
	}
}

// runBlock runs one example with bash -e, in the folder the previous one
// ended in.
func runBlock(t *testing.T, script string, env []string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	full := "set -eo pipefail\ncd \"$(cat \"$MSX_DOC_STATE\")\"\n" + script + "pwd > \"$MSX_DOC_STATE\"\n"
	c := exec.CommandContext(ctx, "bash", "-c", full)
	c.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running bash: %v", err)
	}
	return out.String(), errOut.String(), code
}

// downAll runs msx down --volumes in every workspace under dir. A page may
// leave a workspace that down refuses (troubleshooting writes a broken
// msx.yaml on purpose), so a failed down is only logged: the check that
// nothing labelled remains is the assertion.
func downAll(t *testing.T, dir string, env []string) {
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "msx.yaml" {
			return nil
		}
		if r := msx(t, filepath.Dir(path), env, "down", "--volumes"); r.Code != 0 {
			t.Logf("cleanup: msx down --volumes in %s exited %d: %s", filepath.Dir(path), r.Code, r.Stderr)
		}
		return filepath.SkipDir
	})
}
