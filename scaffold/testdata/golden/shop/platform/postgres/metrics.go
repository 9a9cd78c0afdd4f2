package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector shows a pgx pool's statistics on /metrics, as
// client_golang's DBStats collector shows a database/sql pool's (pgx
// keeps its own pool, which database/sql does not see), under the same
// db_name label: connections open, in use and idle, and how often and how
// long a query waited for one.
type poolCollector struct {
	pool *pgxpool.Pool

	max, open, inUse, idle                         *prometheus.Desc
	acquires, waits, waitSeconds, canceled, opened *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool, dbName string) *poolCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("pgxpool_"+name, help, nil, prometheus.Labels{"db_name": dbName})
	}
	return &poolCollector{
		pool:        pool,
		max:         desc("max_connections", "Most connections the pool opens."),
		open:        desc("open_connections", "Connections open, in use, idle or being opened."),
		inUse:       desc("in_use_connections", "Connections in use."),
		idle:        desc("idle_connections", "Idle connections."),
		acquires:    desc("acquires_total", "Connections taken from the pool."),
		waits:       desc("wait_count_total", "Connections taken that had to be waited for: none was idle."),
		waitSeconds: desc("wait_duration_seconds_total", "Time spent waiting for a connection."),
		canceled:    desc("canceled_acquires_total", "Waits for a connection given up because the caller's context ended."),
		opened:      desc("connections_opened_total", "Connections opened."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.max, c.open, c.inUse, c.idle, c.acquires, c.waits, c.waitSeconds, c.canceled, c.opened} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.max, float64(s.MaxConns()))
	gauge(c.open, float64(s.TotalConns()))
	gauge(c.inUse, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.waits, float64(s.EmptyAcquireCount()))
	counter(c.waitSeconds, s.EmptyAcquireWaitTime().Seconds())
	counter(c.canceled, float64(s.CanceledAcquireCount()))
	counter(c.opened, float64(s.NewConnsCount()))
}
