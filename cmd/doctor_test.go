package cmd

import (
	"context"
	"testing"

	"github.com/msx-dev/msx/iostreams"
)

func TestDoctorFlags(t *testing.T) {
	io, _, _ := iostreams.Test()
	f := NewFactory(io)
	f.Dir = t.TempDir()
	var got *doctorOptions
	c := newDoctorCmd(f, func(_ context.Context, o *doctorOptions) error {
		got = o
		return nil
	})
	c.SetArgs([]string{"--json"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil || !got.JSON {
		t.Fatalf("run not called with --json: %+v", got)
	}

	got = nil
	c = newDoctorCmd(f, func(context.Context, *doctorOptions) error { t.Fatal("run called"); return nil })
	c.SetArgs([]string{"extra"})
	c.SilenceErrors, c.SilenceUsage = true, true
	if err := c.Execute(); err == nil {
		t.Fatal("doctor accepted an argument")
	}
}
