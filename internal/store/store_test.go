package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

// by is who the tests' changes are recorded as made by in the audit log.
var by = audit.Origin{Actor: audit.Actor{ID: "admin-1", Name: "Ada Admin", Roles: []string{"admin"}}, RequestID: "req-1"}

type testBundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *store.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testenv.Pool(t)
	return &testBundle{ctx: context.Background(), pool: pool, store: store.New(pool)}
}

// insert stores a broadcast in the given status, due in an hour.
func (tb *testBundle) insert(t *testing.T, status broadcast.Status) broadcast.Broadcast {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	at := time.Now().Add(time.Hour).UTC()
	exp := at.Add(time.Hour)
	b, created, err := tb.store.Insert(tb.ctx, by, broadcast.Broadcast{
		ID: id, Status: status, Sender: broadcast.Sender{ID: "alice", Name: "Alice"},
		Title: "Maintenance", Content: "Tonight at 22:00", Category: "ops", Priority: broadcast.PriorityHigh,
		Target:      broadcast.Target{Type: broadcast.TargetRole, IDs: []string{"ops"}},
		ScheduledAt: &at, ExpiresAt: &exp, WorkflowID: broadcast.WorkflowID(id),
	}, []byte("hash"), nil)
	require.NoError(t, err)
	require.True(t, created)
	return b
}

// events lists the outbox event types recorded for id, oldest first.
func (tb *testBundle) events(t *testing.T, id uuid.UUID) []broadcast.EventType {
	t.Helper()
	rows, err := tb.pool.Query(tb.ctx, `SELECT event_type FROM outbox WHERE broadcast_id = $1 ORDER BY id`, id)
	require.NoError(t, err)
	types, err := pgx.CollectRows(rows, pgx.RowTo[broadcast.EventType])
	require.NoError(t, err)
	return types
}

// scheduled is a minimal broadcast due at at, expiring an hour later.
func scheduled(id uuid.UUID, at time.Time) broadcast.Broadcast {
	exp := at.Add(time.Hour)
	return broadcast.Broadcast{
		ID: id, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "a", Name: "a"}, Title: "t", Content: "c",
		Category: "general", Priority: broadcast.PriorityNormal, Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}},
		ScheduledAt: &at, ExpiresAt: &exp, WorkflowID: broadcast.WorkflowID(id),
	}
}

func TestTransitionsMoveOnlyForward(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, broadcast.StatusScheduled)
	later := time.Now().Add(3 * time.Hour)

	res, err := tb.store.Expire(tb.ctx, b.ID)
	require.NoError(t, err)
	require.False(t, res.Applied, "an unpublished broadcast cannot expire")

	res, err = tb.store.Publish(tb.ctx, b.ID)
	require.NoError(t, err)
	require.True(t, res.Applied)
	require.Equal(t, broadcast.StatusSent, res.Broadcast.Status)
	require.NotNil(t, res.Broadcast.PublishedAt)

	res, err = tb.store.Publish(tb.ctx, b.ID)
	require.NoError(t, err)
	require.False(t, res.Applied, "a retried publish changes nothing")

	res, err = tb.store.Reschedule(tb.ctx, by, b.ID, &later, nil)
	require.NoError(t, err)
	require.False(t, res.Applied, "scheduled_at cannot change after publication")

	res, err = tb.store.Reschedule(tb.ctx, by, b.ID, nil, &later)
	require.NoError(t, err)
	require.True(t, res.Applied, "expires_at can change until expiry")
	require.WithinDuration(t, later, *res.Broadcast.ExpiresAt, time.Millisecond)

	res, err = tb.store.Expire(tb.ctx, b.ID)
	require.NoError(t, err)
	require.True(t, res.Applied)
	require.Equal(t, broadcast.StatusExpired, res.Broadcast.Status)
	require.NotNil(t, res.Broadcast.ExpiredAt)

	for name, change := range map[string]func() (store.Result, error){
		"publish":    func() (store.Result, error) { return tb.store.Publish(tb.ctx, b.ID) },
		"cancel":     func() (store.Result, error) { return tb.store.Cancel(tb.ctx, by, b.ID) },
		"expire":     func() (store.Result, error) { return tb.store.Expire(tb.ctx, b.ID) },
		"reschedule": func() (store.Result, error) { return tb.store.Reschedule(tb.ctx, by, b.ID, nil, &later) },
		"fail":       func() (store.Result, error) { return tb.store.Fail(tb.ctx, b.ID, "late") },
	} {
		res, err := change()
		require.NoError(t, err, name)
		require.False(t, res.Applied, "%s must not leave EXPIRED", name)
		require.Equal(t, broadcast.StatusExpired, res.Broadcast.Status, name)
	}
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventRescheduled, broadcast.EventExpired}, tb.events(t, b.ID))
}

