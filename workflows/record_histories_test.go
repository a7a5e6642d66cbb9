package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/presence"
	"github.com/crier/crier/internal/retention"
	"github.com/crier/crier/internal/series"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
	crierworker "github.com/crier/crier/worker"
	"github.com/crier/crier/workflows"
)

// historiesDir holds one recorded history per workflow path, replayed by
// TestReplayRecordedHistories.
const historiesDir = "testdata/histories"

// recordEnv is the variable that turns TestRecordHistories on, so a plain
// `make test` never rewrites the fixtures.
const recordEnv = "CRIER_RECORD_HISTORIES"

// recording is one workflow path whose history is kept as a fixture.
type recording struct {
	// file is the fixture's name under historiesDir.
	file string
	// timers is how many timers the path starts: the check that it really
	// slept where a broadcast sleeps, since a slow start could otherwise
	// find a broadcast already due and record a shorter path.
	timers int
	// record drives the path on the real services and returns its run once
	// it has ended as the path says.
	record func(r *recorder, t *testing.T) client.WorkflowRun
}

// recordings are the paths replayed on every test run. Add one here when the
// workflow gains a path, then re-record (see docs/workflow-versioning.md).
var recordings = []recording{
	{file: "broadcast_published_expired.json", timers: 2, record: (*recorder).publishedThenExpired},
	{file: "broadcast_sent_now.json", timers: 1, record: (*recorder).sentNow},
	{file: "broadcast_cancelled_before_publication_update.json", timers: 1, record: (*recorder).cancelledBeforePublication},
	{file: "broadcast_cancelled_after_publication_signal.json", timers: 2, record: (*recorder).cancelledAfterPublication},
	{file: "broadcast_rescheduled_earlier_update.json", timers: 3, record: (*recorder).rescheduledEarlier},
	{file: "broadcast_reschedule_after_publication_refused.json", timers: 3, record: (*recorder).rescheduleAfterPublication},
	{file: "broadcast_publish_retried.json", timers: 1, record: (*recorder).publishRetried},
	{file: "broadcast_publication_failed.json", timers: 0, record: (*recorder).publicationFailed},
	{file: "broadcast_workflow_cancelled.json", timers: 1, record: (*recorder).workflowCancelled},
	{file: "broadcast_not_found.json", timers: 1, record: (*recorder).notFound},
	{file: "presence_cleanup.json", timers: 0, record: (*recorder).presenceCleanup},
	{file: "broadcast_applied_by_due_dispatch.json", timers: 2, record: (*recorder).appliedByDueDispatch},
	{file: "presence_cleanup_without_retention.json", timers: 0, record: (*recorder).presenceCleanupWithoutRetention},
	{file: "broadcast_rescheduled_cancelled_update_with_actor.json", timers: 2, record: (*recorder).changedByAnActor},
	{file: "broadcast_signal_refused.json", timers: 2, record: (*recorder).signalRefused},
	{file: "broadcast_retried_after_failure.json", timers: 1, record: (*recorder).retriedAfterFailure},
	{file: "series_occurrence_by_schedule.json", timers: 0, record: (*recorder).seriesOccurrenceBySchedule},
	{file: "series_occurrence_triggered.json", timers: 0, record: (*recorder).seriesOccurrenceTriggered},
	{file: "broadcast_local_time_waves.json", timers: 2, record: (*recorder).localTimeWaves},
	{file: "broadcast_local_time_cancelled_between_waves.json", timers: 1, record: (*recorder).localTimeCancelledBetweenWaves},
}

// recorderOrigin is who the recorder's changes are made by, as the API names
// its caller in an update's request.
var recorderOrigin = audit.Origin{Actor: audit.Actor{ID: "recorder-admin", Name: "History recorder", Roles: []string{"admin"}},
	RequestID: "01890000-0000-7000-8000-000000000000", ClientRequestID: "client-id"}

