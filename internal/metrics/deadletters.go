package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var deadLettersPendingDesc = prometheus.NewDesc("crier_dead_letters_pending",
	"Dead letters not yet resolved or dropped (PENDING, REDRIVING, FAILED), by consumer.", []string{"consumer"}, nil)

// DeadLettersPending reports, at scrape time, how many dead letters wait for
// an admin per consumer, as count reads them from PostgreSQL (cached for a
// few seconds, like Database). Every consumer in consumers is reported, 0
// when it has none, so the alert and the dashboard see a value.
type DeadLettersPending struct {
	count     func(context.Context) (map[string]int64, error)
	consumers []string
	log       *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last map[string]int64
}

// NewDeadLettersPending returns the collector; register it where Database is
// (the relay's process).
func NewDeadLettersPending(count func(context.Context) (map[string]int64, error), consumers []string, logger *slog.Logger) *DeadLettersPending {
	return &DeadLettersPending{count: count, consumers: consumers, log: logger}
}

// Describe implements prometheus.Collector.
func (d *DeadLettersPending) Describe(ch chan<- *prometheus.Desc) { ch <- deadLettersPendingDesc }

// Collect implements prometheus.Collector.
func (d *DeadLettersPending) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.at) > 5*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		counts, err := d.count(ctx)
		cancel()
		if err != nil {
			d.log.Warn("Could not count dead letters", "error", err)
			return
		}
		d.last, d.at = counts, time.Now()
	}
	seen := map[string]bool{}
	for _, c := range d.consumers {
		seen[c] = true
		ch <- prometheus.MustNewConstMetric(deadLettersPendingDesc, prometheus.GaugeValue, float64(d.last[c]), c)
	}
	for c, n := range d.last {
		if !seen[c] {
			ch <- prometheus.MustNewConstMetric(deadLettersPendingDesc, prometheus.GaugeValue, float64(n), c)
		}
	}
}
