package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// TestRetry: a FAILED broadcast is SCHEDULED again with its new times and
// without its failure reason, its workflow is started in the same
// transaction, and the retry is in the audit log; nothing else is retried.
func TestRetry(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, broadcast.StatusScheduled)
	failed, err := tb.store.Fail(tb.ctx, b.ID, "PostgreSQL refused the change")
	require.NoError(t, err)
	require.True(t, failed.Applied)
	at, exp := time.Now().UTC().Truncate(time.Microsecond), b.ExpiresAt.Add(time.Hour)

	var started []broadcast.Broadcast
	res, err := tb.store.Retry(tb.ctx, by, b.ID, at, exp, func(_ context.Context, b broadcast.Broadcast) error {
		started = append(started, b)
		return nil
	})

	require.NoError(t, err)
	require.True(t, res.Applied)
	require.Equal(t, broadcast.StatusScheduled, res.Broadcast.Status)
	require.Empty(t, res.Broadcast.FailureReason)
	require.True(t, at.Equal(*res.Broadcast.ScheduledAt))
	require.True(t, exp.Equal(*res.Broadcast.ExpiresAt))
	require.Equal(t, []broadcast.Broadcast{res.Broadcast}, started, "the workflow starts with the retried broadcast, before commit")
	entries := tb.entries(t, b.ID)
	require.Equal(t, audit.ActionBroadcastRetry, entries[len(entries)-1].Action)
	require.Equal(t, broadcast.StatusFailed, status(t, entries[len(entries)-1].Before))
	require.Equal(t, broadcast.StatusScheduled, status(t, entries[len(entries)-1].After))
	require.Empty(t, tb.events(t, b.ID), "a retry records no event: its publication will")

	again, err := tb.store.Retry(tb.ctx, by, b.ID, at, exp, func(context.Context, broadcast.Broadcast) error {
		t.Error("a broadcast that is not FAILED started a workflow")
		return nil
	})
	require.NoError(t, err)
	require.False(t, again.Applied, "only a FAILED broadcast is retried")
	require.Equal(t, broadcast.StatusScheduled, again.Broadcast.Status)

	_, err = tb.store.Retry(tb.ctx, by, uuid.New(), at, exp, nil)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestRetryNeedsItsWorkflow: when the new run cannot start, nothing changes.
func TestRetryNeedsItsWorkflow(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, broadcast.StatusScheduled)
	failed, err := tb.store.Fail(tb.ctx, b.ID, "refused")
	require.NoError(t, err)
	down := errors.New("temporal unavailable")

	_, err = tb.store.Retry(tb.ctx, by, b.ID, *b.ScheduledAt, *b.ExpiresAt, func(context.Context, broadcast.Broadcast) error { return down })

	require.ErrorIs(t, err, down)
	after, err := tb.store.Get(tb.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, failed.Broadcast, after, "the broadcast is still FAILED, as it was")
	entries := tb.entries(t, b.ID)
	require.NotEqual(t, audit.ActionBroadcastRetry, entries[len(entries)-1].Action)
}

// The new run's publication starts while the retry's transaction is still
// open (the workflow is started before it commits): it waits for that
// commit and publishes, rather than reading the broadcast as still FAILED
// and ending the new run with it (a flaky TestRecoveryEndToEnd, 1 run in 10,
// found the batched publish doing so).
func TestPublishDuringTheRetryWaitsForIt(t *testing.T) {
	t.Parallel()
	for name, publish := range map[string]func(tb *testBundle) func(context.Context, uuid.UUID) (store.Result, error){
		"one statement": func(tb *testBundle) func(context.Context, uuid.UUID) (store.Result, error) { return tb.store.Publish },
		"batched": func(tb *testBundle) func(context.Context, uuid.UUID) (store.Result, error) {
			return store.NewPublishBatcher(tb.store).Publish
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			publishDuringTheRetry(t, publish)
		})
	}
}

func publishDuringTheRetry(t *testing.T, publisher func(tb *testBundle) func(context.Context, uuid.UUID) (store.Result, error)) {
	tb := setup(t)
	publish := publisher(tb)
	b := tb.insert(t, broadcast.StatusScheduled)
	_, err := tb.store.Fail(tb.ctx, b.ID, "Kafka refused the event")
	require.NoError(t, err)
	published := make(chan store.Result, 1)
	res, err := tb.store.Retry(tb.ctx, by, b.ID, time.Now().UTC(), b.ExpiresAt.Add(time.Hour), func(context.Context, broadcast.Broadcast) error {
		go func() {
			r, err := publish(tb.ctx, b.ID)
			if err != nil {
				t.Error(err)
			}
			published <- r
		}()
		time.Sleep(300 * time.Millisecond) // the run's first attempt comes before the commit
		return nil
	})
	require.NoError(t, err)
	require.True(t, res.Applied)
	p := <-published
	require.True(t, p.Applied, "published once the retry committed; it saw %s", p.Broadcast.Status)
	require.Equal(t, broadcast.StatusSent, p.Broadcast.Status)
}
