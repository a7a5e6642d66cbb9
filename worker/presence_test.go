package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
	"github.com/crier/crier/worker"
	"github.com/crier/crier/workflows"
)

type testBundle struct {
	ctx    context.Context
	client client.Client
	// cfg names a schedule and task queue of this test's own: schedules
	// live in the shared test Temporal server.
	cfg worker.ScheduleConfig
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	address := testenv.TemporalAddress(t)
	c, err := client.Dial(client.Options{HostPort: address, Logger: tlog.NewStructuredLogger(testenv.Logger(t))})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	tb := &testBundle{ctx: context.Background(), client: c, cfg: worker.ScheduleConfig{
		ID: testenv.Name("presence-cleanup"), TaskQueue: testenv.Name("presence"), Logger: testenv.Logger(t),
	}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.ScheduleClient().GetHandle(ctx, tb.cfg.ID).Delete(ctx); err != nil {
			t.Logf("delete schedule %s: %v", tb.cfg.ID, err)
		}
	})
	return tb
}

func (tb *testBundle) describe(t *testing.T) *client.ScheduleDescription {
	t.Helper()
	d, err := tb.client.ScheduleClient().GetHandle(tb.ctx, tb.cfg.ID).Describe(tb.ctx)
	require.NoError(t, err)
	return d
}

func TestEnsurePresenceScheduleIsIdempotent(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg))
	created := tb.describe(t)
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg), "a second worker finds it")

	d := tb.describe(t)
	require.Equal(t, created.Info.LastUpdateAt, d.Info.LastUpdateAt, "a matching schedule is left alone")
	require.Len(t, d.Schedule.Spec.Intervals, 1)
	require.Equal(t, time.Minute, d.Schedule.Spec.Intervals[0].Every)
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
	require.Equal(t, time.Minute, d.Schedule.Policy.CatchupWindow)
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	require.Equal(t, workflows.PresenceCleanupName, action.Workflow)
	require.Equal(t, tb.cfg.ID, action.ID)
	require.Equal(t, tb.cfg.TaskQueue, action.TaskQueue)
	require.False(t, d.Schedule.State.Paused)
}

func TestEnsurePresenceScheduleUpdatesAChangedOne(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg))

	changed := tb.cfg
	changed.TaskQueue = testenv.Name("presence-moved")
	changed.Every = 2 * time.Minute
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, changed))

	d := tb.describe(t)
	require.Equal(t, 2*time.Minute, d.Schedule.Spec.Intervals[0].Every)
	require.Equal(t, changed.TaskQueue, d.Schedule.Action.(*client.ScheduleWorkflowAction).TaskQueue)
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
}

func TestEnsurePresenceScheduleRefusesBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    worker.ScheduleConfig
		detail string
	}{
		{"no task queue", worker.ScheduleConfig{}, "task queue is required"},
		{"interval under a second", worker.ScheduleConfig{TaskQueue: "q", Every: time.Millisecond}, "under a second"},
		{"stale after under two heartbeats", worker.ScheduleConfig{TaskQueue: "q", StaleAfter: 30 * time.Second}, "two heartbeats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Refused before Temporal is asked anything: no client needed.
			require.ErrorContains(t, worker.EnsurePresenceSchedule(context.Background(), nil, tt.cfg), tt.detail)
		})
	}
}

func TestPresenceScheduleRemovesStaleConnections(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	pool := testenv.Pool(t)
	ps := presence.New(pool)
	for _, c := range []presence.Connection{
		{ID: uuid.New(), NodeID: "node-live", UserID: "u1"},
		{ID: uuid.New(), NodeID: "node-dead", UserID: "u1"},
		{ID: uuid.New(), NodeID: "node-dead", UserID: "u2"},
	} {
		require.NoError(t, ps.Register(tb.ctx, c))
	}
	_, err := pool.Exec(tb.ctx, `UPDATE connections SET last_seen_at = now() - interval '5 minutes' WHERE node_id = 'node-dead'`)
	require.NoError(t, err)

	w := worker.New(tb.client, &activities.Activities{Store: store.New(pool)}, worker.Config{
		TaskQueue: tb.cfg.TaskQueue, Logger: testenv.Logger(t), Presence: &activities.PresenceActivities{Store: ps},
	})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg))

	require.NoError(t, tb.client.ScheduleClient().GetHandle(tb.ctx, tb.cfg.ID).Trigger(tb.ctx, client.ScheduleTriggerOptions{}))

	testenv.Eventually(t, 30*time.Second, func() error {
		rows, err := pool.Query(tb.ctx, `SELECT DISTINCT node_id FROM connections ORDER BY 1`)
		if err != nil {
			return err
		}
		nodes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(nodes) != 1 || nodes[0] != "node-live" {
			return fmt.Errorf("nodes with connections: %v", nodes)
		}
		return nil
	})
	// The runs the schedule started (the trigger's, and perhaps a regular
	// one that fell due meanwhile) removed the two stale rows between them.
	var removed int64
	for _, a := range tb.describe(t).Info.RecentActions {
		var res workflows.PresenceCleanupResult
		require.NoError(t, tb.client.GetWorkflow(tb.ctx, a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID).Get(tb.ctx, &res))
		removed += res.Removed
	}
	require.EqualValues(t, 2, removed)
}