// TestRecordHistories runs the real workflows, with the real activities and
// store, on a real Temporal server, through every path in recordings, and
// writes each history to historiesDir in the JSON form
// `temporal workflow show --output json` prints and the SDK's replayer reads.
// It takes about ten seconds:
//
//	scripts/stack.sh up .test/record test && . .test/record/services.env
//	CRIER_RECORD_HISTORIES=1 go test -count=1 -run TestRecordHistories ./workflows/
//	scripts/stack.sh down .test/record
//
// It overwrites the fixtures of the paths in recordings and leaves any other
// file alone: move the fixtures of code that shipped aside first
// (docs/workflow-versioning.md).
func TestRecordHistories(t *testing.T) {
	t.Parallel()
	if os.Getenv(recordEnv) != "1" {
		t.Skipf("set %s=1 (with TEMPORAL_ADDRESS and DATABASE_URL) to re-record %s", recordEnv, historiesDir)
	}
	require.NoError(t, os.MkdirAll(historiesDir, 0o755))
	r := newRecorder(t)
	for _, rec := range recordings {
		t.Run(rec.file, func(t *testing.T) {
			t.Parallel()
			run := rec.record(r, t)
			h := r.history(t, run.GetID(), run.GetRunID())
			require.Equal(t, rec.timers, countEvents(h, enumspb.EVENT_TYPE_TIMER_STARTED), "timers started")
			data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(historiesDir, rec.file), append(data, '\n'), 0o644))
			t.Logf("recorded %s: %d events", rec.file, len(h.Events))
		})
	}
}

// recorder is what every path shares: one worker, as `crier worker` builds
// it, on a task queue of its own.
type recorder struct {
	ctx       context.Context
	temporal  client.Client
	store     *faultyStore
	presence  *presence.Store
	workflows *workflows.Client
	schedules *workflows.Schedules
	pool      *pgxpool.Pool
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	ctx := context.Background()
	logger := testenv.Logger(t)
	c, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Logger: tlog.NewStructuredLogger(logger)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, crierworker.RegisterSearchAttributes(ctx, c, "default", logger))

	pool := testenv.Pool(t)
	r := &recorder{ctx: ctx, temporal: c, pool: pool, store: &faultyStore{Store: store.New(pool), publishErrors: map[uuid.UUID][]error{}},
		presence: presence.New(pool)}
	pruner, err := retention.New(pool, retention.Config{})
	require.NoError(t, err)
	queue := testenv.Name("record-histories")
	r.workflows = &workflows.Client{Temporal: c, TaskQueue: queue}
	r.schedules = &workflows.Schedules{Temporal: c, TaskQueue: queue}
	w := crierworker.New(c, &activities.Activities{Store: r.store}, crierworker.Config{
		TaskQueue: queue, Logger: logger, Presence: &activities.PresenceActivities{Store: r.presence, Retention: pruner},
		Series: &activities.SeriesActivities{Store: r.store.Store, Start: r.workflows.Start, DeleteSchedule: r.schedules.Delete},
	})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return r
}

// schedule stores a broadcast due in `in`, expiring `lasts` after that, and
// starts its workflow inside the insert's transaction, as the API does.
func (r *recorder) schedule(t *testing.T, in, lasts time.Duration) broadcast.Broadcast {
	t.Helper()
	return r.insert(t, newBroadcast(in, lasts))
}

func (r *recorder) insert(t *testing.T, b broadcast.Broadcast) broadcast.Broadcast {
	t.Helper()
	stored, created, err := r.store.Insert(r.ctx, recorderOrigin, b, []byte("record-histories"), r.workflows.Start)
	require.NoError(t, err)
	require.True(t, created)
	return stored
}

// faultyStore is the real store, whose Publish first returns the errors
// queued for a broadcast: PostgreSQL unreachable for a while, or refusing the
// change.
type faultyStore struct {
	*store.Store
	mu            sync.Mutex
	publishErrors map[uuid.UUID][]error
}

func (s *faultyStore) failPublish(id uuid.UUID, errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishErrors[id] = append(s.publishErrors[id], errs...)
}