func TestCancelRetractsOnlyWhatWasPublished(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	unpublished := tb.insert(t, broadcast.StatusScheduled)
	res, err := tb.store.Cancel(tb.ctx, by, unpublished.ID)
	require.NoError(t, err)
	require.True(t, res.Applied)
	require.Equal(t, broadcast.StatusCancelled, res.Broadcast.Status)
	require.NotNil(t, res.Broadcast.CancelledAt)
	require.Empty(t, tb.events(t, unpublished.ID))

	published := tb.insert(t, broadcast.StatusScheduled)
	_, err = tb.store.Publish(tb.ctx, published.ID)
	require.NoError(t, err)
	_, err = tb.pool.Exec(tb.ctx, `INSERT INTO deliveries (broadcast_id, user_id) VALUES ($1, 'bob')`, published.ID)
	require.NoError(t, err)
	res, err = tb.store.Cancel(tb.ctx, by, published.ID)
	require.NoError(t, err)
	require.True(t, res.Applied)
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventCancelled}, tb.events(t, published.ID))
	var delivery string
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT status FROM deliveries WHERE broadcast_id = $1`, published.ID).Scan(&delivery))
	require.Equal(t, "SUPERSEDED", delivery)
}

// A cancel racing a publish ends CANCELLED either way, and a publication
// that won the race is always followed by its retraction.
func TestCancelRacingPublish(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for range 30 {
		b := tb.insert(t, broadcast.StatusScheduled)
		var (
			wg                    sync.WaitGroup
			publishErr, cancelErr error
		)
		wg.Go(func() { _, publishErr = tb.store.Publish(tb.ctx, b.ID) })
		wg.Go(func() { _, cancelErr = tb.store.Cancel(tb.ctx, by, b.ID) })
		wg.Wait()
		require.NoError(t, publishErr)
		require.NoError(t, cancelErr)

		got, err := tb.store.Get(tb.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, broadcast.StatusCancelled, got.Status)
		events := tb.events(t, b.ID)
		if len(events) > 0 {
			require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventCancelled}, events)
		}
	}
}

func TestInsertIsIdempotent(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, broadcast.StatusScheduled)

	again, created, err := tb.store.Insert(tb.ctx, by, b, []byte("hash"), nil)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, b.ID, again.ID)

	_, _, err = tb.store.Insert(tb.ctx, by, b, []byte("other"), nil)
	require.ErrorIs(t, err, store.ErrIdempotencyMismatch)
}

func TestInsertLeavesNothingWhenBeforeCommitFails(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	id := uuid.New()
	at := time.Now().Add(time.Hour)
	boom := errors.New("temporal down")

	_, _, err := tb.store.Insert(tb.ctx, by, scheduled(id, at), nil, func(context.Context, broadcast.Broadcast) error { return boom })

	require.ErrorIs(t, err, boom)
	_, err = tb.store.Get(tb.ctx, id)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// The workflow starts inside the creating transaction, so for a broadcast
// sent at once its publish may run before the row commits: it must wait for
// the commit, not give up.
func TestPublishWaitsForTheCreatingTransaction(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	id := uuid.New()
	now := time.Now()
	type answer struct {
		res store.Result
		err error
	}
	published := make(chan answer, 1)

	_, _, err := tb.store.Insert(tb.ctx, by, scheduled(id, now), nil, func(context.Context, broadcast.Broadcast) error {
		go func() {
			res, err := tb.store.Publish(tb.ctx, id)
			published <- answer{res, err}
		}()
		// Commit only once the publish, finding no row, waits on the lock.
		testenv.Eventually(t, 10*time.Second, func() error {
			var waiting bool
			err := tb.pool.QueryRow(tb.ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)`).Scan(&waiting)
			if err == nil && !waiting {
				err = errors.New("publish is not waiting on the advisory lock yet")
			}
			return err
		})
		return nil
	})
	require.NoError(t, err)

	got := <-published
	require.NoError(t, got.err)
	require.True(t, got.res.Applied)
	require.Equal(t, broadcast.StatusSent, got.res.Broadcast.Status)
}

func TestPublishOfAnUncommittedBroadcastReportsNotFound(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	_, err := tb.store.Publish(tb.ctx, uuid.New())
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestListPagesNewestFirst(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var ids []uuid.UUID
	for range 5 {
		ids = append(ids, tb.insert(t, broadcast.StatusScheduled).ID)
	}
	_, err := tb.store.Cancel(tb.ctx, by, ids[0])
	require.NoError(t, err)

	var seen []uuid.UUID
	cursor := ""
	for {
		page, next, err := tb.store.List(tb.ctx, store.ListParams{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		for _, b := range page {
			seen = append(seen, b.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, []uuid.UUID{ids[4], ids[3], ids[2], ids[1], ids[0]}, seen)

	cancelled, _, err := tb.store.List(tb.ctx, store.ListParams{Statuses: []broadcast.Status{broadcast.StatusCancelled}})
	require.NoError(t, err)
	require.Len(t, cancelled, 1)
	require.Equal(t, ids[0], cancelled[0].ID)

	_, _, err = tb.store.List(tb.ctx, store.ListParams{Cursor: "not-a-cursor"})
	require.ErrorIs(t, err, store.ErrBadCursor)
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.insert(t, broadcast.StatusScheduled)
	res, err := tb.store.Publish(tb.ctx, b.ID)
	require.NoError(t, err)

	var raw string
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT snapshot::text FROM outbox WHERE broadcast_id = $1`, b.ID).Scan(&raw))
	decoded, err := store.DecodeSnapshot([]byte(raw))
	require.NoError(t, err)
	require.Equal(t, res.Broadcast, decoded, "the event carries the broadcast exactly as the API shows it")
}
