package cmd

import (
	"bytes"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
)

// configFlags are the global flags that set an msx.yaml setting, by key.
var configFlags = map[string]string{
	"gateway-port": "gateway.port",
}

// overlay reads the manifest m was parsed from through viper, so that every
// setting (every key of devenv.Manifest, and of each service) can be
// overridden by MSX_KEY (dots and dashes as underscores: MSX_GATEWAY_PORT,
// MSX_SERVICES_ORDERS_PORT) and the flags in configFlags, in that order of
// precedence: flag, environment, file.
func overlay(m *devenv.Manifest, data []byte, flags *pflag.FlagSet) (*devenv.Manifest, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	v.SetEnvPrefix("MSX")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	// Viper overrides only the keys it knows: declare every one, with the
	// value the file gave (or the zero value) as the default.
	keys := map[string]reflect.Kind{}
	declare(reflect.TypeOf(devenv.Manifest{}), "", keys)
	for _, name := range m.ServiceNames() {
		declare(reflect.TypeOf(devenv.Service{}), "services."+name+".", keys)
	}
	for _, k := range devenv.KindNames() {
		keys[devenv.ImageKey(k)] = reflect.String
	}
	// In sorted order, so that of two bad variables the same one is
	// reported every time.
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		v.SetDefault(key, v.Get(key))
		env := "MSX_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
		s := os.Getenv(env)
		if s == "" || keys[key] != reflect.Int {
			continue
		}
		n, err := strconv.Atoi(s)
		switch {
		case strings.HasSuffix(key, "port") && (err != nil || n < 1 || n > 65535):
			return nil, msxerr.New("set it to a port between 1 and 65535", "%s is %q, not a port", env, s)
		case err != nil:
			return nil, msxerr.New("set it to a whole number", "%s is %q, not a whole number", env, s)
		}
	}
	if flags != nil {
		for flag, key := range configFlags {
			if fl := flags.Lookup(flag); fl != nil {
				if err := v.BindPFlag(key, fl); err != nil {
					return nil, err
				}
			}
		}
	}
	out := &devenv.Manifest{}
	if err := v.Unmarshal(out, func(c *mapstructure.DecoderConfig) { c.TagName = "yaml" }); err != nil {
		return nil, msxerr.Wrap(err, "fix msx.yaml or the MSX_* environment variables", "the configuration is not valid: %v", err)
	}
	out.Dir = m.Dir
	return out, nil
}

// declare adds the dotted keys of the struct type t (by yaml tag) to keys.
func declare(t reflect.Type, prefix string, keys map[string]reflect.Kind) {
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := t.Field(i).Type
		switch ft.Kind() {
		case reflect.Struct:
			declare(ft, prefix+name+".", keys)
		case reflect.Map:
			// services and images: declared per entry by the caller.
		default:
			keys[prefix+name] = ft.Kind()
		}
	}
}
