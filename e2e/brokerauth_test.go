package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// buildNATSProbe compiles testdata/natsprobe for the engine's Linux: a
// static binary the broker test runs in a container on a project's
// network (no registry: it is bind-mounted into an image already here).
func buildNATSProbe(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "natsprobe")
	c := exec.Command("go", "build", "-o", out, "./testdata/natsprobe")
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, b)
	}
	return out
}

// natsProbe runs the probe in image (any image: its entrypoint is
// replaced) on network, as a program with the seed file of seedDir named
// seed ("" for none) and the inbox prefix inbox, and returns the line it
// printed. Its container is removed.
func natsProbe(t *testing.T, cli *client.Client, image, network, probe, seedDir, seed, inbox string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := []string{"NATS_URL=nats://nats:4222", "NATS_INBOX=" + inbox}
	if seed != "" {
		env = append(env, "NATS_NKEY_FILE=/seeds/"+seed)
	}
	created, err := cli.ContainerCreate(ctx,
		&container.Config{Image: image, Entrypoint: []string{"/probe"}, Cmd: args, Env: env},
		&container.HostConfig{NetworkMode: container.NetworkMode(network), Binds: []string{probe + ":/probe:ro", seedDir + ":/seeds:ro"}},
		nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}()
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := cli.ContainerWait(ctx, created.ID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatal(err)
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var b bytes.Buffer
	_, _ = stdcopy.StdCopy(&b, &b, logs)
	return strings.TrimSpace(b.String())
}
