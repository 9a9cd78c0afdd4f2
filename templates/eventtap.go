package templates

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// eventtap is the source of the program msx events runs on a project's
// network to read its event stream (see eventtap/main.go): the broker's
// client port is never published to the host. Like the collector, it is
// Go code of msx's own module, laid out by EventTapFiles as a module of its
// own for the builder.
//
//go:embed eventtap
var eventtap embed.FS

// EventTapFiles returns the event reader's module, file by file (slash
// paths relative to the module root).
func EventTapFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(eventtap, "eventtap", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		rel := strings.TrimPrefix(p, "eventtap/")
		switch path.Base(rel) {
		case "go.mod.txt", "go.sum.txt":
			rel = strings.TrimSuffix(rel, ".txt")
		}
		data, err := eventtap.ReadFile(p)
		files[rel] = data
		return err
	})
	return files, err
}
