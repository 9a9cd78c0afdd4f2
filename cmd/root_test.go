package cmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/msx-dev/msx/iostreams"
	"github.com/msx-dev/msx/msxerr"
)

func TestExitCodesAndOneLineErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"version"}, exitOK, ""},
		{[]string{"nosuch"}, exitUsage, `unknown command "nosuch"`},
		{[]string{"verison"}, exitUsage, `unknown command "verison" for "msx"; did you mean "version"?` + "\n"},
		{[]string{"--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"version", "extra"}, exitUsage, "takes no arguments"},
		{[]string{"completion", "tcsh"}, exitUsage, `unknown shell "tcsh"`},
		{[]string{"new", "service", "Bad", "-C", t.TempDir()}, exitUsage, "uppercase"},
		{[]string{"new", "service", "my_svc", "-C", t.TempDir()}, exitUsage, `try "my-svc"`},
		{[]string{"init", "-C", t.TempDir(), "My_Shop"}, exitUsage, `the folder name "My_Shop" is not a valid project name; pass --name my-shop or another valid project name` + "\n"},
		{[]string{"init", "-C", t.TempDir(), "shop", "--name", "Bad"}, exitUsage, "uppercase"},
		{[]string{"add", "dependency", "orders"}, exitUsage, "takes a service and at least one dependency"},
		{[]string{"new", "service", "--port", "x", "a"}, exitUsage, `invalid argument "x"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			io, _, errOut := iostreams.Test()
			code := Run(context.Background(), io, tt.args)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			if tt.err == "" {
				if errOut.Len() != 0 {
					t.Fatalf("unexpected stderr: %s", errOut)
				}
				return
			}
			s := errOut.String()
			if !strings.Contains(s, tt.err) || strings.Count(s, "\n") != 1 || !strings.HasPrefix(s, "msx: ") {
				t.Fatalf("stderr = %q, want one line with %q", s, tt.err)
			}
		})
	}
}

func TestReportMapsTypedErrors(t *testing.T) {
	tests := []struct {
		err  error
		code int
		out  string
	}{
		{nil, exitOK, ""},
		{&runError{msxerr.ErrSilent}, exitError, ""},
		{&runError{msxerr.ErrCancelled}, exitCancelled, "msx: interrupted\n"},
		{&runError{context.Canceled}, exitCancelled, "msx: interrupted\n"},
		{&runError{msxerr.New("do this", "that failed")}, exitError, "msx: that failed; do this\n"},
		{&runError{errors.New("multi\nline   error")}, exitError, "msx: multi line error\n"},
		// An error quoting a program's output (a health check's) shows its
		// escape sequences, never plays them.
		{&runError{errors.New("orders was not ready: its health check says: \x1b]0;t\x07\x1b[2J\u202e")}, exitError,
			"msx: orders was not ready: its health check says: \\x1b]0;t\\x07\\x1b[2J\\u202e\n"},
		{&runError{msxerr.Usage("bad flag")}, exitUsage, "msx: bad flag; run 'msx --help' for usage\n"},
		{errors.New("from cobra"), exitUsage, "msx: from cobra; run 'msx --help' for usage\n"},
	}
	for _, tt := range tests {
		io, _, errOut := iostreams.Test()
		if code := report(io, tt.err); code != tt.code || errOut.String() != tt.out {
			t.Errorf("report(%v) = %d %q, want %d %q", tt.err, code, errOut, tt.code, tt.out)
		}
	}
}

func TestVersionFallsBackToBuildInfo(t *testing.T) {
	// A test binary has no module version and no ldflags: "dev".
	if v, _, _ := buildVersion(); v != "dev" {
		t.Fatalf("version without ldflags = %q, want dev", v)
	}
	// Nor VCS information (go test stamps none): say how it was built.
	if got := versionString(); got != "dev (built without version control information)" {
		t.Fatalf("versionString without ldflags or VCS information = %q", got)
	}
	old := version
	version, commit, date = "1.2.3", "abc", "2026-01-01"
	defer func() { version, commit, date = old, "", "" }()
	if got := versionString(); got != "1.2.3 (commit abc, built 2026-01-01)" {
		t.Fatalf("versionString = %q", got)
	}
}
