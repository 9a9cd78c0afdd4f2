package postgres

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/shop/platform/metrics"
)

// TestPoolStatisticsAreMetrics: a pool shows on /metrics under its
// database's name. The pool connects lazily, so no database is needed.
func TestPoolStatisticsAreMetrics(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://payments@127.0.0.1:1/payments")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m := metrics.New()
	if err := m.Register(newPoolCollector(pool, cfg.ConnConfig.Database)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		"# TYPE pgxpool_max_connections gauge",
		`pgxpool_max_connections{db_name="payments"} 4`,
		`pgxpool_in_use_connections{db_name="payments"} 0`,
		"# TYPE pgxpool_wait_count_total counter",
		`pgxpool_wait_duration_seconds_total{db_name="payments"} 0`,
	} {
		if !strings.Contains(rec.Body.String(), "\n"+want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, rec.Body)
		}
	}
}
