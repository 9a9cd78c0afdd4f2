package runner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
)

// jsz is a NATS server's /jsz?consumers=true, trimmed: the events stream
// with two consumers, and the dead-letter stream.
const jsz = `{
  "streams": 2, "consumers": 2,
  "account_details": [{
    "name": "$G",
    "stream_detail": [
      {"name": "EVENTS", "state": {"messages": 150},
       "consumer_detail": [
         {"stream_name": "EVENTS", "name": "payments", "num_ack_pending": 5, "num_redelivered": 2, "num_waiting": 1, "num_pending": 100},
         {"stream_name": "EVENTS", "name": "ledger", "num_ack_pending": 0, "num_redelivered": 0, "num_pending": 0}]},
      {"name": "DEADLETTER", "state": {"messages": 1},
       "consumer_detail": [{"name": "payments", "num_pending": 7}]}
    ]}]
}`

func TestParseJSZ(t *testing.T) {
	st, err := ParseJSZ([]byte(jsz))
	if err != nil {
		t.Fatal(err)
	}
	if st.DeadLetters != 1 {
		t.Errorf("dead letters = %d, want the dead-letter stream's 1", st.DeadLetters)
	}
	got := st.Consumers
	want := map[string]ConsumerStatus{
		"payments": {Pending: 100, AckPending: 5, Redelivered: 2},
		"ledger":   {},
	}
	if len(got) != len(want) || got["payments"] != want["payments"] || got["ledger"] != want["ledger"] {
		t.Errorf("consumers = %+v, want %+v (the events stream's only)", got, want)
	}
	if _, err := ParseJSZ([]byte("<html>")); err == nil {
		t.Error("a page that is not /jsz: no error")
	}
	empty, err := ParseJSZ([]byte(`{"streams": 0, "account_details": [{"name": "$G"}]}`))
	if err != nil || len(empty.Consumers) != 0 || empty.DeadLetters != 0 {
		t.Errorf("no stream yet: %v, %v", empty, err)
	}
}

func TestHTTPBrokerConsumers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jsz" || r.URL.Query().Get("consumers") != "true" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(jsz))
	}))
	defer srv.Close()
	got, err := HTTPBroker{}.Read(context.Background(), srv.URL)
	if err != nil || got.Consumers["payments"].Pending != 100 || got.DeadLetters != 1 {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	// Its errors never quote the URL: its path is a secret.
	if _, err := (HTTPBroker{}).Read(context.Background(), srv.URL+"/secret-0123456789"); err == nil || strings.Contains(err.Error(), "secret-0123456789") {
		t.Errorf("a 404: %v", err)
	}
	srv.Close()
	if _, err := (HTTPBroker{}).Read(context.Background(), srv.URL+"/secret-0123456789"); err == nil || strings.Contains(err.Error(), "secret-0123456789") {
		t.Errorf("no broker: %v", err)
	}
}

type fakeBroker struct {
	url         string
	consumers   map[string]ConsumerStatus
	deadLetters uint64
	err         error
}

func (f *fakeBroker) Read(_ context.Context, url string) (BrokerStatus, error) {
	f.url = url
	return BrokerStatus{Consumers: f.consumers, DeadLetters: f.deadLetters}, f.err
}

func TestFillConsumers(t *testing.T) {
	list := func() []ServiceStatus {
		return []ServiceStatus{
			{Service: "nats", Role: devenv.RoleInfra, URL: "http://127.0.0.1:49000", brokerMonitor: "http://127.0.0.1:49000/monitor-path-0123456789"},
			{Service: "orders", Role: devenv.RoleService},
			{Service: "payments", Role: devenv.RoleService, State: "exited"},
		}
	}
	// One consumer per topic, summed; one of an older msx (named after
	// the service alone) left out.
	fb := &fakeBroker{consumers: map[string]ConsumerStatus{
		"payments_orders_item_created": {Pending: 60, Redelivered: 1},
		"payments_orders_item_deleted": {Pending: 40},
		"payments":                     {Pending: 7},
	}, deadLetters: 3}
	r := &Runner{Broker: fb}
	got := list()
	r.fillConsumers(context.Background(), got)
	// A stopped subscriber's consumer still counts what waits for it.
	if fb.url != "http://127.0.0.1:49000/monitor-path-0123456789" || got[1].Consumer != nil || got[2].Consumer == nil ||
		*got[2].Consumer != (ConsumerStatus{Pending: 100, Redelivered: 1}) || got[0].Consumer != nil {
		t.Errorf("asked %q; statuses %+v", fb.url, got)
	}
	// The dead letters are the broker's, on its own line.
	if got[0].DeadLetters == nil || *got[0].DeadLetters != 3 || got[1].DeadLetters != nil {
		t.Errorf("dead letters: broker %v, orders %v; want 3 on the broker's line", got[0].DeadLetters, got[1].DeadLetters)
	}

	// A broker that does not answer, or none running: no counts, no error.
	fb = &fakeBroker{err: errors.New("connection refused")}
	r.Broker = fb
	got = list()
	r.fillConsumers(context.Background(), got)
	if got[2].Consumer != nil || got[0].DeadLetters != nil {
		t.Errorf("counts from a broker that failed: %+v", got)
	}
	got = list()
	got[0].URL, got[0].brokerMonitor = "", ""
	fb.url = ""
	r.fillConsumers(context.Background(), got)
	if fb.url != "" {
		t.Errorf("asked a broker that is not running at %q", fb.url)
	}
}
