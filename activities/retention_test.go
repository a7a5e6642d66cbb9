package activities_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/metrics"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/retention"
	"github.com/crier/crier/internal/testenv"
)

// PruneTable deletes past the horizon through the real pruner and counts
// the rows in crier_retention_deleted_rows_total.
func TestPruneTable(t *testing.T) {
	// Not parallel: it reads a process-wide counter.
	pool := testenv.Pool(t)
	_, err := pool.Exec(t.Context(), `INSERT INTO processed_events (consumer, event_id, processed_at)
		SELECT 'c', gen_random_uuid(), now() - interval '20 days' FROM generate_series(1, 3)`)
	require.NoError(t, err)
	pruner, err := retention.New(pool, retention.Config{})
	require.NoError(t, err)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.PresenceActivities{Store: presence.New(pool), Retention: pruner})
	counted := deletedRows(t, retention.ProcessedEvents)

	val, err := env.ExecuteActivity((&activities.PresenceActivities{}).PruneTable,
		activities.PruneTableInput{Table: retention.ProcessedEvents, Horizon: 14 * 24 * time.Hour})

	require.NoError(t, err)
	var res activities.PruneTableResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, activities.PruneTableResult{Deleted: 3}, res)
	require.InDelta(t, counted+3, deletedRows(t, retention.ProcessedEvents), 0)
}

// deletedRows reads crier_retention_deleted_rows_total of table as
// Prometheus would scrape it.
func deletedRows(t *testing.T, table retention.Table) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.RetentionDeleted)
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" && l.GetValue() == string(table) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A worker without a pruner, or a table without retention, fails for good:
// no retry on this worker can help.
func TestPruneTableRefusesForGood(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	pruner, err := retention.New(pool, retention.Config{})
	require.NoError(t, err)
	for name, acts := range map[string]*activities.PresenceActivities{
		"no pruner":     {Store: presence.New(pool)},
		"unknown table": {Store: presence.New(pool), Retention: pruner},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(acts)
			_, err := env.ExecuteActivity((&activities.PresenceActivities{}).PruneTable,
				activities.PruneTableInput{Table: "audit_log", Horizon: time.Hour})
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			require.Equal(t, activities.ErrTypeNoRetention, appErr.Type())
			require.True(t, appErr.NonRetryable())
		})
	}
}
