package templates

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// collector is the source of the trace collector msx runs beside a
// project (see collector/main.go). It is Go code of msx's own module, so
// it is compiled and tested with msx; CollectorFiles lays it out as a
// module of its own (go.mod.txt and go.sum.txt become go.mod and go.sum,
// named so here that they do not cut it out of msx's module) for the
// builder to compile like the gateway.
//
//go:embed collector
var collector embed.FS

// CollectorFiles returns the collector's module, file by file (slash
// paths relative to the module root).
func CollectorFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(collector, "collector", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return fs.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel := strings.TrimPrefix(p, "collector/")
		switch path.Base(rel) {
		case "go.mod.txt", "go.sum.txt":
			rel = strings.TrimSuffix(rel, ".txt")
		}
		data, err := collector.ReadFile(p)
		files[rel] = data
		return err
	})
	return files, err
}
