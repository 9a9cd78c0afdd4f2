package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
)

// TestMessagingPlatformDocker runs the generated platform/messaging tests
// (outbox, relay, inbox de-duplication, batched handling, and the whole
// path through a broker) against a real Postgres as well as SQLite, and a
// real NATS server: the images msx runs. The workspace's tests take them
// from MESSAGING_TEST_POSTGRES_URL and MESSAGING_TEST_NATS_URL.
func TestMessagingPlatformDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a database and a broker container and the generated tests; skipped with -short")
	}
	cli := requireDocker(t)
	img := postgresImage(t)
	natsImg := natsImage(t)
	project := uniqueProject(t)
	ctx := context.Background()

	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	password := hex.EncodeToString(pw)
	created, err := cli.ContainerCreate(ctx, &container.Config{
		Image:  img,
		Env:    []string{"POSTGRES_PASSWORD=" + password},
		Labels: map[string]string{"dev.msx.project": project},
	}, &container.HostConfig{
		PortBindings: nat.PortMap{"5432/tcp": {{HostIP: "127.0.0.1"}}},
	}, nil, nil, project+"-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("removing the database: %v", err)
		}
		if cs, ns, vs := labelled(t, cli, project); len(cs)+len(ns)+len(vs) > 0 {
			t.Errorf("left behind: %v %v %v", cs, ns, vs)
		}
	})
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	broker, err := cli.ContainerCreate(ctx, &container.Config{
		Image:  natsImg,
		Cmd:    []string{"--jetstream", "--store_dir", "/data", "--server_name", "test"},
		Labels: map[string]string{"dev.msx.project": project},
	}, &container.HostConfig{
		PortBindings: nat.PortMap{"4222/tcp": {{HostIP: "127.0.0.1"}}},
	}, nil, nil, project+"-nats")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cli.ContainerRemove(ctx, broker.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("removing the broker: %v", err)
		}
	})
	if err := cli.ContainerStart(ctx, broker.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, _ := execIn(t, cli, created.ID, nil, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Postgres not ready after 90s")
		}
		time.Sleep(250 * time.Millisecond)
	}
	insp, err := cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	binds := insp.NetworkSettings.Ports["5432/tcp"]
	if len(binds) == 0 {
		t.Fatal("5432 is not published")
	}
	dbURL := "postgres://postgres:" + password + "@127.0.0.1:" + binds[0].HostPort + "/postgres?sslmode=disable"
	binsts, err := cli.ContainerInspect(ctx, broker.ID)
	if err != nil {
		t.Fatal(err)
	}
	nbinds := binsts.NetworkSettings.Ports["4222/tcp"]
	if len(nbinds) == 0 {
		t.Fatal("4222 is not published")
	}
	natsURL := "nats://127.0.0.1:" + nbinds[0].HostPort

	parent := t.TempDir()
	mustMsx(t, parent, nil, "init", "shop", "--module", "example.com/shop")
	ws := filepath.Join(parent, "shop")
	c := exec.Command("go", "test", "-count=1", "-v", "./platform/messaging")
	c.Dir = ws
	c.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off", "MESSAGING_TEST_POSTGRES_URL="+dbURL, "MESSAGING_TEST_NATS_URL="+natsURL)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("the generated messaging tests failed against Postgres and NATS: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "--- SKIP") {
		t.Errorf("a test skipped with a database given:\n%s", out.String())
	}
	for _, test := range []string{"TestOutboxOnlyWhatCommits", "TestRelayRemovesOnlyWhatWasAcked", "TestRelayCarriesTraceContext",
		"TestInboxAppliesOnce", "TestInboxPages", "TestInboxFailedEffectIsNotRecorded", "TestInboxBatch", "TestConsumerBatch", "TestConsumerContinuesTrace", "TestBroker"} {
		for _, store := range []string{"sqlite", "postgres"} {
			if !strings.Contains(out.String(), "--- PASS: "+test+"/"+store+" ") {
				t.Errorf("%s did not pass against %s:\n%s", test, store, out.String())
			}
		}
	}
	// Each test's schema is dropped when it ends.
	code, left := execIn(t, cli, created.ID, nil, "psql", "-U", "postgres", "-tAc",
		"SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'messaging_test_%'")
	if code != 0 || strings.TrimSpace(left) != "0" {
		t.Errorf("schemas left by the tests: %q (exit %d)", left, code)
	}
}
