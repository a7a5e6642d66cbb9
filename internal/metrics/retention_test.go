package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/testenv"
)

// The collector reports each horizon and, read from PostgreSQL, the age of
// the oldest row it governs (0 for an empty table), and for deliveries the
// age of the retention's mark.
func TestRetentionReportsHorizonsAndOldestRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t)
	for _, sql := range []string{
		`INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, published_at) VALUES
			('old', gen_random_uuid(), now() - interval '3 hours', '{}', now() - interval '2 hours'),
			('pending', gen_random_uuid(), now() - interval '9 hours', '{}', NULL)`,
		`INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('c', gen_random_uuid(), now() - interval '5 hours')`,
		`INSERT INTO retention_marks (name, through) VALUES ('deliveries', now() - interval '90 days')`,
	} {
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewRetention(pool, map[string]time.Duration{
		"outbox": 24 * time.Hour, "processed_events": 336 * time.Hour, "deliveries": 2160 * time.Hour, "stream_events": 0,
	}, testenv.Logger(t)))

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]map[string]float64{}
	for _, f := range families {
		got[f.GetName()] = map[string]float64{}
		for _, m := range f.GetMetric() {
			got[f.GetName()][m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	require.Equal(t, map[string]float64{"outbox": 86400, "processed_events": 336 * 3600, "deliveries": 2160 * 3600},
		got["crier_retention_horizon_seconds"], "a horizon that is off is left out")
	oldest := got["crier_retention_oldest_age_seconds"]
	require.InDelta(t, 2*3600, oldest["outbox"], 60, "the oldest published row; a pending one is not retention's")
	require.InDelta(t, 5*3600, oldest["processed_events"], 60)
	require.InDelta(t, 90*24*3600, oldest["deliveries"], 60)
	require.Zero(t, oldest["stream_events"], "an empty table")
}