func (s *faultyStore) Publish(ctx context.Context, id uuid.UUID) (store.Result, error) {
	s.mu.Lock()
	var err error
	if errs := s.publishErrors[id]; len(errs) > 0 {
		err, s.publishErrors[id] = errs[0], errs[1:]
	}
	s.mu.Unlock()
	if err != nil {
		return store.Result{}, err
	}
	return s.Store.Publish(ctx, id)
}

func newBroadcast(in, lasts time.Duration) broadcast.Broadcast {
	id := uuid.Must(uuid.NewV7())
	at := time.Now().UTC().Add(in).Truncate(broadcast.Precision)
	exp := at.Add(lasts)
	return broadcast.Broadcast{
		ID: id, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "recorder", Name: "History recorder"},
		Title: "Replay fixture", Content: "Recorded by TestRecordHistories", Category: "ops", Priority: broadcast.PriorityNormal,
		Target:      broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}},
		ScheduledAt: &at, ExpiresAt: &exp, WorkflowID: broadcast.WorkflowID(id),
	}
}

// fromNow returns a pointer to the time d from now, at the store's precision.
func fromNow(d time.Duration) *time.Time {
	at := time.Now().UTC().Add(d).Truncate(broadcast.Precision)
	return &at
}

// finish waits for the broadcast's workflow to complete with want.
func (r *recorder) finish(t *testing.T, b broadcast.Broadcast, want broadcast.Status) client.WorkflowRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	run := r.temporal.GetWorkflow(ctx, b.WorkflowID, "")
	var res workflows.BroadcastResult
	require.NoError(t, run.Get(ctx, &res))
	require.Equal(t, want, res.Status)
	return run
}

// waitForTimers waits until the workflow has started n timers: it sleeps.
func (r *recorder) waitForTimers(t *testing.T, b broadcast.Broadcast, n int) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		if got := countEvents(r.history(t, b.WorkflowID, ""), enumspb.EVENT_TYPE_TIMER_STARTED); got < n {
			return fmt.Errorf("workflow %s started %d timers, waiting for %d", b.WorkflowID, got, n)
		}
		return nil
	})
}

func (r *recorder) history(t *testing.T, workflowID, runID string) *historypb.History {
	t.Helper()
	iter := r.temporal.GetWorkflowHistory(r.ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	return h
}

func countEvents(h *historypb.History, typ enumspb.EventType) int {
	n := 0
	for _, e := range h.Events {
		if e.GetEventType() == typ {
			n++
		}
	}
	return n
}

func (r *recorder) publishedThenExpired(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, 2*time.Second, 2*time.Second)
	return r.finish(t, b, broadcast.StatusExpired)
}

// sentNow is a broadcast created without scheduled_at: due at once, it
// publishes in the workflow's first task, before any timer.
func (r *recorder) sentNow(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, 0, 2*time.Second)
	return r.finish(t, b, broadcast.StatusExpired)
}

// appliedByDueDispatch is a broadcast published and then expired by a due
// dispatcher (internal/due; here the store's guarded statements, called as
// it calls them) before the workflow's own timers fire: each of the
// workflow's activities finds its change made.
func (r *recorder) appliedByDueDispatch(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, 2*time.Second, 2*time.Second)
	r.waitForTimers(t, b, 1)
	done, err := r.store.ApplyDue(r.ctx, broadcast.OpPublish, []uuid.UUID{b.ID})
	require.NoError(t, err)
	require.Empty(t, done, "not due yet: a dispatcher applies nothing early")
	r.applyWhenDue(t, broadcast.OpPublish, b.ID, *b.ScheduledAt)
	r.waitForTimers(t, b, 2)
	r.applyWhenDue(t, broadcast.OpExpire, b.ID, *b.ExpiresAt)
	return r.finish(t, b, broadcast.StatusExpired)
}

// applyWhenDue applies op to id as a due dispatcher does at its instant,
// ahead of the workflow's timer for the same instant.
func (r *recorder) applyWhenDue(t *testing.T, op broadcast.Operation, id uuid.UUID, at time.Time) {
	t.Helper()
	time.Sleep(time.Until(at))
	testenv.Eventually(t, 5*time.Second, func() error {
		done, err := r.store.ApplyDue(r.ctx, op, []uuid.UUID{id})
		if err == nil && len(done) != 1 {
			err = fmt.Errorf("%s of %s not applied yet", op, id)
		}
		return err
	})
}

