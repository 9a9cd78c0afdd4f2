package cmd

import (
	"github.com/spf13/pflag"
)

// configFlags are the global flags that set an msx.yaml setting, by key:
// they win over the MSX_* environment and the file (devenv.Overlay).
var configFlags = map[string]string{
	"gateway-port": "gateway.port",
}

// configSettings are the settings the command line gave: the flags of
// configFlags that were set, by key.
func configSettings(flags *pflag.FlagSet) map[string]string {
	set := map[string]string{}
	if flags == nil {
		return set
	}
	for flag, key := range configFlags {
		if fl := flags.Lookup(flag); fl != nil && fl.Changed {
			set[key] = fl.Value.String()
		}
	}
	return set
}
