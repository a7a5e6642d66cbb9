package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

// A burst of concurrent publishes through the batcher publishes each
// broadcast exactly once, with one event each, and answers every call as
// Store.Publish would, whatever batch it landed in.
func TestPublishBatcherPublishesEachOnce(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	p := store.NewPublishBatcher(tb.store)

	const n = 300
	bs := make([]broadcast.Broadcast, n)
	for i := range bs {
		bs[i] = tb.insert(t, broadcast.StatusScheduled)
	}
	cancelled := bs[0]
	_, err := tb.store.Cancel(tb.ctx, by, cancelled.ID)
	require.NoError(t, err)

	type answer struct {
		res store.Result
		err error
	}
	// Every broadcast is asked for twice at once (as a retry racing its
	// first attempt would), plus one that does not exist.
	answers := make([][2]answer, n)
	missing := make(chan error, 1)
	var wg sync.WaitGroup
	for i := range bs {
		for j := range 2 {
			wg.Go(func() {
				res, err := p.Publish(tb.ctx, bs[i].ID)
				answers[i][j] = answer{res, err}
			})
		}
	}
	wg.Go(func() {
		_, err := p.Publish(tb.ctx, uuid.Must(uuid.NewV7()))
		missing <- err
	})
	wg.Wait()

	require.ErrorIs(t, <-missing, store.ErrNotFound)
	for i, b := range bs {
		a := answers[i]
		require.NoError(t, a[0].err)
		require.NoError(t, a[1].err)
		if b.ID == cancelled.ID {
			require.False(t, a[0].res.Applied || a[1].res.Applied, "a cancelled broadcast is never published")
			require.Equal(t, broadcast.StatusCancelled, a[0].res.Broadcast.Status)
			require.Empty(t, tb.events(t, b.ID))
			continue
		}
		require.NotEqual(t, a[0].res.Applied, a[1].res.Applied, "exactly one of two calls reports the publication")
		for _, x := range a {
			require.Equal(t, broadcast.StatusSent, x.res.Broadcast.Status)
			require.NotNil(t, x.res.Broadcast.PublishedAt)
		}
		require.Equal(t, []broadcast.EventType{broadcast.EventPublished}, tb.events(t, b.ID))
	}
}

// A call whose context ends while it waits returns at once; the broadcast
// is published by its batch or by the retry.
func TestPublishBatcherHonoursTheCallersContext(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	p := store.NewPublishBatcher(tb.store)
	b := tb.insert(t, broadcast.StatusScheduled)

	ctx, cancel := context.WithCancel(tb.ctx)
	cancel()
	_, err := p.Publish(ctx, b.ID)
	require.ErrorIs(t, err, context.Canceled)

	res, err := p.Publish(tb.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, broadcast.StatusSent, res.Broadcast.Status)
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished}, tb.events(t, b.ID))
}
