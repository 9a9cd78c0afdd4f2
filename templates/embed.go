// Package templates holds the template trees that msx init (workspace) and msx new service (service) render.
package templates

import "embed"

// FS holds the workspace and service template trees.
//
//go:embed workspace service
var FS embed.FS
