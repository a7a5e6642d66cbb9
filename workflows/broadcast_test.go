package workflows_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/workflows"
)

// memStore is an in-memory activities.Store that allows each change from the
// statuses broadcast.Transitions allows it from, as the SQL in
// internal/store does, and records what happened and when.
type memStore struct {
	mu      sync.Mutex
	now     func() time.Time
	b       broadcast.Broadcast
	missing bool
	// downUntil makes every change fail as PostgreSQL being unreachable
	// would, until this workflow time.
	downUntil time.Time
	events    []broadcast.EventType
	at        map[string]time.Time // when each applied transition ran, in workflow time
	// by is who each cancel and reschedule was asked by, in order: what
	// the real store records in the audit log.
	by []audit.Origin
	// refusals are the refused signals recorded in the audit log.
	refusals []refusal
	// zones are the recipients' zones a local-time broadcast's waves are
	// planned from.
	zones []string
}

// refusal is one refused signal's audit entry: who and its detail.
type refusal struct {
	by     audit.Origin
	detail activities.Refusal
}

// apply makes op's change, named name in at, when the lifecycle allows it.
func (m *memStore) apply(name string, op broadcast.Operation, change func(b *broadcast.Broadcast), event broadcast.EventType) (store.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.now().Before(m.downUntil) {
		return store.Result{}, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	if m.missing {
		return store.Result{}, store.ErrNotFound
	}
	if !broadcast.Transitions.Allows(op, m.b.Status) {
		return store.Result{Broadcast: m.b}, nil
	}
	if to := broadcast.Transitions[op].To; to != "" {
		m.b.Status = to
	}
	change(&m.b)
	if event != "" {
		m.events = append(m.events, event)
	}
	m.at[name] = m.now().UTC()
	return store.Result{Broadcast: m.b, Applied: true}, nil
}

func (m *memStore) asked(by audit.Origin) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.by = append(m.by, by)
}

func unchanged(*broadcast.Broadcast) {}

func (m *memStore) Publish(_ context.Context, _ uuid.UUID) (store.Result, error) {
	return m.apply("publish", broadcast.OpPublish, unchanged, broadcast.EventPublished)
}

func (m *memStore) Cancel(_ context.Context, by audit.Origin, _ uuid.UUID) (store.Result, error) {
	m.asked(by)
	published := m.b.Status.Published()
	event := broadcast.EventType("")
	if published {
		event = broadcast.EventCancelled
	}
	return m.apply("cancel", broadcast.OpCancel, unchanged, event)
}

func (m *memStore) Expire(_ context.Context, _ uuid.UUID) (store.Result, error) {
	return m.apply("expire", broadcast.OpExpire, unchanged, broadcast.EventExpired)
}

func (m *memStore) Reschedule(_ context.Context, by audit.Origin, _ uuid.UUID, scheduledAt, expiresAt *time.Time) (store.Result, error) {
	m.asked(by)
	op := broadcast.OpRescheduleExpiry
	if scheduledAt != nil {
		op = broadcast.OpReschedule
	}
	return m.apply("reschedule", op, func(b *broadcast.Broadcast) {
		if scheduledAt != nil {
			b.ScheduledAt = scheduledAt
		}
		if expiresAt != nil {
			b.ExpiresAt = expiresAt
		}
	}, broadcast.EventRescheduled)
}

func (m *memStore) Fail(_ context.Context, _ uuid.UUID, reason string) (store.Result, error) {
	return m.apply("fail", broadcast.OpFail, func(b *broadcast.Broadcast) { b.FailureReason = reason }, "")
}

// BeginWaves plans and sends the first wave as store.BeginWaves does.
func (m *memStore) BeginWaves(_ context.Context, _ uuid.UUID) (store.Result, error) {
	waves, _ := broadcast.PlanWaves(*m.b.LocalTime, m.b.DefaultTimeZone, m.zones, m.now(), *m.b.ExpiresAt)
	op := broadcast.OpBeginWaves
	if len(waves) == 1 {
		op = broadcast.OpPublish
	}
	return m.apply("wave 1", op, func(b *broadcast.Broadcast) {
		b.Waves, b.WavesSent, b.PublishedAt = waves, 1, ptr(m.now())
	}, broadcast.EventPublished)
}

