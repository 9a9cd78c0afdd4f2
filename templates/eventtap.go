package templates

import "embed"

// eventtap is the source of the program msx events runs on a project's
// network to read its event stream (see eventtap/main.go): the broker's
// client port is never published to the host.
//
//go:embed eventtap
var eventtap embed.FS

// EventTapFiles returns the event reader's module, file by file.
func EventTapFiles() (map[string][]byte, error) { return moduleFiles(eventtap, "eventtap") }
