package api_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
)

// TestOneLifecycleRulesTheFake: the fake store's guards are
// broadcast.Transitions, so changing an allowed transition there changes
// what the fake allows, as it changes the SQL (TestOneLifecycleRulesTheSQL
// in internal/store) and the workflow (TestOneLifecycleRulesValidatorAndFake
// in workflows). Not parallel: it changes the table, which the package's
// parallel tests, run after it, read.
func TestOneLifecycleRulesTheFake(t *testing.T) {
	at := fuzzNow.Add(time.Hour)
	exp := at.Add(time.Hour)
	newExp := exp.Add(time.Hour)
	newAt := at.Add(time.Minute)
	type call func(m *memStore, id uuid.UUID) bool
	draft := func(m *memStore, id uuid.UUID) bool {
		res, err := m.RescheduleDraft(context.Background(), audit.Origin{}, id, &newAt, nil)
		require.NoError(t, err)
		return res.Applied
	}
	expiry := func(m *memStore, id uuid.UUID) bool {
		res, err := m.reschedule(id, nil, &newExp)
		require.NoError(t, err)
		return res.Applied
	}
	schedule := func(m *memStore, id uuid.UUID) bool {
		res, err := m.reschedule(id, &newAt, nil)
		require.NoError(t, err)
		return res.Applied
	}
	retry := func(m *memStore, id uuid.UUID) bool {
		res, err := m.Retry(context.Background(), audit.Origin{}, id, newAt, newExp, func(context.Context, broadcast.Broadcast) error { return nil })
		require.NoError(t, err)
		if res.Applied {
			require.Equal(t, broadcast.Transitions[broadcast.OpRetry].To, res.Broadcast.Status)
		}
		return res.Applied
	}
	run := func(t *testing.T, op broadcast.Operation, c call) {
		t.Helper()
		for _, s := range broadcast.Statuses {
			m := newMemStore()
			b := broadcast.Broadcast{ID: uuid.New(), Status: s, ScheduledAt: &at, ExpiresAt: &exp}
			m.reset(b)
			require.Equal(t, broadcast.Transitions.Allows(op, s), c(m, b.ID), "%s from %s", op, s)
		}
	}
	cases := map[broadcast.Operation]call{
		broadcast.OpRescheduleDraft:  draft,
		broadcast.OpRescheduleExpiry: expiry,
		broadcast.OpReschedule:       schedule,
		broadcast.OpRetry:            retry,
	}
	t.Run("as it is", func(t *testing.T) {
		for op, c := range cases {
			run(t, op, c)
		}
	})
	t.Run("changed", func(t *testing.T) {
		saved := broadcast.Transitions
		t.Cleanup(func() { broadcast.Transitions = saved })
		changed := maps.Clone(saved)
		changed[broadcast.OpRescheduleDraft] = broadcast.Transition{From: []broadcast.Status{broadcast.StatusDraft, broadcast.StatusScheduled}}
		changed[broadcast.OpRescheduleExpiry] = broadcast.Transition{From: []broadcast.Status{broadcast.StatusScheduled}}
		changed[broadcast.OpReschedule] = broadcast.Transition{From: []broadcast.Status{broadcast.StatusScheduled, broadcast.StatusSent}}
		changed[broadcast.OpRetry] = broadcast.Transition{From: []broadcast.Status{broadcast.StatusFailed, broadcast.StatusCancelled},
			To: broadcast.StatusScheduled, NewRun: true}
		broadcast.Transitions = changed
		for op, c := range cases {
			run(t, op, c)
		}
	})
}
