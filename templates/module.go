package templates

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// moduleFiles lays out a program msx embeds (the collector, the event
// reader) as a Go module of its own, file by file (slash paths relative to
// the module root), for the builder to compile like the gateway. Its
// go.mod.txt and go.sum.txt become go.mod and go.sum: named so in msx's
// tree, they do not cut the folder out of msx's module, so the program is
// compiled and tested with msx. Tests and testdata are left out.
func moduleFiles(fsys embed.FS, root string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return fs.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel := strings.TrimPrefix(p, root+"/")
		switch path.Base(rel) {
		case "go.mod.txt", "go.sum.txt":
			rel = strings.TrimSuffix(rel, ".txt")
		}
		data, err := fsys.ReadFile(p)
		files[rel] = data
		return err
	})
	return files, err
}
