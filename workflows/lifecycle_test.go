package workflows_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/crier/crier/activities"
	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/workflows"
)

// TestRefusedSignalsAreVisible: a signal has no one to answer, so one the
// workflow refuses is logged with its reason and recorded in the audit log
// as the temporal-signal actor's, and changes nothing.
func TestRefusedSignalsAreVisible(t *testing.T) {
	t.Parallel()
	signal := audit.Origin{Actor: audit.Actor{ID: workflows.ActorSignal, Name: workflows.ActorSignal, Roles: []string{}}}
	for _, tc := range []struct {
		name   string
		at     time.Duration
		change func(start time.Time) broadcast.Change
		reason string
	}{
		{"scheduled_at in the past", 30 * time.Minute, func(s time.Time) broadcast.Change {
			return broadcast.Change{ScheduledAt: ptr(s.Add(10 * time.Minute))}
		}, "has already passed"},
		{"scheduled_at after publication", 90 * time.Minute, func(s time.Time) broadcast.Change {
			return broadcast.Change{ScheduledAt: ptr(s.Add(100 * time.Minute))}
		}, "already published"},
		{"expires_at before scheduled_at", 30 * time.Minute, func(s time.Time) broadcast.Change {
			return broadcast.Change{ExpiresAt: ptr(s.Add(50 * time.Minute))}
		}, "must be after scheduled_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			change := tc.change(tb.start)
			tb.after(tc.at, func() {
				tb.env.SignalWorkflow(workflows.SignalReschedule, workflows.RescheduleRequest{Change: change})
			})

			res := tb.run(t)

			require.Equal(t, broadcast.StatusExpired, res.Status, "a refused signal leaves the broadcast as it was")
			require.Equal(t, tb.input.ScheduledAt, tb.store.at["publish"])
			require.Equal(t, tb.input.ExpiresAt, tb.store.at["expire"])
			require.Len(t, tb.store.refusals, 1)
			got := tb.store.refusals[0]
			require.Equal(t, signal, got.by)
			require.Equal(t, workflows.SignalReschedule, got.detail.Signal)
			require.Contains(t, got.detail.Reason, tc.reason)
			require.Equal(t, change.ScheduledAt, got.detail.ScheduledAt)
			require.Equal(t, change.ExpiresAt, got.detail.ExpiresAt)
			require.Contains(t, tb.logs.String(), "Signal refused")
			require.Contains(t, tb.logs.String(), tc.reason)
		})
	}
}

// TestAcceptedSignalsRecordNoRefusal: only refusals are recorded as such.
func TestAcceptedSignalsRecordNoRefusal(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.after(10*time.Minute, func() {
		tb.env.SignalWorkflow(workflows.SignalReschedule, workflows.RescheduleRequest{
			Change: broadcast.Change{ScheduledAt: ptr(tb.start.Add(30 * time.Minute))}})
	})

	require.Equal(t, broadcast.StatusExpired, tb.run(t).Status)
	require.Empty(t, tb.store.refusals)
	require.NotContains(t, tb.logs.String(), "Signal refused")
}

// TestSendNowToleranceComesFromTheInput: how far in the past a new
// scheduled_at may lie is the configured CRIER_SEND_NOW_TOLERANCE the
// workflow was started with; a workflow started without one keeps the
// default it always had.
func TestSendNowToleranceComesFromTheInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		tolerance time.Duration
		accepted  bool
	}{
		{"configured a minute", time.Minute, true},
		{"configured ten seconds", 10 * time.Second, false},
		{"none: the default", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			tb.input.SendNowTolerance = tc.tolerance
			var outcome func() (error, error)
			tb.after(30*time.Minute, func() {
				// 30 s in the past: within a minute, not within 10 s or 5 s.
				at := tb.start.Add(30*time.Minute - 30*time.Second)
				outcome = tb.update(workflows.UpdateReschedule, workflows.RescheduleRequest{Change: broadcast.Change{ScheduledAt: &at}})
			})

			tb.run(t)

			rejected, failed := outcome()
			require.NoError(t, failed)
			if tc.accepted {
				require.NoError(t, rejected)
				require.Equal(t, tb.start.Add(30*time.Minute), tb.store.at["publish"], "published at once")
			} else {
				requireConflict(t, rejected)
				require.Equal(t, tb.input.ScheduledAt, tb.store.at["publish"])
			}
		})
	}
}

func requireConflict(t *testing.T, err error) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, workflows.ErrTypeConflict, appErr.Type())
}

// withTransition makes broadcast.Transitions allow op as tr for the rest of
// the test. The test must not be parallel: every test of the package reads
// the table, and parallel tests run only after the sequential ones.
func withTransition(t *testing.T, op broadcast.Operation, tr broadcast.Transition) {
	saved := broadcast.Transitions
	changed := maps.Clone(saved)
	changed[op] = tr
	broadcast.Transitions = changed
	t.Cleanup(func() { broadcast.Transitions = saved })
}

// TestOneLifecycleRulesValidatorAndFake: the workflow's validators and this
// package's fake store both read broadcast.Transitions, so taking one
// allowed status out of an operation there changes both. (The SQL guards
// follow the same table: TestOneLifecycleRulesTheSQL in internal/store.)
// Not parallel: it changes the table.
func TestOneLifecycleRulesValidatorAndFake(t *testing.T) {
	newExpiry := func(tb *testBundle) any {
		return workflows.RescheduleRequest{Change: broadcast.Change{ExpiresAt: ptr(tb.start.Add(5 * time.Hour))}}
	}
	for _, tc := range []struct {
		name   string
		op     broadcast.Operation
		update string
		arg    func(tb *testBundle) any
		fake   func(m *memStore) error
	}{
		{"cancel", broadcast.OpCancel, workflows.UpdateCancel,
			func(*testBundle) any { return workflows.CancelRequest{} },
			func(m *memStore) error {
				res, err := m.Cancel(context.Background(), audit.Origin{}, m.b.ID)
				require.False(t, res.Applied, "the fake cancelled a SENT broadcast")
				return err
			}},
		{"reschedule expires_at", broadcast.OpRescheduleExpiry, workflows.UpdateReschedule, newExpiry,
			func(m *memStore) error {
				res, err := m.Reschedule(context.Background(), audit.Origin{}, m.b.ID, nil, ptr(m.now().Add(time.Hour)))
				require.False(t, res.Applied, "the fake gave a SENT broadcast a new expires_at")
				return err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := broadcast.Transitions[tc.op]
			var without []broadcast.Status
			for _, s := range from.From {
				if s != broadcast.StatusSent {
					without = append(without, s)
				}
			}
			withTransition(t, tc.op, broadcast.Transition{From: without, To: from.To})

			tb := setup(t)
			var outcome func() (error, error)
			tb.after(90*time.Minute, func() { outcome = tb.update(tc.update, tc.arg(tb)) })
			res := tb.run(t)

			rejected, _ := outcome()
			requireConflict(t, rejected)
			require.Equal(t, broadcast.StatusExpired, res.Status)
			require.Equal(t, broadcast.StatusExpired, tb.store.b.Status)
			tb.store.b.Status = broadcast.StatusSent
			require.NoError(t, tc.fake(tb.store))
		})
	}
}

var _ activities.Store = (*memStore)(nil)
