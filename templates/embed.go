// Package templates holds the template trees that msx init (workspace) and msx new service (service) render.
package templates

import "embed"

// FS holds the workspace and service template trees.
//
//go:embed workspace service
var FS embed.FS

// GoVersion is the one Go version of msx's world: the go directive of
// generated go.mod files, the Go image of their production Dockerfiles, the
// oldest Go that msx doctor accepts, and what the README asks for. It must
// be at least the go directive of every module the generated go.mod pins
// (go 1.26.0 today), or go build asks for go mod tidy.
const GoVersion = "1.26.0"
