package cmd

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by GoReleaser through -ldflags "-X github.com/msx-dev/msx/cmd.version=...".
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildVersion returns version, commit and date, falling back to the module's
// build info under go install, where ldflags are not set.
func buildVersion() (v, c, d string) {
	v, c, d = version, commit, date
	if v != "" {
		return v, c, d
	}
	v = "dev"
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.time":
				if d == "" {
					d = s.Value
				}
			}
		}
	}
	return v, c, d
}

// versionString is the version with how it was built. A build from a
// source tree without version control information (a tarball, go build
// -buildvcs=false) says so, rather than a bare "dev" that could be any.
func versionString() string {
	v, c, d := buildVersion()
	s := v
	if c == "" && version == "" && v == "dev" {
		return s + " (built without version control information)"
	}
	if c != "" {
		s += " (commit " + c
		if d != "" {
			s += ", built " + d
		}
		s += ")"
	}
	return s
}

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print msx's version, commit and build date",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(f.IO.Out, "msx %s\n", versionString())
			return err
		},
	}
}
