package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// RetentionDeleted counts the rows the maintenance run deleted past their
// horizon, by table (outbox, processed_events, deliveries, stream_events:
// internal/retention's fixed set). Counted by the worker that ran the
// activity; sum it over workers.
var RetentionDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "crier_retention_deleted_rows_total",
	Help: "Rows the maintenance run deleted past their horizon, by table.",
}, []string{"table"})

var (
	retentionOldestDesc = prometheus.NewDesc("crier_retention_oldest_age_seconds",
		"Age of the oldest row a retention horizon governs, by table (0 when none): published outbox rows, processed events, "+
			"the stream log; for deliveries, how long ago the broadcasts whose deliveries are all deleted ended, at the latest.",
		[]string{"table"}, nil)
	retentionHorizonDesc = prometheus.NewDesc("crier_retention_horizon_seconds",
		"How long each table's rows are kept before the maintenance run deletes them, by table.",
		[]string{"table"}, nil)
)

// retentionOldestSQL reads the age of the oldest row of each horizon that
// an index answers at once (a min() read from one end of it): published
// outbox rows (outbox_published), processed events
// (processed_events_processed), the stream log (stream_events_occurred).
// For deliveries it reads the retention's mark instead (retention_marks):
// the deliveries of every broadcast that ended before it are gone, so its
// age is the horizon while deletion keeps up, and grows when it stops.
const retentionOldestSQL = `
SELECT
	COALESCE(EXTRACT(EPOCH FROM now() - (SELECT min(published_at) FROM outbox WHERE published_at IS NOT NULL)), 0),
	COALESCE(EXTRACT(EPOCH FROM now() - (SELECT min(processed_at) FROM processed_events)), 0),
	COALESCE(EXTRACT(EPOCH FROM now() - (SELECT min(occurred_at) FROM stream_events)), 0),
	COALESCE(EXTRACT(EPOCH FROM now() - (SELECT through FROM retention_marks WHERE name = 'deliveries')), 0)`

// Retention reports, at scrape time, the age of the oldest row each
// retention horizon governs beside the horizon itself, so an alert can tell
// when deletion falls behind (CrierRetentionBehind). Answers are cached for
// a few seconds, as Database's are.
type Retention struct {
	pool     *pgxpool.Pool
	horizons map[string]time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	at     time.Time
	oldest map[string]float64
}

// NewRetention returns the collector; horizons are by table name (a zero
// horizon is left out). Register it in the processes that run the
// maintenance (the workers').
func NewRetention(pool *pgxpool.Pool, horizons map[string]time.Duration, logger *slog.Logger) *Retention {
	return &Retention{pool: pool, horizons: horizons, log: logger}
}

// Describe implements prometheus.Collector.
func (r *Retention) Describe(ch chan<- *prometheus.Desc) {
	ch <- retentionOldestDesc
	ch <- retentionHorizonDesc
}

// Collect implements prometheus.Collector.
func (r *Retention) Collect(ch chan<- prometheus.Metric) {
	for table, h := range r.horizons {
		if h > 0 {
			ch <- prometheus.MustNewConstMetric(retentionHorizonDesc, prometheus.GaugeValue, h.Seconds(), table)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.at) > 5*time.Second {
		if err := r.refresh(); err != nil {
			r.log.Warn("Could not read retention metrics", "error", err)
			return
		}
	}
	for table, age := range r.oldest {
		ch <- prometheus.MustNewConstMetric(retentionOldestDesc, prometheus.GaugeValue, age, table)
	}
}

func (r *Retention) refresh() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var outbox, processed, streamLog, deliveries float64
	if err := r.pool.QueryRow(ctx, retentionOldestSQL).Scan(&outbox, &processed, &streamLog, &deliveries); err != nil {
		return err
	}
	r.oldest = map[string]float64{"outbox": outbox, "processed_events": processed, "stream_events": streamLog, "deliveries": deliveries}
	r.at = time.Now()
	return nil
}