func (r *recorder) cancelledBeforePublication(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, time.Hour, time.Hour)
	r.waitForTimers(t, b, 1)
	state, err := r.workflows.Cancel(r.ctx, recorderOrigin, b.ID)
	require.NoError(t, err)
	require.Equal(t, broadcast.StatusCancelled, state.Status)
	return r.finish(t, b, broadcast.StatusCancelled)
}

func (r *recorder) cancelledAfterPublication(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, time.Second, time.Hour)
	r.waitForTimers(t, b, 2)
	require.NoError(t, r.temporal.SignalWorkflow(r.ctx, b.WorkflowID, "", workflows.SignalCancel, workflows.CancelRequest{}))
	return r.finish(t, b, broadcast.StatusCancelled)
}

func (r *recorder) rescheduledEarlier(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, time.Hour, time.Hour)
	r.waitForTimers(t, b, 1)
	at := fromNow(2 * time.Second)
	exp := at.Add(2 * time.Second)
	state, err := r.workflows.Reschedule(r.ctx, b.ID, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: at, ExpiresAt: &exp}})
	require.NoError(t, err)
	require.True(t, state.ScheduledAt.Equal(*at), "scheduled_at is now %s", state.ScheduledAt)
	return r.finish(t, b, broadcast.StatusExpired)
}

// signalRefused gets a reschedule signal naming a past time: the workflow
// refuses it and records the refusal in the audit log (a local activity,
// since the audit-refused-signals change), sleeps again, and is then
// cancelled by update.
func (r *recorder) signalRefused(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, time.Hour, time.Hour)
	r.waitForTimers(t, b, 1)
	require.NoError(t, r.temporal.SignalWorkflow(r.ctx, b.WorkflowID, "", workflows.SignalReschedule,
		workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: fromNow(-time.Hour)}}))
	r.waitForTimers(t, b, 2)
	_, err := r.workflows.Cancel(r.ctx, recorderOrigin, b.ID)
	require.NoError(t, err)
	return r.finish(t, b, broadcast.StatusCancelled)
}

// rescheduleAfterPublication is refused a new scheduled_at once published
// (by the update's validator, so the refusal leaves no trace in history),
// then takes a new expires_at.
func (r *recorder) rescheduleAfterPublication(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, time.Second, time.Hour)
	r.waitForTimers(t, b, 2)
	_, err := r.workflows.Reschedule(r.ctx, b.ID, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: fromNow(time.Hour)}})
	_, conflict := workflows.IsConflict(err)
	require.True(t, conflict, "a new scheduled_at after publication is refused, got %v", err)
	_, err = r.workflows.Reschedule(r.ctx, b.ID, workflows.RescheduleRequest{Change: broadcast.Change{ExpiresAt: fromNow(2 * time.Second)}})
	require.NoError(t, err)
	return r.finish(t, b, broadcast.StatusExpired)
}

// publishRetried is a broadcast due while PostgreSQL is unreachable for
// about three seconds: its publication retries (in the worker: a local
// activity's retries leave one marker) and succeeds. It is cancelled once
// published, to end without waiting for an expiry.
func (r *recorder) publishRetried(t *testing.T) client.WorkflowRun {
	b := newBroadcast(0, time.Hour)
	outage := errors.New("connection refused (outage simulated by TestRecordHistories)")
	r.store.failPublish(b.ID, outage, outage, outage, outage) // retried after 0.2, 0.4, 0.8, 1.6 s
	b = r.insert(t, b)
	r.waitForTimers(t, b, 1)
	_, err := r.workflows.Cancel(r.ctx, recorderOrigin, b.ID)
	require.NoError(t, err)
	return r.finish(t, b, broadcast.StatusCancelled)
}