// SendWave sends wave n as store.SendWave does.
func (m *memStore) SendWave(_ context.Context, _ uuid.UUID, n int) (store.Result, error) {
	op := broadcast.OpSendWave
	if n >= len(m.b.Waves) {
		op = broadcast.OpFinishWaves
	}
	if m.b.WavesSent != n-1 {
		return store.Result{Broadcast: m.b}, nil
	}
	return m.apply(fmt.Sprintf("wave %d", n), op, func(b *broadcast.Broadcast) { b.WavesSent = n }, broadcast.EventPublished)
}

func (m *memStore) RecordRefusal(_ context.Context, by audit.Origin, _ uuid.UUID, detail any) (store.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.missing {
		return store.Result{}, store.ErrNotFound
	}
	m.refusals = append(m.refusals, refusal{by: by, detail: detail.(activities.Refusal)})
	return store.Result{Broadcast: m.b}, nil
}

type testBundle struct {
	env   *testsuite.TestWorkflowEnvironment
	store *memStore
	start time.Time
	input workflows.BroadcastInput
	// logs has what the workflow logged.
	logs *logBuffer
}

// logBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setup prepares a broadcast due in one hour that expires an hour later.
func setup(t *testing.T) *testBundle {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	logs := &logBuffer{}
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(logs, nil))))
	env := suite.NewTestWorkflowEnvironment()
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	in := workflows.BroadcastInput{BroadcastID: uuid.New(), ScheduledAt: start.Add(time.Hour), ExpiresAt: start.Add(2 * time.Hour)}
	ms := &memStore{now: env.Now, at: map[string]time.Time{}, b: broadcast.Broadcast{
		ID: in.BroadcastID, Status: broadcast.StatusScheduled, ScheduledAt: &in.ScheduledAt, ExpiresAt: &in.ExpiresAt,
	}}
	env.RegisterWorkflow(workflows.Broadcast)
	env.RegisterActivity(&activities.Activities{Store: ms})
	return &testBundle{env: env, store: ms, start: start, input: in, logs: logs}
}

func (tb *testBundle) run(t *testing.T) workflows.BroadcastResult {
	t.Helper()
	tb.env.ExecuteWorkflow(workflows.Broadcast, tb.input)
	require.True(t, tb.env.IsWorkflowCompleted())
	require.NoError(t, tb.env.GetWorkflowError())
	var res workflows.BroadcastResult
	require.NoError(t, tb.env.GetWorkflowResult(&res))
	return res
}

// after runs fn at the given offset from the workflow's start.
func (tb *testBundle) after(d time.Duration, fn func()) {
	tb.env.RegisterDelayedCallback(fn, d)
}

// update sends an update and returns a function reporting its outcome.
func (tb *testBundle) update(name string, arg any) func() (rejected, failed error) {
	var rejected, failed error
	tb.env.UpdateWorkflow(name, uuid.NewString(), &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { rejected = err },
		OnAccept:   func() {},
		OnComplete: func(_ any, err error) { failed = err },
	}, arg)
	return func() (error, error) { return rejected, failed }
}

func ptr(t time.Time) *time.Time { return &t }

func TestPublishedOnTimeThenExpires(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	res := tb.run(t)

	require.Equal(t, broadcast.StatusExpired, res.Status)
	require.Equal(t, tb.input.ScheduledAt, tb.store.at["publish"])
	require.Equal(t, tb.input.ExpiresAt, tb.store.at["expire"])
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventExpired}, tb.store.events)
}

// TestWakesEarlyAndHoldsUntilTheDueTime: a workflow started with a publish
// lead (before due dispatch, internal/due, took the exact instant over)
// still wakes early and holds its publish until the due time.
func TestWakesEarlyAndHoldsUntilTheDueTime(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.input.PublishLead = 5 * time.Second
	var holds []time.Time
	tb.env.RegisterActivity(&activities.Activities{Store: tb.store, WaitUntil: func(_ context.Context, at time.Time) error {
		holds = append(holds, at)
		return nil
	}})

	res := tb.run(t)

	require.Equal(t, broadcast.StatusExpired, res.Status)
	// The workflow woke the lead early and told the activity to hold until
	// the due time; the mock hold returns at once, so the write is early here.
	require.Equal(t, tb.input.ScheduledAt.Add(-5*time.Second), tb.store.at["publish"])
	require.Equal(t, []time.Time{tb.input.ScheduledAt.UTC()}, utc(holds[:1]))
	require.Equal(t, tb.input.ExpiresAt, tb.store.at["expire"])
}

