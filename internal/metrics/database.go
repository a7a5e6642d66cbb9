package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crier/crier/internal/broadcast"
)

// Database reports what PostgreSQL knows at scrape time: broadcasts per
// status, and the outbox backlog with the age of its oldest row. Answers
// are cached for a few seconds so frequent scrapes cost one query.
type Database struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu       sync.Mutex
	at       time.Time
	byStatus map[broadcast.Status]float64
	backlog  float64
	oldest   float64
}

var (
	broadcastsDesc = prometheus.NewDesc("crier_broadcasts", "Broadcasts per status.", []string{"status"}, nil)
	backlogDesc    = prometheus.NewDesc("crier_outbox_backlog", "Outbox events not yet written to Kafka.", nil, nil)
	oldestDesc     = prometheus.NewDesc("crier_outbox_oldest_age_seconds", "Age of the oldest outbox event not yet written to Kafka (0 when none).", nil, nil)
)

// NewDatabase returns the collector; register it in the processes that
// should report these (the relay's).
func NewDatabase(pool *pgxpool.Pool, logger *slog.Logger) *Database {
	return &Database{pool: pool, log: logger}
}

// Describe implements prometheus.Collector.
func (d *Database) Describe(ch chan<- *prometheus.Desc) {
	ch <- broadcastsDesc
	ch <- backlogDesc
	ch <- oldestDesc
}

// Collect implements prometheus.Collector.
func (d *Database) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.at) > 5*time.Second {
		if err := d.refresh(); err != nil {
			d.log.Warn("Could not read database metrics", "error", err)
			return
		}
	}
	for _, s := range broadcast.Statuses {
		ch <- prometheus.MustNewConstMetric(broadcastsDesc, prometheus.GaugeValue, d.byStatus[s], string(s))
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, d.backlog)
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, d.oldest)
}

func (d *Database) refresh() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := d.pool.Query(ctx, `SELECT status, count(*) FROM broadcasts GROUP BY status`)
	if err != nil {
		return err
	}
	byStatus := map[broadcast.Status]float64{}
	for rows.Next() {
		var (
			s broadcast.Status
			n int64
		)
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return err
		}
		byStatus[s] = float64(n)
	}
	rows.Close()
	var backlog int64
	var oldest float64
	if err := d.pool.QueryRow(ctx, `
		SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)
		FROM outbox WHERE published_at IS NULL AND failed_at IS NULL`).Scan(&backlog, &oldest); err != nil {
		return err
	}
	d.byStatus, d.backlog, d.oldest, d.at = byStatus, float64(backlog), oldest, time.Now()
	return nil
}
