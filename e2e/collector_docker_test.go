package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCollectorSurvivesHostileInputDocker sends the project's collector,
// on its published port, what once got it OOM-killed within seconds: a
// 32 KiB gzip body that expands to 32 MiB of empty spans, a 31 MiB JSON
// body (with a length and streamed without one), a small body of many
// empty spans, several of each at once. Each is refused, and the
// container is still the same one, running, never OOM-killed or
// restarted, and still answers.
func TestCollectorSurvivesHostileInputDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(freePort(t)), "NO_COLOR=1"}
	removeImages(t, cli, project)
	// Runs after newShop's down --volumes (cleanups run last first).
	t.Cleanup(func() { requireNothingLeft(t, cli, project, true) })
	ws := newShop(t, parent, project, env)
	mustMsx(t, ws, env, "up", "-d")

	ctx := context.Background()
	name := project + "-collector"
	insp, err := cli.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var port string
	for _, b := range insp.NetworkSettings.Ports["4318/tcp"] {
		if b.HostIP == "127.0.0.1" {
			port = b.HostPort
		}
	}
	if port == "" {
		t.Fatalf("the collector publishes no port on 127.0.0.1: %+v", insp.NetworkSettings.Ports)
	}
	base := "http://127.0.0.1:" + port

	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write(bytes.Repeat([]byte{0x0a, 0x00}, 16<<20)) // 32 MiB of empty resource spans
	zw.Close()
	big := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"` + strings.Repeat("x", 31<<20) + `"}]}]}]}`)
	// A million empty spans in 2 MiB: resource_spans { scope_spans { spans... } }.
	many := bytes.Repeat([]byte{0x12, 0x00}, 1<<20)
	many = append(protoLen(0x12, len(many)), many...)
	many = append(protoLen(0x0a, len(many)), many...)

	client := &http.Client{Timeout: 30 * time.Second}
	post := func(body []byte, ct, encoding string, streamed bool) int {
		var rd io.Reader = bytes.NewReader(body)
		if streamed {
			rd = io.MultiReader(rd) // no length: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/traces", rd)
		req.Header.Set("Content-Type", ct)
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0 // the collector may close the connection on a body it refused
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Logf("gzip bomb: %d bytes", bomb.Len())
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string][]int{}
	for range 4 {
		for what, send := range map[string]func() int{
			"gzip bomb":       func() int { return post(bomb.Bytes(), "application/x-protobuf", "gzip", false) },
			"31 MiB":          func() int { return post(big, "application/json", "", false) },
			"31 MiB streamed": func() int { return post(big, "application/json", "", true) },
			"empty spans":     func() int { return post(many, "application/x-protobuf", "", false) },
		} {
			wg.Go(func() {
				code := send()
				mu.Lock()
				codes[what] = append(codes[what], code)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	t.Logf("answers: %v", codes)
	for what, list := range codes {
		// A refused body may be cut short by the collector while it is
		// still being sent (no answer, 0), but at least one of each is
		// answered 413.
		if !slices.Contains(list, http.StatusRequestEntityTooLarge) || slices.ContainsFunc(list, func(c int) bool {
			return c != 0 && c != http.StatusRequestEntityTooLarge
		}) {
			t.Errorf("%s: %v, want 413", what, list)
		}
	}

	// The container stays the same one, up, answering, for a while after
	// (an OOM kill can come once the requests are answered).
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		after, err := cli.ContainerInspect(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if after.ID != insp.ID || !after.State.Running || after.State.OOMKilled || after.RestartCount != 0 || after.State.StartedAt != insp.State.StartedAt {
			t.Fatalf("collector after the attack: running %v, OOM-killed %v, restarts %d, started %s (first %s)",
				after.State.Running, after.State.OOMKilled, after.RestartCount, after.State.StartedAt, insp.State.StartedAt)
		}
		resp, err := client.Get(base + "/api/traces")
		if err != nil {
			t.Fatalf("the query API after the attack: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("the query API after the attack: %s", resp.Status)
		}
	}
	// DNS rebinding: the query API answers only its own names.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/traces", nil)
	req.Host = "evil.example"
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET /api/traces with Host evil.example: %v %v, want 421", err, resp)
	} else {
		resp.Body.Close()
	}
}

// protoLen is a protobuf length-delimited field's tag and length.
func protoLen(tag byte, n int) []byte {
	b := []byte{tag}
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}