func utc(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

func TestCancelBeforePublicationPublishesNothing(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var outcome func() (error, error)
	tb.after(30*time.Minute, func() { outcome = tb.update(workflows.UpdateCancel, workflows.CancelRequest{}) })

	res := tb.run(t)

	rejected, failed := outcome()
	require.NoError(t, rejected)
	require.NoError(t, failed)
	require.Equal(t, broadcast.StatusCancelled, res.Status)
	require.Equal(t, tb.start.Add(30*time.Minute), tb.store.at["cancel"])
	require.NotContains(t, tb.store.at, "publish")
	require.Empty(t, tb.store.events, "a broadcast nobody saw needs no retraction")
}

func TestCancelAfterPublicationRetracts(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.after(90*time.Minute, func() { tb.env.SignalWorkflow(workflows.SignalCancel, workflows.CancelRequest{}) })

	res := tb.run(t)

	require.Equal(t, broadcast.StatusCancelled, res.Status)
	require.Equal(t, tb.start.Add(90*time.Minute), tb.store.at["cancel"])
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventCancelled}, tb.store.events)
	require.NotContains(t, tb.store.at, "expire")
}

func TestRescheduleMovesTheWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		newOffset time.Duration
	}{
		{"earlier", 20 * time.Minute},
		{"later", 100 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			newTime := tb.start.Add(tc.newOffset)
			var outcome func() (error, error)
			tb.after(10*time.Minute, func() {
				outcome = tb.update(workflows.UpdateReschedule, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: &newTime}})
			})

			res := tb.run(t)

			rejected, failed := outcome()
			require.NoError(t, rejected)
			require.NoError(t, failed)
			require.Equal(t, broadcast.StatusExpired, res.Status)
			require.Equal(t, newTime, tb.store.at["publish"])
			require.Equal(t, []broadcast.EventType{broadcast.EventRescheduled, broadcast.EventPublished, broadcast.EventExpired}, tb.store.events)
		})
	}
}

func TestRescheduleRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		at     time.Duration
		change func(start time.Time) workflows.RescheduleRequest
	}{
		{"scheduled_at after publication", 90 * time.Minute, func(s time.Time) workflows.RescheduleRequest {
			return workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: ptr(s.Add(100 * time.Minute))}}
		}},
		{"scheduled_at in the past", 30 * time.Minute, func(s time.Time) workflows.RescheduleRequest {
			return workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: ptr(s.Add(10 * time.Minute))}}
		}},
		{"expires_at before scheduled_at", 30 * time.Minute, func(s time.Time) workflows.RescheduleRequest {
			return workflows.RescheduleRequest{Change: broadcast.Change{ExpiresAt: ptr(s.Add(50 * time.Minute))}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			var outcome func() (error, error)
			tb.after(tc.at, func() { outcome = tb.update(workflows.UpdateReschedule, tc.change(tb.start)) })

			res := tb.run(t)

			rejected, _ := outcome()
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, rejected, &appErr)
			require.Equal(t, workflows.ErrTypeConflict, appErr.Type())
			require.Equal(t, broadcast.StatusExpired, res.Status, "a refused change leaves the broadcast as it was")
			require.Equal(t, tb.input.ScheduledAt, tb.store.at["publish"])
			require.Equal(t, tb.input.ExpiresAt, tb.store.at["expire"])
		})
	}
}

func TestNewExpiryAfterPublicationIsHonoured(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	newExpiry := tb.start.Add(5 * time.Hour)
	var outcome func() (error, error)
	tb.after(90*time.Minute, func() {
		outcome = tb.update(workflows.UpdateReschedule, workflows.RescheduleRequest{Change: broadcast.Change{ExpiresAt: &newExpiry}})
	})

	res := tb.run(t)

	rejected, failed := outcome()
	require.NoError(t, rejected)
	require.NoError(t, failed)
	require.Equal(t, broadcast.StatusExpired, res.Status)
	require.Equal(t, newExpiry, tb.store.at["expire"])
}

func TestCancelArrivingAsTheTimerFires(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.after(time.Hour, func() { tb.env.SignalWorkflow(workflows.SignalCancel, workflows.CancelRequest{}) })

	res := tb.run(t)

	require.Equal(t, broadcast.StatusCancelled, res.Status)
	require.NotContains(t, tb.store.at, "expire")
	if _, published := tb.store.at["publish"]; published {
		require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventCancelled}, tb.store.events,
			"a cancel losing the race to publication must retract it")
	} else {
		require.Empty(t, tb.store.events)
	}
}

