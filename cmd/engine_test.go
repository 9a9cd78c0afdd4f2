package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/msx-dev/msx/iostreams"
)

// A remote engine publishes msx's ports on its own 127.0.0.1: up says so
// before it builds anything, instead of timing out on readiness.
func TestUpRefusesARemoteEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")
	io, _, _ := iostreams.Test()
	f := NewFactory(io)
	f.Dir = writeManifest(t)
	err := runUp(context.Background(), f, &upOptions{Detach: true})
	if err == nil || !strings.Contains(err.Error(), "runs on 10.0.0.5") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("up against a remote engine: %v", err)
	}
}

func TestDoctorNamesTheEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nowhere/docker.sock")
	io, _, _ := iostreams.Test()
	f := NewFactory(io)
	f.Dir = t.TempDir()
	env, done, err := doctorEnv(f)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	e, err := env.Engine()
	if err != nil || e.Host != "unix:///nowhere/docker.sock" || e.Reason != "DOCKER_HOST is set" {
		t.Errorf("doctor's engine = %+v, %v", e, err)
	}
}

// Every command that reads the project through its published ports says
// what it cannot reach with a remote engine.
func TestPortCommandsRefuseARemoteEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "ssh://me@build.example.com")
	io, _, _ := iostreams.Test()
	f := NewFactory(io)
	f.Dir = writeManifest(t)
	for _, args := range [][]string{{"trace"}, {"fault", "orders", "latency", "100ms"}} {
		root := NewRootCmd(f)
		root.SetArgs(append([]string{"-C", f.Dir}, args...))
		root.SetOut(io.Out)
		root.SetErr(io.ErrOut)
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "runs on build.example.com") {
			t.Errorf("msx %v with a remote engine: %v", args, err)
		}
	}
}
