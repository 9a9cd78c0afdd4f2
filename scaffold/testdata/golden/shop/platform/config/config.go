// Package config reads a program's settings from environment variables.
//
// Every setting has a default, so a program starts with no environment at
// all; a value that is set but malformed is an error rather than a silent
// fallback, because a typo in a timeout should stop a deploy, not hide.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// String returns the value of the environment variable key, or def when it
// is unset or empty.
func String(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Int returns the environment variable key as an int, or def when unset.
func Int(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", key, v)
	}
	return n, nil
}

// Int64 returns the environment variable key as an int64, or def when unset.
func Int64(key string, def int64) (int64, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", key, v)
	}
	return n, nil
}

// Bool returns the environment variable key as a bool (1, t, true, 0, f,
// false, ...), or def when unset.
func Bool(key string, def bool) (bool, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a boolean", key, v)
	}
	return b, nil
}

// Duration returns the environment variable key as a time.Duration written
// the Go way ("250ms", "5s", "1m30s"), or def when unset.
func Duration(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration such as 5s or 250ms", key, v)
	}
	return d, nil
}

// ListenAddr returns the address a server listens on: LISTEN_ADDR when it
// is set, else 127.0.0.1 and the port in PORT (defaultPort when unset).
//
// Loopback is the default so that a program started by hand on a laptop is
// not reachable from the network; inside a container msx sets
// LISTEN_ADDR=0.0.0.0:PORT, where the container's network is the boundary.
func ListenAddr(defaultPort string) string {
	if addr := os.Getenv("LISTEN_ADDR"); addr != "" {
		return addr
	}
	return "127.0.0.1:" + String("PORT", defaultPort)
}

// File returns the content of the file that the environment variable key
// names, without a trailing newline, or "" when key is unset. Secrets reach
// a program this way (DATABASE_PASSWORD_FILE=/run/secrets/...): the
// environment, which docker inspect and crash reports show, holds only the
// file's name. The error names the variable and the file, never the content.
func File(key string) (string, error) {
	path := os.Getenv(key)
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read %s: %w", key, path, errors.Unwrap(err))
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