func TestDuplicateSignalsAreHarmless(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	newTime := tb.start.Add(30 * time.Minute)
	tb.after(10*time.Minute, func() {
		for range 2 {
			tb.env.SignalWorkflow(workflows.SignalReschedule, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: &newTime}})
		}
	})
	tb.after(40*time.Minute, func() {
		for range 3 {
			tb.env.SignalWorkflow(workflows.SignalCancel, workflows.CancelRequest{})
		}
	})

	res := tb.run(t)

	require.Equal(t, broadcast.StatusCancelled, res.Status)
	require.Equal(t, newTime, tb.store.at["publish"])
	require.Equal(t, []broadcast.EventType{
		broadcast.EventRescheduled, broadcast.EventRescheduled, broadcast.EventPublished, broadcast.EventCancelled,
	}, tb.store.events, "a repeated reschedule re-records the same times; a repeated cancel changes nothing")
}

func TestWorkflowCancellationCancelsTheBroadcast(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.after(20*time.Minute, tb.env.CancelWorkflow)

	tb.env.ExecuteWorkflow(workflows.Broadcast, tb.input)

	require.True(t, tb.env.IsWorkflowCompleted())
	require.Equal(t, broadcast.StatusCancelled, tb.store.b.Status)
	require.NotContains(t, tb.store.at, "publish")
}

func TestMissingBroadcastEndsTheWorkflow(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.store.missing = true

	tb.env.ExecuteWorkflow(workflows.Broadcast, tb.input)

	require.True(t, tb.env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, tb.env.GetWorkflowError(), &appErr)
	require.Equal(t, activities.ErrTypeNotFound, appErr.Type())
}

// PostgreSQL being down only delays a broadcast: the publish is retried
// until it goes through, however long the outage, and nothing fails.
func TestALongOutageOnlyDelaysPublication(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.store.downUntil = tb.input.ScheduledAt.Add(10 * time.Minute)

	res := tb.run(t)

	require.Equal(t, broadcast.StatusExpired, res.Status)
	require.False(t, tb.store.at["publish"].Before(tb.store.downUntil), "published once the database was back")
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventExpired}, tb.store.events)
}

// TestChangesCarryWhoAsked: the activity of a cancel or reschedule gets who
// asked, for the audit entry it commits with the change: the API's caller
// from an update, and a Temporal actor for what came another way (a signal
// cannot say who sent it, whatever its payload claims).
func TestChangesCarryWhoAsked(t *testing.T) {
	t.Parallel()
	ada := audit.Origin{Actor: audit.Actor{ID: "ada", Name: "Ada", Roles: []string{"admin"}}, RequestID: "req-1", ClientRequestID: "client-1"}
	temporalActor := func(id string) audit.Origin {
		return audit.Origin{Actor: audit.Actor{ID: id, Name: id, Roles: []string{}}}
	}
	tests := []struct {
		name   string
		ask    func(tb *testBundle, newTime *time.Time)
		cancel func(tb *testBundle) // nil: the workflow itself is cancelled
		want   []audit.Origin
	}{
		{"updates from the API", func(tb *testBundle, at *time.Time) {
			tb.update(workflows.UpdateReschedule, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: at}, By: ada})
		}, func(tb *testBundle) {
			tb.update(workflows.UpdateCancel, workflows.CancelRequest{By: ada})
		}, []audit.Origin{ada, ada}},
		{"updates sent by hand", func(tb *testBundle, at *time.Time) {
			tb.update(workflows.UpdateReschedule, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: at}})
		}, func(tb *testBundle) {
			tb.update(workflows.UpdateCancel, workflows.CancelRequest{})
		}, []audit.Origin{temporalActor(workflows.ActorUpdate), temporalActor(workflows.ActorUpdate)}},
		{"signals claiming an actor", func(tb *testBundle, at *time.Time) {
			tb.env.SignalWorkflow(workflows.SignalReschedule, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: at}, By: ada})
		}, func(tb *testBundle) {
			tb.env.SignalWorkflow(workflows.SignalCancel, workflows.CancelRequest{By: ada})
		}, []audit.Origin{temporalActor(workflows.ActorSignal), temporalActor(workflows.ActorSignal)}},
		{"the workflow cancelled", func(tb *testBundle, at *time.Time) {
			tb.update(workflows.UpdateReschedule, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: at}, By: ada})
		}, nil, []audit.Origin{ada, temporalActor(workflows.ActorWorkflowCancel)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			at := tb.start.Add(50 * time.Minute)
			tb.after(10*time.Minute, func() { tt.ask(tb, &at) })
			if tt.cancel == nil {
				tb.after(20*time.Minute, tb.env.CancelWorkflow)
			} else {
				tb.after(20*time.Minute, func() { tt.cancel(tb) })
			}

			tb.env.ExecuteWorkflow(workflows.Broadcast, tb.input)

			require.True(t, tb.env.IsWorkflowCompleted())
			require.Equal(t, broadcast.StatusCancelled, tb.store.b.Status)
			require.Equal(t, tt.want, tb.store.by)
		})
	}
}

