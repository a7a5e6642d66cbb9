package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/retention"
	"github.com/crier/crier/workflows"
)

// fakePresence is an activities.PresenceStore that fails its first failures
// calls and records the ages it was asked for.
type fakePresence struct {
	mu       sync.Mutex
	failures int
	removed  int64
	ages     []time.Duration
}

func (f *fakePresence) RemoveStale(_ context.Context, olderThan time.Duration) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ages = append(f.ages, olderThan)
	if len(f.ages) <= f.failures {
		return 0, errors.New("connection refused")
	}
	return f.removed, nil
}

// fakePruner is an activities.Pruner that deletes deleted[table] rows (more
// left when more[table]), fails every attempt for the tables in failing,
// and records the horizons it was asked for, in order.
type fakePruner struct {
	mu      sync.Mutex
	deleted map[retention.Table]int64
	more    map[retention.Table]bool
	failing map[retention.Table]bool
	asked   []activities.PruneTableInput
}

func (f *fakePruner) Prune(_ context.Context, table retention.Table, horizon time.Duration) (retention.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, activities.PruneTableInput{Table: table, Horizon: horizon})
	if f.failing[table] {
		return retention.Result{}, errors.New("connection refused")
	}
	return retention.Result{Deleted: f.deleted[table], More: f.more[table]}, nil
}

func setupCleanup(t *testing.T, store *fakePresence) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	return setupMaintenance(t, store, &fakePruner{})
}

func setupMaintenance(t *testing.T, store *fakePresence, pruner *fakePruner) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.PresenceCleanup, workflow.RegisterOptions{Name: workflows.PresenceCleanupName})
	env.RegisterActivity(&activities.PresenceActivities{Store: store, Retention: pruner})
	return env
}

func TestPresenceCleanup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input workflows.PresenceCleanupInput
		want  time.Duration
	}{
		{"default age", workflows.PresenceCleanupInput{}, presence.DefaultRemoveAfter},
		{"given age", workflows.PresenceCleanupInput{StaleAfter: 5 * time.Minute}, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &fakePresence{removed: 42}
			env := setupCleanup(t, store)

			env.ExecuteWorkflow(workflows.PresenceCleanupName, tt.input)

			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var res workflows.PresenceCleanupResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.EqualValues(t, 42, res.Removed)
			require.Equal(t, []time.Duration{tt.want}, store.ages)
		})
	}
}

func TestPresenceCleanupRetriesABlip(t *testing.T) {
	t.Parallel()
	store := &fakePresence{failures: 2, removed: 3}
	env := setupCleanup(t, store)

	env.ExecuteWorkflow(workflows.PresenceCleanup, workflows.PresenceCleanupInput{})

	require.NoError(t, env.GetWorkflowError())
	var res workflows.PresenceCleanupResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.EqualValues(t, 3, res.Removed)
	require.Len(t, store.ages, 3)
}

func TestPresenceCleanupGivesUpWithinAMinute(t *testing.T) {
	t.Parallel()
	store := &fakePresence{failures: 1000}
	env := setupCleanup(t, store)
	start := env.Now()

	env.ExecuteWorkflow(workflows.PresenceCleanup, workflows.PresenceCleanupInput{})

	err := env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Contains(t, appErr.Error(), "connection refused")
	require.Len(t, store.ages, 3, "a few attempts, then the next scheduled run takes over")
	require.Less(t, env.Now().Sub(start), time.Minute, "the run ends before the next one is due")
}

func TestPresenceCleanupRefusesNegativeAge(t *testing.T) {
	t.Parallel()
	store := &fakePresence{}
	env := setupCleanup(t, store)

	env.ExecuteWorkflow(workflows.PresenceCleanup, workflows.PresenceCleanupInput{StaleAfter: -time.Second})

	require.ErrorContains(t, env.GetWorkflowError(), "must be positive")
	require.Empty(t, store.ages)
}

// horizons are a schedule's retention horizons, every table on.
var horizons = workflows.RetentionHorizons{
	Outbox: 24 * time.Hour, ProcessedEvents: 336 * time.Hour, Deliveries: 2160 * time.Hour, StreamEvents: 24 * time.Hour,
}

