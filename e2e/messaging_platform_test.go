package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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
//
// With them runs testdata/messaging_replicas_test.go, copied into the
// workspace: three relay processes and two consumer processes, 10,000
// events, one relay and one consumer killed with SIGKILL midway (a new
// consumer takes the dead one's place) and the broker restarted
// (through MESSAGING_TEST_RESTART_URL, served here on 127.0.0.1): 0
// lost, 0 applied twice, per-item order kept in the stream and in the
// order the two consumers applied them.
//
// Not parallel: it runs before the parallel tests, alone in its package.
// Its replicas test holds a key's later event for GapTimeout (twice the
// AckWait) and then applies it, late by design; at the load of four tests
// at once, the broker's restart in it kept events away for longer than
// that, and one inversion showed (item 72: version 12 stored after 14).
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
	// A fixed host port: a restarted container keeps it, so clients
	// reconnect to the same address.
	natsPort := strconv.Itoa(freePort(t))
	broker, err := cli.ContainerCreate(ctx, &container.Config{
		Image:  natsImg,
		Cmd:    []string{"--jetstream", "--store_dir", "/data", "--server_name", "test"},
		Labels: map[string]string{"dev.msx.project": project},
	}, &container.HostConfig{
		PortBindings: nat.PortMap{"4222/tcp": {{HostIP: "127.0.0.1", HostPort: natsPort}}},
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

	// The replicas test asks for the broker's restart here.
	var restarts atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timeout := 2
		if err := cli.ContainerRestart(r.Context(), broker.ID, container.StopOptions{Timeout: &timeout}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		restarts.Add(1)
	}))
	defer hook.Close()

	parent := t.TempDir()
	mustMsx(t, parent, nil, "init", "shop", "--module", e2eModule)
	ws := filepath.Join(parent, "shop")
	replicas, err := os.ReadFile(filepath.Join("testdata", "messaging_replicas_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "platform", "messaging", "replicas_test.go"), replicas, 0o644); err != nil {
		t.Fatal(err)
	}
	c := exec.Command("go", "test", "-count=1", "-v", "-timeout=10m", "./platform/messaging")
	c.Dir = ws
	c.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off", "MESSAGING_TEST_POSTGRES_URL="+dbURL,
		"MESSAGING_TEST_NATS_URL="+natsURL, "MESSAGING_TEST_RESTART_URL="+hook.URL)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("the generated messaging tests failed against Postgres and NATS: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "--- SKIP") {
		t.Errorf("a test skipped with a database given:\n%s", out.String())
	}
	for _, test := range []string{"TestOutboxOnlyWhatCommits", "TestRelayRemovesOnlyWhatWasAcked", "TestRelayCarriesTraceContext",
		"TestRelaySetsAsideWhatTheBrokerRefuses", "TestRelayAckTimeout", "TestRelayClaims", "TestRelayDrainsAtStop", "TestInboxPrune",
		"TestInboxAppliesOnce", "TestInboxPages", "TestInboxFailedEffectIsNotRecorded", "TestInboxBatch", "TestConsumerBatch", "TestConsumerContinuesTrace",
		"TestBroker", "TestConsumerDrainsAtStop", "TestOutboxKeys", "TestInboxAppliesAKeyInOrder", "TestConsumerWaitsForItsKey"} {
		for _, store := range []string{"sqlite", "postgres"} {
			if !strings.Contains(out.String(), "--- PASS: "+test+"/"+store+" ") {
				t.Errorf("%s did not pass against %s:\n%s", test, store, out.String())
			}
		}
	}
	for _, test := range []string{"TestStartWithoutBroker", "TestRetentionFromEnv", "TestServiceStopsAfterTheRelayDrains"} {
		if !strings.Contains(out.String(), "--- PASS: "+test+" ") {
			t.Errorf("%s did not pass:\n%s", test, out.String())
		}
	}
	// MESSAGING_TEST_REPLICAS_CALM=1 (passed through) measures instead:
	// no kill, no restart, the events written before the replicas start.
	wantRestarts := int32(1)
	if os.Getenv("MESSAGING_TEST_REPLICAS_CALM") == "1" {
		wantRestarts = 0
	}
	if !strings.Contains(out.String(), "--- PASS: TestReplicas ") || restarts.Load() != wantRestarts {
		t.Errorf("the replicas test did not pass with %d restart of the broker (%d):\n%s", wantRestarts, restarts.Load(), out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "replicas: ") {
			t.Log(strings.TrimSpace(line))
		}
	}
	// Each test's schema is dropped when it ends.
	code, left := execIn(t, cli, created.ID, nil, "psql", "-U", "postgres", "-tAc",
		"SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'messaging_test_%'")
	if code != 0 || strings.TrimSpace(left) != "0" {
		t.Errorf("schemas left by the tests: %q (exit %d)", left, code)
	}
}