// localTime makes tb's broadcast one sent at 09:00 on 2027-01-05 in each of
// its recipients' zones, from the day before; it expires on the 7th.
func (tb *testBundle) localTime(t *testing.T, zones ...string) {
	t.Helper()
	local, err := broadcast.ParseLocalTime("2027-01-05T09:00")
	require.NoError(t, err)
	tb.start = time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC)
	tb.env.SetStartTime(tb.start)
	waves, _ := broadcast.PlanWaves(local, zones[0], zones, tb.start, time.Time{})
	tb.input.ScheduledAt, tb.input.ExpiresAt, tb.input.LocalTime = waves[0].At, time.Date(2027, 1, 7, 0, 0, 0, 0, time.UTC), true
	tb.store.b.ScheduledAt, tb.store.b.ExpiresAt = &tb.input.ScheduledAt, &tb.input.ExpiresAt
	tb.store.b.LocalTime, tb.store.b.DefaultTimeZone, tb.store.zones = &local, zones[0], zones
}

// TestLocalTimeReachesEachZoneAtItsOwnInstant: users in three zones, each
// wave sent at 09:00 in its zone and not before: Tokyo 00:00 UTC, Berlin
// 08:00, New York 14:00; IN_PROGRESS from the first to the last.
func TestLocalTimeReachesEachZoneAtItsOwnInstant(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.localTime(t, "Europe/Berlin", "Asia/Tokyo", "America/New_York")
	var between broadcast.Status
	tb.env.RegisterDelayedCallback(func() { between = tb.store.b.Status }, 24*time.Hour) // 12:00 UTC on the 5th

	res := tb.run(t)

	require.Equal(t, broadcast.StatusExpired, res.Status)
	require.Equal(t, broadcast.StatusInProgress, between, "between the first wave and the last")
	require.Equal(t, time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC), tb.store.at["wave 1"], "Tokyo")
	require.Equal(t, time.Date(2027, 1, 5, 8, 0, 0, 0, time.UTC), tb.store.at["wave 2"], "Berlin")
	require.Equal(t, time.Date(2027, 1, 5, 14, 0, 0, 0, time.UTC), tb.store.at["wave 3"], "New York")
	require.Equal(t, tb.input.ExpiresAt, tb.store.at["expire"])
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventPublished, broadcast.EventPublished,
		broadcast.EventExpired}, tb.store.events)
}

// TestCancelStopsTheWavesNotYetSent: cancelled after Berlin's wave, New
// York's is never sent, and the cancel retracts the two sent.
func TestCancelStopsTheWavesNotYetSent(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.localTime(t, "Europe/Berlin", "Asia/Tokyo", "America/New_York")
	tb.after(22*time.Hour, func() { tb.env.SignalWorkflow(workflows.SignalCancel, workflows.CancelRequest{}) }) // 10:00 UTC

	res := tb.run(t)

	require.Equal(t, broadcast.StatusCancelled, res.Status)
	require.Contains(t, tb.store.at, "wave 2")
	require.NotContains(t, tb.store.at, "wave 3")
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventPublished, broadcast.EventCancelled}, tb.store.events)
}

// TestOneWaveReachingEveryonePublishesAtOnce: every recipient in one zone
// (or zones of one offset) is one wave, SCHEDULED to SENT as any broadcast.
func TestOneWaveReachingEveryonePublishesAtOnce(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.localTime(t, "Europe/Berlin", "Europe/Paris")
	var after broadcast.Status
	tb.env.RegisterDelayedCallback(func() { after = tb.store.b.Status }, 21*time.Hour)

	res := tb.run(t)

	require.Equal(t, broadcast.StatusExpired, res.Status)
	require.Equal(t, broadcast.StatusSent, after)
	require.Equal(t, time.Date(2027, 1, 5, 8, 0, 0, 0, time.UTC), tb.store.at["wave 1"])
	require.NotContains(t, tb.store.at, "wave 2")
}
