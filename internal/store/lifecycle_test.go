package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// lifecycleCalls run each operation of broadcast.Transitions through the
// store method that makes it.
var lifecycleCalls = map[broadcast.Operation]func(t *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error){
	broadcast.OpSchedule: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.ScheduleDraft(tb.ctx, by, b.ID, *b.ScheduledAt, *b.ExpiresAt,
			func(context.Context, broadcast.Broadcast) error { return nil })
	},
	broadcast.OpRescheduleDraft: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.RescheduleDraft(tb.ctx, by, b.ID, nil, ptr(b.ExpiresAt.Add(time.Hour)))
	},
	broadcast.OpReschedule: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.Reschedule(tb.ctx, by, b.ID, ptr(b.ScheduledAt.Add(-30*time.Minute)), nil)
	},
	broadcast.OpRescheduleExpiry: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.Reschedule(tb.ctx, by, b.ID, nil, ptr(b.ExpiresAt.Add(time.Hour)))
	},
	broadcast.OpPublish: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.Publish(tb.ctx, b.ID)
	},
	broadcast.OpBeginWaves: func(t *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		tb.inWaves(t, b.ID, 0, "Asia/Tokyo", "America/New_York")
		return tb.store.BeginWaves(tb.ctx, b.ID)
	},
	broadcast.OpSendWave: func(t *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		tb.inWaves(t, b.ID, 1, "Asia/Tokyo", "Europe/Berlin", "America/New_York")
		return tb.store.SendWave(tb.ctx, b.ID, 2)
	},
	broadcast.OpFinishWaves: func(t *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		tb.inWaves(t, b.ID, 1, "Asia/Tokyo", "America/New_York")
		return tb.store.SendWave(tb.ctx, b.ID, 2)
	},
	broadcast.OpExpire: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.Expire(tb.ctx, b.ID)
	},
	broadcast.OpCancel: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.Cancel(tb.ctx, by, b.ID)
	},
	broadcast.OpFail: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.Fail(tb.ctx, b.ID, "refused")
	},
	broadcast.OpRetry: func(_ *testing.T, tb *testBundle, b broadcast.Broadcast) (store.Result, error) {
		return tb.store.Retry(tb.ctx, by, b.ID, *b.ScheduledAt, b.ExpiresAt.Add(time.Hour),
			func(context.Context, broadcast.Broadcast) error { return nil })
	},
}

func ptr(t time.Time) *time.Time { return &t }

// inWaves makes broadcast id one sent at 09:00 tomorrow in each of zones (all
// SELECTED recipients, the first zone the default), sent planned waves already.
func (tb *testBundle) inWaves(t *testing.T, id uuid.UUID, sent int, zones ...string) {
	t.Helper()
	local := broadcast.LocalTimeOf(time.Now().AddDate(0, 0, 1).Truncate(24 * time.Hour).Add(9 * time.Hour))
	waves, _ := broadcast.PlanWaves(local, zones[0], zones, time.Now(), time.Time{})
	var users []string
	for i, z := range zones {
		user := fmt.Sprintf("%s-in-%d", id, i)
		users = append(users, user)
		_, err := tb.pool.Exec(tb.ctx, `INSERT INTO users (id, time_zone) VALUES ($1, $2)`, user, z)
		require.NoError(t, err)
	}
	_, err := tb.pool.Exec(tb.ctx, `UPDATE broadcasts SET local_time = $2, default_time_zone = $3, waves = $4, waves_sent = $5,
		target_type = 'SELECTED', target_ids = $6, expires_at = now() + interval '3 days' WHERE id = $1`,
		id, local.Wall(), zones[0], waves, sent, users)
	require.NoError(t, err)
}

// requireSQLFollows runs every operation on a broadcast in every status and
// requires the SQL to change exactly what broadcast.Transitions allows, to
// the status it says (the batched publish too).
func requireSQLFollows(t *testing.T, tb *testBundle) {
	t.Helper()
	batcher := store.NewPublishBatcher(tb.store)
	for op, transition := range broadcast.Transitions {
		call := lifecycleCalls[op]
		require.NotNil(t, call, "no store call makes %s", op)
		for _, from := range broadcast.Statuses {
			b := tb.insert(t, from)
			res, err := call(t, tb, b)
			require.NoError(t, err, "%s from %s", op, from)
			allowed := broadcast.Transitions.Allows(op, from)
			require.Equal(t, allowed, res.Applied, "%s from %s", op, from)
			want := from
			if allowed && transition.To != "" {
				want = transition.To
			}
			require.Equal(t, want, res.Broadcast.Status, "%s from %s", op, from)
			if op == broadcast.OpPublish {
				b := tb.insert(t, from)
				res, err := batcher.Publish(tb.ctx, b.ID)
				require.NoError(t, err)
				require.Equal(t, allowed, res.Applied, "batched %s from %s", op, from)
				require.Equal(t, want, res.Broadcast.Status, "batched %s from %s", op, from)
			}
			if slices.Contains(store.DueOps, op) {
				requireDueFollows(t, tb, op, from, want)
			}
		}
	}
}

