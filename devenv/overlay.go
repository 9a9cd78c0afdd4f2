package devenv

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/msx-dev/msx/msxerr"
)

// Overrides are the settings given outside msx.yaml.
type Overrides struct {
	// Env looks up an environment variable (os.Getenv): MSX_KEY sets KEY,
	// dots and dashes as underscores (MSX_GATEWAY_PORT sets gateway.port,
	// MSX_SERVICES_ORDERS_PORT services.orders.port). Nil reads none.
	Env func(string) string
	// Set are settings by dotted key (a command line's flags), over the
	// environment.
	Set map[string]string
}

// EnvName is the environment variable that sets key: MSX_GATEWAY_PORT for
// gateway.port.
func EnvName(key string) string {
	return "MSX_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// Overlay reads the manifest m was parsed from (data) through viper, so
// that every setting (every key of Manifest, and of each service, and each
// kind's image) can be overridden, in this order of precedence: o.Set, the
// environment, the file. A variable that must be a number and is not is
// an error naming it; of two such, the first in key order, every time.
func Overlay(m *Manifest, data []byte, o Overrides) (*Manifest, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	// Viper overrides only the keys it knows: declare every one.
	keys := map[string]reflect.Kind{}
	declare(reflect.TypeOf(Manifest{}), "", keys)
	for _, name := range m.ServiceNames() {
		declare(reflect.TypeOf(Service{}), "services."+name+".", keys)
	}
	for _, k := range KindNames() {
		keys[ImageKey(k)] = reflect.String
	}
	// In sorted order, so that of two bad variables the same one is
	// reported every time.
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		if o.Env == nil {
			break
		}
		env := EnvName(key)
		s := o.Env(env)
		if s == "" {
			continue // unset, as viper reads an empty variable
		}
		if keys[key] == reflect.Int {
			if _, err := envInt(key, s); err != nil {
				return nil, err
			}
		}
		v.Set(key, s)
	}
	for _, key := range slices.Sorted(maps.Keys(o.Set)) {
		v.Set(key, o.Set[key])
	}
	out := &Manifest{}
	if err := v.Unmarshal(out, func(c *mapstructure.DecoderConfig) { c.TagName = "yaml" }); err != nil {
		return nil, msxerr.Wrap(err, "fix msx.yaml or the MSX_* environment variables", "the configuration is not valid: %v", err)
	}
	out.Dir = m.Dir
	return out, nil
}

// envInt reads s, the value of key's variable, as a whole number, and a
// port's as a port.
func envInt(key, s string) (int, error) {
	n, err := strconv.Atoi(s)
	switch {
	case strings.HasSuffix(key, "port") && (err != nil || n < 1 || n > 65535):
		return n, msxerr.New("set it to a port between 1 and 65535", "%s is %q, not a port", EnvName(key), s)
	case err != nil:
		return n, msxerr.New("set it to a whole number", "%s is %q, not a whole number", EnvName(key), s)
	}
	return n, nil
}

// EnvGatewayPort is the gateway port MSX_GATEWAY_PORT gives, read as
// Overlay reads it, for a check outside a workspace (msx doctor): 0 when
// it is not set. With an error, the number it holds, if any.
func EnvGatewayPort(getenv func(string) string) (int, error) {
	const key = "gateway.port"
	s := getenv(EnvName(key))
	if s == "" {
		return 0, nil
	}
	return envInt(key, s)
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