// publicationFailed is a broadcast PostgreSQL refuses to publish for its
// data (a check constraint): no retry can help, so it ends FAILED.
func (r *recorder) publicationFailed(t *testing.T) client.WorkflowRun {
	b := newBroadcast(0, time.Hour)
	r.store.failPublish(b.ID, &pgconn.PgError{Code: "23514", Message: "new row violates check constraint (simulated by TestRecordHistories)"})
	b = r.insert(t, b)
	return r.finish(t, b, broadcast.StatusFailed)
}

// retriedAfterFailure is the second run of a broadcast whose first run failed
// its publication: an admin retried it (store.Retry, which starts the new
// run with Client.Restart under the same workflow id), and it is published
// at once and expires. The fixture is the new run's history.
func (r *recorder) retriedAfterFailure(t *testing.T) client.WorkflowRun {
	b := newBroadcast(0, time.Hour)
	r.store.failPublish(b.ID, &pgconn.PgError{Code: "23514", Message: "new row violates check constraint (simulated by TestRecordHistories)"})
	b = r.insert(t, b)
	failed := r.finish(t, b, broadcast.StatusFailed)
	now := time.Now().UTC().Truncate(broadcast.Precision)
	res, err := r.store.Retry(r.ctx, recorderOrigin, b.ID, now, now.Add(2*time.Second), r.workflows.Restart)
	require.NoError(t, err)
	require.True(t, res.Applied)
	run := r.finish(t, b, broadcast.StatusExpired)
	require.NotEqual(t, failed.GetRunID(), run.GetRunID(), "a new run, under the same workflow id")
	return run
}

// workflowCancelled is an operator cancelling the workflow itself (Web UI's
// Cancel button), which cancels the broadcast.
func (r *recorder) workflowCancelled(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, time.Hour, time.Hour)
	r.waitForTimers(t, b, 1)
	require.NoError(t, r.temporal.CancelWorkflow(r.ctx, b.WorkflowID, ""))
	return r.finish(t, b, broadcast.StatusCancelled)
}

// notFound is a workflow whose creating transaction never committed: no row,
// so its first activity fails for good and so does the workflow.
func (r *recorder) notFound(t *testing.T) client.WorkflowRun {
	b := newBroadcast(time.Second, time.Hour)
	require.NoError(t, r.workflows.Start(r.ctx, b))
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	run := r.temporal.GetWorkflow(ctx, b.WorkflowID, "")
	err := run.Get(ctx, nil)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr, "want an application error")
	require.Equal(t, activities.ErrTypeNotFound, appErr.Type())
	return run
}

// changedByAnActor is rescheduled, then cancelled, by updates that say who
// asked (as the API sends them): each activity records that actor in the
// audit log with its change.
func (r *recorder) changedByAnActor(t *testing.T) client.WorkflowRun {
	b := r.schedule(t, time.Hour, time.Hour)
	r.waitForTimers(t, b, 1)
	_, err := r.workflows.Reschedule(r.ctx, b.ID, workflows.RescheduleRequest{
		Change: broadcast.Change{ScheduledAt: fromNow(90 * time.Minute)}, By: recorderOrigin})
	require.NoError(t, err)
	r.waitForTimers(t, b, 2)
	_, err = r.workflows.Cancel(r.ctx, recorderOrigin, b.ID)
	require.NoError(t, err)
	run := r.finish(t, b, broadcast.StatusCancelled)

	rows, err := r.store.Pool().Query(r.ctx, `SELECT action || ' by ' || actor_id || ' in ' || request_id
		FROM audit_log WHERE target_id = $1 ORDER BY id`, b.ID.String())
	require.NoError(t, err)
	entries, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	in := " by recorder-admin in " + recorderOrigin.RequestID
	require.Equal(t, []string{"broadcast.create" + in, "broadcast.reschedule" + in, "broadcast.cancel" + in}, entries)
	return run
}

