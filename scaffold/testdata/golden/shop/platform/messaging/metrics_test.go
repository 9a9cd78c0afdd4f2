package messaging

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"

	"example.com/shop/platform/metrics"
)

// installed is the Metrics a test installs, as a service does at its
// start; the package's instruments follow the provider installed last, and
// another test's service may have installed and shut down one before.
var installed atomic.Pointer[metrics.Metrics]

func install(t *testing.T) {
	m := metrics.Setup()
	installed.Store(m)
	t.Cleanup(func() { m.Shutdown(context.Background()) })
}

// scrape returns what GET /metrics answers.
func scrape(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	installed.Load().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, "\n"+l+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", l, body)
		}
	}
}

// metricsMsg is a delivered message with its place in the stream.
type metricsMsg struct {
	jetstream.Msg
	subject string
	pending uint64
	settled string
}

func (m *metricsMsg) Subject() string      { return m.subject }
func (m *metricsMsg) Data() []byte         { return []byte(`{}`) }
func (m *metricsMsg) Headers() nats.Header { return nats.Header{} }
func (m *metricsMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: 1, NumPending: m.pending}, nil
}
func (m *metricsMsg) TermWithReason(string) error { m.settled = "term"; return nil }

// acceptingJS is a broker that accepts every dead letter.
type acceptingJS struct {
	jetstream.JetStream
	published []string
}

func (d *acceptingJS) PublishMsg(_ context.Context, m *nats.Msg, _ ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	d.published = append(d.published, m.Subject)
	return &jetstream.PubAck{}, nil
}

func TestOutboxBacklogIsAMetric(t *testing.T) {
	install(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	if _, err := db.Exec(sqliteSchema); err != nil {
		t.Fatal(err)
	}
	o := NewOutbox(db, SQLite, "orders")
	stop := observeBacklog(o)
	addEvents(t, db, o, context.Background(), 3, true)
	wantLines(t, scrape(t), "# TYPE messaging_outbox_backlog gauge", "messaging_outbox_backlog 3")
	stop()
	if body := scrape(t); strings.Contains(body, "messaging_outbox_backlog") {
		t.Errorf("the backlog is still observed once stopped:\n%s", body)
	}
}

func TestConsumerLagAndDeadLettersAreMetrics(t *testing.T) {
	install(t)
	h := &consumer{service: "payments", tracer: otel.Tracer("test"), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		opts: ConsumeOptions{MaxDeliver: 1}}
	h.b = &Broker{JS: &acceptingJS{}}
	ctx := context.Background()
	// Not events (the payload has no id): they fail, and with MaxDeliver 1
	// go to the dead-letter stream at once.
	msgs := []*metricsMsg{
		{subject: SubjectPrefix + "ledger.entry.posted", pending: 9},
		{subject: SubjectPrefix + "ledger.entry.posted", pending: 8},
		{subject: SubjectPrefix + "ledger.entry.voided", pending: 0},
	}
	var batch []*inflight
	for _, m := range msgs {
		batch = h.arrived(ctx, batch, m)
	}
	h.handle(ctx, batch)
	for _, m := range msgs {
		if m.settled != "term" {
			t.Fatalf("%s settled %q, want dead-lettered and terminated", m.subject, m.settled)
		}
	}
	wantLines(t, scrape(t),
		"# TYPE messaging_consumer_lag gauge",
		`messaging_consumer_lag{topic="ledger.entry.posted"} 8`,
		`messaging_consumer_lag{topic="ledger.entry.voided"} 0`,
		"# TYPE messaging_consumer_dead_lettered_total counter",
		`messaging_consumer_dead_lettered_total{topic="ledger.entry.posted"} 2`,
		`messaging_consumer_dead_lettered_total{topic="ledger.entry.voided"} 1`,
	)
	if got := h.b.JS.(*acceptingJS).published; len(got) != 3 {
		t.Errorf("dead letters published: %v, want 3", got)
	}
}
