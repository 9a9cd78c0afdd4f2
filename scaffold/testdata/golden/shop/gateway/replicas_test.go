package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// replica is an upstream that counts its requests and says which it is.
func replica(t *testing.T, name string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("X-Replica", name)
		w.Header().Set("X-Seen-Host", r.Host)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func replicaRoutes(upstream string, replicas ...string) string {
	return `[{"name":"orders","prefix":"/api/orders/","upstream":"` + upstream + `","replicas":["` + strings.Join(replicas, `","`) + `"]}]`
}

// TestRequestsSpreadOverReplicas: one client sending one request at a
// time (one pooled connection per replica) reaches every replica in turn,
// and each sees the service's name as the Host.
func TestRequestsSpreadOverReplicas(t *testing.T) {
	a, na := replica(t, "a")
	b, nb := replica(t, "b")
	c, nc := replica(t, "c")
	g, _ := newTestGateway(t, replicaRoutes("http://orders:8081", a.URL, b.URL, c.URL))
	for range 30 {
		rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if h := rec.Header().Get("X-Seen-Host"); h != "orders:8081" {
			t.Fatalf("the replica saw Host %q, want the service's orders:8081", h)
		}
	}
	if na.Load() != 10 || nb.Load() != 10 || nc.Load() != 10 {
		t.Errorf("requests per replica: %d %d %d, want 10 each", na.Load(), nb.Load(), nc.Load())
	}
}

// TestAStoppedReplicaIsSkipped: a replica that refuses connections costs a
// replayable request nothing (the next replica answers) and does not open
// the route's breaker; a request that may not be sent twice gets 502.
func TestAStoppedReplicaIsSkipped(t *testing.T) {
	a, na := replica(t, "a")
	b, _ := replica(t, "b")
	down := b.URL
	b.Close() // stopped: connections refused
	g, reg := newTestGateway(t, replicaRoutes("http://orders:8081", a.URL, down))
	for i := range 20 {
		rec := do(g, httptest.NewRequest(http.MethodGet, "/api/orders/items", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %d: status %d, want 200 from the live replica", i, rec.Code)
		}
	}
	if na.Load() != 20 {
		t.Errorf("the live replica answered %d of 20", na.Load())
	}
	if st := reg.States()["orders"]; st != "closed" {
		t.Errorf("breaker %q after the live replica answered every request", st)
	}
	// POSTs alternate too; the ones that meet the stopped replica fail
	// rather than being sent a second time.
	for range 4 {
		do(g, httptest.NewRequest(http.MethodPost, "/api/orders/items", strings.NewReader(`{"name":"x"}`)))
	}
	if got := na.Load() - 20; got != 2 {
		t.Errorf("the live replica got %d of 4 POSTs, want 2: a POST that may not be sent twice was", got)
	}
}

func TestParseRoutesRejectsBadReplicas(t *testing.T) {
	for _, r := range []string{"ftp://orders-2:8081", "https://orders-2:8081", "http://orders-2:8081/x", "http://", "http://u:p@orders-2:8081"} {
		if _, err := parseRoutes(replicaRoutes("http://orders:8081", "http://orders-1:8081", r)); err == nil {
			t.Errorf("parseRoutes accepted replica %s", r)
		}
	}
}