// presenceCleanup is one scheduled maintenance run: it removes a stale
// connection, then deletes an outbox row published long ago (the other
// tables have nothing past their horizons), as runs do since the
// maintenance-retention change.
func (r *recorder) presenceCleanup(t *testing.T) client.WorkflowRun {
	node := r.staleConnection(t)
	_, err := r.store.Pool().Exec(r.ctx, `INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, published_at)
		VALUES ('BROADCAST_PUBLISHED', gen_random_uuid(), now() - interval '3 days', '{}', now() - interval '3 days')`)
	require.NoError(t, err)
	run, res := r.maintain(t, node, workflows.PresenceCleanupInput{StaleAfter: presence.DefaultRemoveAfter,
		Retention: workflows.RetentionHorizons{
			Outbox: 24 * time.Hour, ProcessedEvents: 336 * time.Hour, Deliveries: 2160 * time.Hour, StreamEvents: 24 * time.Hour,
		}})
	require.EqualValues(t, 1, res.Deleted[retention.Outbox])
	return run
}

// presenceCleanupWithoutRetention is a run of a schedule made before
// retention (no horizons in its input) on the code since: it records the
// version marker, removes the stale connection and deletes nothing.
func (r *recorder) presenceCleanupWithoutRetention(t *testing.T) client.WorkflowRun {
	node := r.staleConnection(t)
	run, res := r.maintain(t, node, workflows.PresenceCleanupInput{StaleAfter: presence.DefaultRemoveAfter})
	require.Empty(t, res.Deleted)
	return run
}

// staleConnection registers a connection of a node of its own, last seen
// five minutes ago, and returns the node.
func (r *recorder) staleConnection(t *testing.T) string {
	t.Helper()
	node := testenv.Name("dead-node")
	require.NoError(t, r.presence.Register(r.ctx, presence.Connection{ID: uuid.New(), NodeID: node, UserID: "u1"}))
	_, err := r.store.Pool().Exec(r.ctx, `UPDATE connections SET last_seen_at = now() - interval '5 minutes' WHERE node_id = $1`, node)
	require.NoError(t, err)
	return node
}

// maintain runs one maintenance run as the schedule starts it and returns
// its result. The two runs recorded at once share the database, so either
// may remove the other's stale connection: each checks its own is gone.
func (r *recorder) maintain(t *testing.T, node string, in workflows.PresenceCleanupInput) (client.WorkflowRun, workflows.PresenceCleanupResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	run, err := r.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: testenv.Name(crierworker.PresenceScheduleID), TaskQueue: r.workflows.TaskQueue,
	}, workflows.PresenceCleanupName, in)
	require.NoError(t, err)
	var res workflows.PresenceCleanupResult
	require.NoError(t, run.Get(ctx, &res))
	var left int
	require.NoError(t, r.store.Pool().QueryRow(r.ctx, `SELECT count(*) FROM connections WHERE node_id = $1`, node).Scan(&left))
	require.Zero(t, left, "the stale connection is gone")
	return run, res
}

// newSeries stores a paused series whose schedule never acts on its own in
// the recording (yearly), with its schedule, as the API does.
func (r *recorder) newSeries(t *testing.T) series.Series {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	rec := series.Recurrence{Cron: "0 9 1 1 *", TimeZone: "Europe/Berlin"}
	compiled, problems := rec.Compile(time.Now())
	require.Empty(t, problems)
	sr, _, err := r.store.CreateSeries(r.ctx, recorderOrigin, series.Series{
		ID: id, Status: series.StatusPaused, Sender: broadcast.Sender{ID: "recorder", Name: "History recorder"},
		Title: "Replay fixture series", Content: "Recorded by TestRecordHistories", Category: "ops", Priority: broadcast.PriorityNormal,
		Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}}, Recurrence: compiled.Recurrence,
		ExpiresAfter: series.Duration(time.Hour), ScheduleID: testenv.Name("record-series"), CreatedAt: time.Now(),
	}, nil, func(ctx context.Context, sr series.Series) error { return r.schedules.Create(ctx, sr, compiled) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.schedules.Delete(context.Background(), sr.ScheduleID) })
	return sr
}

