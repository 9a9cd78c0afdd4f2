package e2e

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs the sessions in testdata/script: each is what a user
// types and what msx must answer, run against the real binary.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(msxBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"tree":    cmdTree,
			"oneline": cmdOneLine,
		},
	})
}

// cmdTree prints every file under a folder with a hash of its content, so a
// script can save the listing and later cmp it to prove nothing changed.
func cmdTree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tree DIR")
	}
	root := ts.MkAbs(args[0])
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			lines = append(lines, rel+"/")
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %x", rel, sha256.Sum256(b)))
		return nil
	})
	ts.Check(err)
	sort.Strings(lines)
	fmt.Fprint(ts.Stdout(), strings.Join(lines, "\n")+"\n")
}

// cmdOneLine asserts that the last command wrote exactly one line to
// stderr: the error contract of msx (no stack trace, no usage dump).
func cmdOneLine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: oneline")
	}
	s := ts.ReadFile("stderr")
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		ts.Fatalf("stderr is not exactly one line:\n%s", s)
	}
	if strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") {
		ts.Fatalf("stderr has a stack trace:\n%s", s)
	}
}
