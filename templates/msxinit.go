package templates

import _ "embed"

// InitMain is the source of msx-init (msxinit/main.go), the PID 1 msx packs
// into every image it builds: the builder compiles it on the host for the
// engine's architecture. It is a program of its own with no imports but the
// standard library, so that it compiles outside msx's module.
//
//go:embed msxinit/main.go
var InitMain []byte
