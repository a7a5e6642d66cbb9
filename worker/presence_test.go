package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/retention"
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

// A run stuck on a queue no worker polls any more (the queue moved) would
// hold back every later run under SKIP until its timeout: the worker that
// brings the schedule in line ends it.
func TestEnsurePresenceScheduleEndsARunTheUpdateSupersedes(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg))
	handle := tb.client.ScheduleClient().GetHandle(tb.ctx, tb.cfg.ID)
	require.NoError(t, handle.Trigger(tb.ctx, client.ScheduleTriggerOptions{}), "a run on a queue nobody polls")
	var stuck client.ScheduleWorkflowExecution
	require.Eventually(t, func() bool {
		running := tb.describe(t).Info.RunningWorkflows
		if len(running) == 1 {
			stuck = running[0]
		}
		return len(running) == 1
	}, 10*time.Second, 100*time.Millisecond, "the triggered run is running")

	moved := tb.cfg
	moved.TaskQueue = testenv.Name("presence-moved")
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, moved))

	d, err := tb.client.DescribeWorkflow(tb.ctx, stuck.WorkflowID, stuck.FirstExecutionRunID)
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, d.RawResponse.GetWorkflowExecutionInfo().GetStatus())
	require.Eventually(t, func() bool { return len(tb.describe(t).Info.RunningWorkflows) == 0 },
		10*time.Second, 100*time.Millisecond, "the schedule no longer counts it as running")
}

// A schedule made before retention (its runs given only StaleAfter) is
// brought in line with the horizons; a change of horizon updates it again,
// and what each run is given is what the worker was configured with.
func TestEnsurePresenceScheduleBringsInTheHorizons(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg), "as a worker before retention made it")
	require.Equal(t, workflows.PresenceCleanupInput{StaleAfter: presence.DefaultRemoveAfter}, tb.input(t))

	tb.cfg.Retention = workflows.RetentionHorizons{Outbox: 24 * time.Hour, ProcessedEvents: 336 * time.Hour,
		Deliveries: 2160 * time.Hour, StreamEvents: 24 * time.Hour}
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg))
	require.Equal(t, workflows.PresenceCleanupInput{StaleAfter: presence.DefaultRemoveAfter, Retention: tb.cfg.Retention}, tb.input(t))
	updated := tb.describe(t).Info.LastUpdateAt
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg))
	require.Equal(t, updated, tb.describe(t).Info.LastUpdateAt, "the same horizons leave it alone")

	tb.cfg.Retention.Deliveries = 0 // CRIER_RETAIN_DELIVERIES=off
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg))
	require.Zero(t, tb.input(t).Retention.Deliveries)
	require.Equal(t, 24*time.Hour, tb.input(t).Retention.Outbox)
}

// input is what the schedule gives each run.
func (tb *testBundle) input(t *testing.T) workflows.PresenceCleanupInput {
	t.Helper()
	action, ok := tb.describe(t).Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	require.Len(t, action.Args, 1)
	payload, ok := action.Args[0].(*commonpb.Payload)
	require.True(t, ok)
	var in workflows.PresenceCleanupInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(payload, &in))
	return in
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
		{"negative horizon", worker.ScheduleConfig{TaskQueue: "q", Retention: workflows.RetentionHorizons{Outbox: -time.Hour}}, "must not be negative"},
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

// The schedule's runs, on a worker as crier worker builds it, delete what is
// past each horizon from the real database and leave the rest: published
// outbox rows (never pending ones), processed events, the deliveries of a
// broadcast that ended long ago (never those of a live one), the stream
// log.
func TestMaintenanceScheduleDeletesRowsPastTheirHorizons(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	pool := testenv.Pool(t)
	seedPastAndPresent(t, pool)
	pruner, err := retention.New(pool, retention.Config{})
	require.NoError(t, err)
	w := worker.New(tb.client, &activities.Activities{Store: store.New(pool)}, worker.Config{
		TaskQueue: tb.cfg.TaskQueue, Logger: testenv.Logger(t),
		Presence: &activities.PresenceActivities{Store: presence.New(pool), Retention: pruner},
	})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	tb.cfg.Retention = workflows.RetentionHorizons{Outbox: 24 * time.Hour, ProcessedEvents: 336 * time.Hour,
		Deliveries: 2160 * time.Hour, StreamEvents: 24 * time.Hour}
	require.NoError(t, worker.EnsurePresenceSchedule(tb.ctx, tb.client, tb.cfg))

	require.NoError(t, tb.client.ScheduleClient().GetHandle(tb.ctx, tb.cfg.ID).Trigger(tb.ctx, client.ScheduleTriggerOptions{}))

	testenv.Eventually(t, 30*time.Second, func() error {
		var left []string
		rows, err := pool.Query(tb.ctx, `
			SELECT 'outbox ' || event_type FROM outbox
			UNION ALL SELECT 'processed ' || consumer FROM processed_events
			UNION ALL SELECT 'delivery ' || user_id FROM deliveries
			UNION ALL SELECT 'stream ' || event_type FROM stream_events ORDER BY 1`)
		if err != nil {
			return err
		}
		if left, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		want := []string{"delivery of-live", "outbox pending", "outbox young", "processed young", "stream young"}
		if fmt.Sprint(left) != fmt.Sprint(want) {
			return fmt.Errorf("rows left: %v, want %v", left, want)
		}
		return nil
	})
}

// seedPastAndPresent stores, for each table, a row past its default horizon
// and one within it (named old and young), an old outbox row never
// published, and deliveries of an old ended broadcast and of a live one.
func seedPastAndPresent(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, published_at) VALUES
			('old', gen_random_uuid(), now() - interval '2 days', '{}', now() - interval '2 days'),
			('young', gen_random_uuid(), now(), '{}', now()),
			('pending', gen_random_uuid(), now() - interval '30 days', '{}', NULL)`,
		`INSERT INTO processed_events (consumer, event_id, processed_at) VALUES
			('old', gen_random_uuid(), now() - interval '15 days'), ('young', gen_random_uuid(), now())`,
		`INSERT INTO stream_events (kafka_partition, kafka_offset, event_id, event_type, broadcast_id, occurred_at, payload) VALUES
			(0, 0, gen_random_uuid(), 'old', gen_random_uuid(), now() - interval '2 days', '{}'),
			(0, 1, gen_random_uuid(), 'young', gen_random_uuid(), now(), '{}')`,
		`INSERT INTO broadcasts (id, status, sender_id, sender_name, title, content, category, priority, target_type,
			scheduled_at, expires_at, created_at, updated_at, workflow_id) VALUES
			('00000000-0000-7000-8000-000000000001', 'EXPIRED', 'a', 'A', 't', 'c', 'g', 'NORMAL', 'SELECTED',
			 now() - interval '100 days', now() - interval '91 days', now() - interval '100 days', now() - interval '91 days', 'w1'),
			('00000000-0000-7000-8000-000000000002', 'SENT', 'a', 'A', 't', 'c', 'g', 'NORMAL', 'SELECTED',
			 now() - interval '100 days', now() + interval '1 day', now() - interval '100 days', now() - interval '100 days', 'w2')`,
		`INSERT INTO deliveries (broadcast_id, user_id) VALUES
			('00000000-0000-7000-8000-000000000001', 'of-ended'), ('00000000-0000-7000-8000-000000000002', 'of-live')`,
	} {
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err)
	}
}