// requireDueFollows checks a due dispatcher's statements for op on a
// broadcast in status from whose time has passed: DueBefore lists it and
// ApplyDue changes it exactly when the lifecycle allows, to want.
func requireDueFollows(t *testing.T, tb *testBundle, op broadcast.Operation, from, want broadcast.Status) {
	t.Helper()
	b := tb.insert(t, from)
	_, err := tb.pool.Exec(tb.ctx, `UPDATE broadcasts SET scheduled_at = now() - interval '2 hours',
		expires_at = now() - interval '1 hour' WHERE id = $1`, b.ID)
	require.NoError(t, err)
	allowed := broadcast.Transitions.Allows(op, from)
	due, _, err := tb.store.DueBefore(tb.ctx, time.Now(), 100_000)
	require.NoError(t, err)
	listed := slices.ContainsFunc(due, func(d store.Due) bool {
		return d.ID == b.ID && d.Op == op && d.At.Equal(dueAt(t, tb, op, b.ID))
	})
	require.Equal(t, allowed, listed, "due %s from %s listed", op, from)
	changed, err := tb.store.ApplyDue(tb.ctx, op, []uuid.UUID{b.ID})
	require.NoError(t, err)
	require.Equal(t, allowed, len(changed) == 1, "due %s from %s", op, from)
	got, err := tb.store.Get(tb.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, want, got.Status, "due %s from %s", op, from)
}

// dueAt is the time op falls due for id, as stored.
func dueAt(t *testing.T, tb *testBundle, op broadcast.Operation, id uuid.UUID) time.Time {
	t.Helper()
	b, err := tb.store.Get(tb.ctx, id)
	require.NoError(t, err)
	if op == broadcast.OpExpire {
		return *b.ExpiresAt
	}
	return *b.ScheduledAt
}

// TestOneLifecycleRulesTheSQL: the SQL guards are broadcast.Transitions, as
// it is and as changed in one place. The workflow's validators and the test
// fakes follow the same table (TestOneLifecycleRulesValidatorAndFake in
// workflows, TestOneLifecycleRulesTheFake in api). Not parallel: it changes
// the table, which the package's parallel tests, run after it, read.
func TestOneLifecycleRulesTheSQL(t *testing.T) {
	tb := setup(t)
	t.Run("as it is", func(t *testing.T) { requireSQLFollows(t, tb) })
	t.Run("changed", func(t *testing.T) {
		saved := broadcast.Transitions
		t.Cleanup(func() { broadcast.Transitions = saved })
		changed := maps.Clone(saved)
		// No cancel after publication; expiry straight from SCHEDULED; a
		// new scheduled_at for a draft as for a scheduled broadcast.
		changed[broadcast.OpCancel] = broadcast.Transition{
			From: []broadcast.Status{broadcast.StatusDraft, broadcast.StatusScheduled}, To: broadcast.StatusCancelled}
		changed[broadcast.OpExpire] = broadcast.Transition{
			From: []broadcast.Status{broadcast.StatusScheduled, broadcast.StatusSent}, To: broadcast.StatusExpired}
		changed[broadcast.OpReschedule] = broadcast.Transition{From: []broadcast.Status{broadcast.StatusDraft, broadcast.StatusScheduled}}
		broadcast.Transitions = changed
		requireSQLFollows(t, tb)
	})
}

// TestRecordRefusal: a refused change is an audit entry of its own, with the
// reason in its detail, and changes nothing else.
func TestRecordRefusal(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, broadcast.StatusScheduled)
	signal := audit.Origin{Actor: audit.Actor{ID: "temporal-signal", Name: "temporal-signal", Roles: []string{}}}
	detail := map[string]string{"signal": "reschedule", "reason": "scheduled_at has already passed"}

	res, err := tb.store.RecordRefusal(tb.ctx, signal, b.ID, detail)

	require.NoError(t, err)
	require.False(t, res.Applied)
	require.Equal(t, broadcast.StatusScheduled, res.Broadcast.Status)
	entries := tb.entries(t, b.ID)
	require.Len(t, entries, 2, "the creation's and the refusal's")
	refused := entries[1]
	require.Equal(t, audit.ActionBroadcastSignalRefused, refused.Action)
	require.Equal(t, signal.Actor, refused.Actor)
	require.Equal(t, broadcast.StatusScheduled, status(t, refused.Before))
	require.Equal(t, broadcast.StatusScheduled, status(t, refused.After))
	var got map[string]string
	require.NoError(t, json.Unmarshal(refused.Detail, &got))
	require.Equal(t, detail, got)
	after, err := tb.store.Get(tb.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, b.UpdatedAt, after.UpdatedAt, "nothing else changed")

	_, err = tb.store.RecordRefusal(tb.ctx, signal, uuid.New(), detail)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestStatusCheckIsTheLifecycle: the broadcasts table takes every status of
// the lifecycle and no other (migration 0009 dropped IN_PROGRESS, 0016 took
// it back for local-time broadcasts).
func TestStatusCheckIsTheLifecycle(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, broadcast.StatusScheduled)
	for _, s := range broadcast.Statuses {
		_, err := tb.pool.Exec(tb.ctx, `UPDATE broadcasts SET status = $2 WHERE id = $1`, b.ID, s)
		require.NoError(t, err, "status %s", s)
	}
	_, err := tb.pool.Exec(tb.ctx, `UPDATE broadcasts SET status = 'PUBLISHING' WHERE id = $1`, b.ID)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "broadcasts_status_check", pgErr.ConstraintName)
}