// A run removes stale connections, then prunes each table with its horizon,
// one after the other in retention.Tables' order, and reports what each
// deleted and which have more left.
func TestMaintenanceRunPrunesEachTable(t *testing.T) {
	t.Parallel()
	pruner := &fakePruner{
		deleted: map[retention.Table]int64{retention.Outbox: 10_000 * 10, retention.ProcessedEvents: 7, retention.StreamEvents: 3},
		more:    map[retention.Table]bool{retention.Outbox: true},
	}
	env := setupMaintenance(t, &fakePresence{removed: 2}, pruner)

	env.ExecuteWorkflow(workflows.PresenceCleanupName, workflows.PresenceCleanupInput{Retention: horizons})

	require.NoError(t, env.GetWorkflowError())
	var res workflows.PresenceCleanupResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.PresenceCleanupResult{
		Removed: 2,
		Deleted: map[retention.Table]int64{retention.Outbox: 100_000, retention.ProcessedEvents: 7, retention.Deliveries: 0, retention.StreamEvents: 3},
		Behind:  []retention.Table{retention.Outbox},
	}, res)
	require.Equal(t, []activities.PruneTableInput{
		{Table: retention.Outbox, Horizon: 24 * time.Hour}, {Table: retention.ProcessedEvents, Horizon: 336 * time.Hour},
		{Table: retention.Deliveries, Horizon: 2160 * time.Hour}, {Table: retention.StreamEvents, Horizon: 24 * time.Hour},
	}, pruner.asked)
}

// A zero horizon (off, or a schedule made before retention) leaves its
// table alone.
func TestMaintenanceRunSkipsTablesWithoutHorizon(t *testing.T) {
	t.Parallel()
	pruner := &fakePruner{}
	env := setupMaintenance(t, &fakePresence{}, pruner)

	env.ExecuteWorkflow(workflows.PresenceCleanupName, workflows.PresenceCleanupInput{
		Retention: workflows.RetentionHorizons{Deliveries: time.Hour}})

	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []activities.PruneTableInput{{Table: retention.Deliveries, Horizon: time.Hour}}, pruner.asked)

	pruner = &fakePruner{}
	env = setupMaintenance(t, &fakePresence{removed: 1}, pruner)
	env.ExecuteWorkflow(workflows.PresenceCleanupName, workflows.PresenceCleanupInput{})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.PresenceCleanupResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.PresenceCleanupResult{Removed: 1}, res)
	require.Empty(t, pruner.asked)
}

// A table whose deletes keep failing is given up after a few attempts; the
// others are still pruned, and the run fails so that it shows, ending
// before the next run is due.
func TestMaintenanceRunGoesOnPastAFailingTable(t *testing.T) {
	t.Parallel()
	pruner := &fakePruner{failing: map[retention.Table]bool{retention.ProcessedEvents: true},
		deleted: map[retention.Table]int64{retention.StreamEvents: 5}}
	store := &fakePresence{failures: 1000}
	env := setupMaintenance(t, store, pruner)
	start := env.Now()

	env.ExecuteWorkflow(workflows.PresenceCleanupName, workflows.PresenceCleanupInput{Retention: horizons})

	err := env.GetWorkflowError()
	require.ErrorContains(t, err, "retention of processed_events")
	require.ErrorContains(t, err, "connection refused")
	var tables []retention.Table
	for _, a := range pruner.asked {
		tables = append(tables, a.Table)
	}
	require.Equal(t, []retention.Table{retention.Outbox, retention.ProcessedEvents, retention.ProcessedEvents,
		retention.ProcessedEvents, retention.Deliveries, retention.StreamEvents}, tables,
		"three attempts at the failing table, then the next ones, though presence failed too")
	require.Less(t, env.Now().Sub(start), time.Minute)
}

func TestMaintenanceRunRefusesNegativeHorizon(t *testing.T) {
	t.Parallel()
	pruner := &fakePruner{}
	store := &fakePresence{}
	env := setupMaintenance(t, store, pruner)

	env.ExecuteWorkflow(workflows.PresenceCleanupName, workflows.PresenceCleanupInput{
		Retention: workflows.RetentionHorizons{Outbox: time.Hour, Deliveries: -time.Hour}})

	require.ErrorContains(t, env.GetWorkflowError(), "the retention horizon of deliveries -1h0m0s must be positive")
	require.Empty(t, store.ages)
	require.Empty(t, pruner.asked)
}
