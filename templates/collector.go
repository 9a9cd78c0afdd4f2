package templates

import "embed"

// collector is the source of the trace collector msx runs beside a
// project (see collector/main.go).
//
//go:embed collector
var collector embed.FS

// CollectorFiles returns the collector's module, file by file.
func CollectorFiles() (map[string][]byte, error) { return moduleFiles(collector, "collector") }
