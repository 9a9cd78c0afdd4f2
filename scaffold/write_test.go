package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// snapshot returns every file under dir with its content, so a test can
// assert that a failed generation changed nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		if d.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[rel] = "-> " + target
			return err
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestWriteCreatesSkipsAndRefuses(t *testing.T) {
	root := t.TempDir()
	files := []File{{Path: "a/b.txt", Data: []byte("one")}, {Path: "c.txt", Data: []byte("two")}}
	res, err := write(root, files, nil, nil, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Changes {
		if c.Action != Create {
			t.Fatalf("%s: %s, want create", c.Path, c.Action)
		}
	}
	// Same content again: nothing to do.
	res, err = write(root, files, nil, nil, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Changes {
		if c.Action != Unchanged {
			t.Fatalf("%s: %s, want unchanged", c.Path, c.Action)
		}
	}
	// Other content: refused without force, and nothing changes.
	before := snapshot(t, root)
	_, err = write(root, []File{{Path: "new.txt", Data: []byte("x")}, {Path: "c.txt", Data: []byte("changed")}}, nil, nil, false, false, nil)
	if err == nil || !strings.Contains(err.Error(), "c.txt already exists") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err = %v, want a refusal naming c.txt and --force", err)
	}
	if !equalSnapshots(before, snapshot(t, root)) {
		t.Fatal("a refused write changed the tree")
	}
	// With force it overwrites.
	if _, err := write(root, []File{{Path: "c.txt", Data: []byte("changed")}}, nil, nil, true, false, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "c.txt")); string(b) != "changed" {
		t.Fatalf("c.txt = %q", b)
	}
}

func TestWriteDryRunWritesNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ws")
	res, err := write(root, []File{{Path: "a.txt", Data: []byte("x")}}, nil, nil, false, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Action != Create {
		t.Fatalf("changes = %+v", res.Changes)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("dry run created %s", root)
	}
}

func TestWriteRollsBackOnFailure(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "keep.txt"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// "blocker" is a file, so writing "blocker/x.txt" fails after the
	// earlier files were already moved into place.
	if err := os.WriteFile(filepath.Join(root, "blocker"), []byte("file"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	files := []File{
		{Path: "a/new.txt", Data: []byte("new")},
		{Path: "blocker/x.txt", Data: []byte("x")},
		{Path: "keep.txt", Data: []byte("new content")},
	}
	if _, err := write(root, files, nil, nil, true, false, nil); err == nil {
		t.Fatal("write succeeded, want failure")
	}
	if after := snapshot(t, root); !equalSnapshots(before, after) {
		t.Fatalf("tree changed after a failed write:\nbefore %v\nafter  %v", before, after)
	}
}

func TestWriteRemovesCreatedRootOnFailure(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "new", "ws")
	files := []File{{Path: "a.txt", Data: []byte("a")}, {Path: "a.txt/b", Data: []byte("b")}}
	if _, err := write(root, files, nil, nil, false, false, nil); err == nil {
		t.Fatal("write succeeded, want failure")
	}
	if _, err := os.Stat(filepath.Join(parent, "new")); !os.IsNotExist(err) {
		t.Fatalf("failed write left %s behind", filepath.Join(parent, "new"))
	}
}