// seriesOccurrenceBySchedule is an action of a series' Temporal Schedule
// (its nominal time from the schedule's search attribute): it makes the
// occurrence and starts its Broadcast workflow.
func (r *recorder) seriesOccurrenceBySchedule(t *testing.T) client.WorkflowRun {
	sr := r.newSeries(t)
	handle := r.temporal.ScheduleClient().GetHandle(r.ctx, sr.ScheduleID)
	require.NoError(t, handle.Trigger(r.ctx, client.ScheduleTriggerOptions{}))
	var action client.ScheduleWorkflowExecution
	testenv.Eventually(t, 15*time.Second, func() error {
		d, err := handle.Describe(r.ctx)
		if err != nil {
			return err
		}
		if len(d.Info.RecentActions) == 0 || d.Info.RecentActions[0].StartWorkflowResult == nil {
			return errors.New("the schedule has not acted yet")
		}
		action = *d.Info.RecentActions[0].StartWorkflowResult
		return nil
	})
	return r.requireOccurrence(t, action.WorkflowID, action.FirstExecutionRunID)
}

// seriesOccurrenceTriggered is an admin's trigger: a run started with its
// own key and time.
func (r *recorder) seriesOccurrenceTriggered(t *testing.T) client.WorkflowRun {
	sr := r.newSeries(t)
	require.NoError(t, r.schedules.Trigger(r.ctx, sr, "recorder-trigger"))
	return r.requireOccurrence(t, "series-occurrence:"+sr.ID.String()+"-trigger:recorder-trigger", "")
}

func (r *recorder) requireOccurrence(t *testing.T, workflowID, runID string) client.WorkflowRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	run := r.temporal.GetWorkflow(ctx, workflowID, runID)
	var res activities.OccurrenceResult
	require.NoError(t, run.Get(ctx, &res))
	require.True(t, res.Made, "%+v", res)
	b, err := r.store.Get(r.ctx, res.BroadcastID)
	require.NoError(t, err)
	require.NotNil(t, b.SeriesID)
	return run
}

// localTime stores a broadcast sent at each recipient's local time to one
// user in Asia/Tokyo, whose instant has passed (the first wave, at once), and
// one in UTC, the default, whose instant is `in` from now (the second wave).
func (r *recorder) localTime(t *testing.T, in, lasts time.Duration) broadcast.Broadcast {
	t.Helper()
	b := newBroadcast(0, in+lasts)
	local := broadcast.LocalTimeOf(time.Now().UTC().Add(in).Truncate(time.Second))
	users := []string{b.ID.String() + "-tokyo", b.ID.String() + "-utc"}
	for i, zone := range []string{"Asia/Tokyo", "UTC"} {
		_, err := r.pool.Exec(r.ctx, `INSERT INTO users (id, time_zone) VALUES ($1, $2)`, users[i], zone)
		require.NoError(t, err)
	}
	spec := broadcast.Spec{Title: b.Title, Content: b.Content, Target: broadcast.Target{Type: broadcast.TargetSelected, IDs: users},
		ExpiresAt: b.ExpiresAt, LocalTime: &local, DefaultTimeZone: "UTC"}
	require.NoError(t, spec.Normalize(broadcast.Rules{Now: time.Now()}, false))
	zones, err := r.store.AudienceZones(r.ctx, spec.Target)
	require.NoError(t, err)
	require.NoError(t, spec.PlanWaves(zones))
	require.Len(t, spec.Waves, 2)
	b.Target, b.ScheduledAt, b.LocalTime, b.DefaultTimeZone, b.Waves = spec.Target, spec.ScheduledAt, &local, "UTC", spec.Waves
	return r.insert(t, b)
}

// localTimeWaves: the first wave at once, the second two seconds later,
// then the expiry.
func (r *recorder) localTimeWaves(t *testing.T) client.WorkflowRun {
	return r.finish(t, r.localTime(t, 2*time.Second, 2*time.Second), broadcast.StatusExpired)
}

// localTimeCancelledBetweenWaves: cancelled by update while waiting for
// the second wave, an hour away.
func (r *recorder) localTimeCancelledBetweenWaves(t *testing.T) client.WorkflowRun {
	b := r.localTime(t, time.Hour, time.Hour)
	r.waitForTimers(t, b, 1)
	_, err := r.workflows.Cancel(r.ctx, recorderOrigin, b.ID)
	require.NoError(t, err)
	return r.finish(t, b, broadcast.StatusCancelled)
}
