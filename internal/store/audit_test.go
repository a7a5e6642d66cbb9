package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// entries lists the audit entries of broadcast id, oldest first.
func (tb *testBundle) entries(t *testing.T, id uuid.UUID) []audit.Entry {
	t.Helper()
	log, err := audit.New(tb.pool)
	require.NoError(t, err)
	page, _, err := log.List(tb.ctx, audit.Filter{TargetType: audit.TargetBroadcast, TargetID: id.String()})
	require.NoError(t, err)
	for i, j := 0, len(page)-1; i < j; i, j = i+1, j-1 {
		page[i], page[j] = page[j], page[i]
	}
	return page
}

// status reads the status an entry's before or after shows.
func status(t *testing.T, raw json.RawMessage) broadcast.Status {
	t.Helper()
	if raw == nil {
		return ""
	}
	var b broadcast.Broadcast
	require.NoError(t, json.Unmarshal(raw, &b))
	return b.Status
}

// TestChangesRecordTheirEntry: every change someone asks for writes its
// audit entry, with the origin and the broadcast before and after, and a
// change that does not apply (a retry, a race lost) writes none.
func TestChangesRecordTheirEntry(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	draft := tb.insert(t, broadcast.StatusDraft)
	later := time.Now().Add(90 * time.Minute).UTC().Truncate(broadcast.Precision) // before its expiry
	_, err := tb.store.RescheduleDraft(tb.ctx, by, draft.ID, &later, nil)
	require.NoError(t, err)
	_, err = tb.store.ScheduleDraft(tb.ctx, by, draft.ID, later, later.Add(time.Hour), func(_ context.Context, _ broadcast.Broadcast) error { return nil })
	require.NoError(t, err)
	expires := later.Add(2 * time.Hour)
	_, err = tb.store.Reschedule(tb.ctx, by, draft.ID, nil, &expires)
	require.NoError(t, err)
	_, err = tb.store.Cancel(tb.ctx, by, draft.ID)
	require.NoError(t, err)
	res, err := tb.store.Cancel(tb.ctx, by, draft.ID)
	require.NoError(t, err)
	require.False(t, res.Applied)
	_, created, err := tb.store.Insert(tb.ctx, by, draft, []byte("hash"), nil)
	require.NoError(t, err)
	require.False(t, created, "a retried creation")

	type seen struct {
		Action        audit.Action
		Before, After broadcast.Status
	}
	var got []seen
	for _, e := range tb.entries(t, draft.ID) {
		require.Equal(t, by, e.Origin)
		got = append(got, seen{e.Action, status(t, e.Before), status(t, e.After)})
	}
	require.Equal(t, []seen{
		{audit.ActionBroadcastCreate, "", broadcast.StatusDraft},
		{audit.ActionBroadcastReschedule, broadcast.StatusDraft, broadcast.StatusDraft},
		{audit.ActionBroadcastSchedule, broadcast.StatusDraft, broadcast.StatusScheduled},
		{audit.ActionBroadcastReschedule, broadcast.StatusScheduled, broadcast.StatusScheduled},
		{audit.ActionBroadcastCancel, broadcast.StatusScheduled, broadcast.StatusCancelled},
	}, got)
}

// TestChangeFailsWithItsEntry: an audit entry that cannot be written fails
// its change, which leaves nothing behind: the entry and the change commit
// together or not at all.
func TestChangeFailsWithItsEntry(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	// As the owner: the log refuses this actor's entries.
	_, err := tb.pool.Exec(tb.ctx, `ALTER TABLE audit_log ADD CONSTRAINT refuse_mallory CHECK (actor_id <> 'mallory') NOT VALID`)
	require.NoError(t, err)
	mallory := audit.Origin{Actor: audit.Actor{ID: "mallory", Name: "Mallory"}}
	later := time.Now().Add(90 * time.Minute).UTC().Truncate(broadcast.Precision)
	start := func(context.Context, broadcast.Broadcast) error { return nil }

	id := uuid.Must(uuid.NewV7())
	_, _, err = tb.store.Insert(tb.ctx, mallory, scheduled(id, later), []byte("h"), start)
	require.ErrorContains(t, err, "refuse_mallory")
	_, err = tb.store.Get(tb.ctx, id)
	require.ErrorIs(t, err, store.ErrNotFound, "the creation rolled back")

	draft, sched := tb.insert(t, broadcast.StatusDraft), tb.insert(t, broadcast.StatusScheduled)
	changes := map[string]func() (store.Result, error){
		"schedule draft": func() (store.Result, error) {
			return tb.store.ScheduleDraft(tb.ctx, mallory, draft.ID, later, later.Add(time.Hour), start)
		},
		"reschedule draft": func() (store.Result, error) { return tb.store.RescheduleDraft(tb.ctx, mallory, draft.ID, &later, nil) },
		"cancel draft":     func() (store.Result, error) { return tb.store.Cancel(tb.ctx, mallory, draft.ID) },
		"reschedule":       func() (store.Result, error) { return tb.store.Reschedule(tb.ctx, mallory, sched.ID, &later, nil) },
		"cancel":           func() (store.Result, error) { return tb.store.Cancel(tb.ctx, mallory, sched.ID) },
	}
	for name, change := range changes {
		_, err := change()
		require.ErrorContains(t, err, "refuse_mallory", name)
	}
	for _, b := range []broadcast.Broadcast{draft, sched} {
		now, err := tb.store.Get(tb.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, b.Status, now.Status, "nothing changed")
		require.True(t, b.ScheduledAt.Equal(*now.ScheduledAt), "nothing changed")
		require.Empty(t, tb.events(t, b.ID), "no event")
	}
	require.Len(t, tb.entries(t, draft.ID), 1, "its creation only")
}
