package due_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/audit"
	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/due"
	"github.com/crier/crier/internal/store"
	"github.com/crier/crier/internal/testenv"
)

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

// insert stores a scheduled broadcast due at at and expiring at exp.
func (tb *testBundle) insert(t *testing.T, at, exp time.Time) broadcast.Broadcast {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	at, exp = at.UTC(), exp.UTC()
	b, _, err := tb.store.Insert(tb.ctx, by, broadcast.Broadcast{
		ID: id, Status: broadcast.StatusScheduled, Sender: broadcast.Sender{ID: "a", Name: "A"}, Title: "t", Content: "c",
		Category: "general", Priority: broadcast.PriorityNormal, Target: broadcast.Target{Type: broadcast.TargetAll, IDs: []string{}},
		ScheduledAt: &at, ExpiresAt: &exp, WorkflowID: broadcast.WorkflowID(id),
	}, []byte("hash"), nil)
	require.NoError(t, err)
	return b
}

// run starts a dispatcher that reads often, until the test ends.
func (tb *testBundle) run(t *testing.T) {
	t.Helper()
	d, err := due.New(tb.store, due.Config{Every: 200 * time.Millisecond, Horizon: 3 * time.Second, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(tb.ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
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

// waitFor waits until every broadcast of ids has status.
func (tb *testBundle) waitFor(t *testing.T, status broadcast.Status, ids ...uuid.UUID) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, func() error {
		var n int
		if err := tb.pool.QueryRow(tb.ctx, `SELECT count(*) FROM broadcasts WHERE id = ANY($1) AND status = $2`,
			ids, status).Scan(&n); err != nil {
			return err
		}
		if n != len(ids) {
			return fmt.Errorf("%d of %d broadcasts are %s", n, len(ids), status)
		}
		return nil
	})
}

func TestDispatcherPublishesThenExpiresAtTheirTime(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	now := time.Now()
	b := tb.insert(t, now.Add(time.Second), now.Add(2*time.Second))
	tb.run(t)

	tb.waitFor(t, broadcast.StatusExpired, b.ID)
	got, err := tb.store.Get(tb.ctx, b.ID)
	require.NoError(t, err)
	require.False(t, got.PublishedAt.Before(*got.ScheduledAt), "never published before its time")
	require.False(t, got.ExpiredAt.Before(*got.ExpiresAt), "never expired before its time")
	t.Logf("published %s after scheduled_at, expired %s after expires_at",
		got.PublishedAt.Sub(*got.ScheduledAt), got.ExpiredAt.Sub(*got.ExpiresAt))
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventExpired}, tb.events(t, b.ID))
}

func TestDispatcherCatchesUpWhatIsOverdue(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	now := time.Now()
	// Fell due while no dispatcher ran (an outage, every worker down).
	overdue := tb.insert(t, now.Add(-time.Minute), now.Add(time.Hour))
	expired := tb.insert(t, now.Add(-2*time.Minute), now.Add(-time.Minute))
	_, err := tb.store.Publish(tb.ctx, expired.ID)
	require.NoError(t, err)
	tb.run(t)

	tb.waitFor(t, broadcast.StatusSent, overdue.ID)
	tb.waitFor(t, broadcast.StatusExpired, expired.ID)
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished}, tb.events(t, overdue.ID))
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventExpired}, tb.events(t, expired.ID))
}

func TestDispatcherFollowsCancelAndReschedule(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	now := time.Now()
	at := now.Add(1500 * time.Millisecond)
	cancelled := tb.insert(t, at, now.Add(time.Hour))
	moved := tb.insert(t, at, now.Add(time.Hour))
	ahead := tb.insert(t, now.Add(time.Hour), now.Add(2*time.Hour))
	tb.run(t)

	// Loaded by the dispatcher's first read, then changed before their time.
	time.Sleep(400 * time.Millisecond) // lets the dispatcher load them first: that is the case under test
	_, err := tb.store.Cancel(tb.ctx, by, cancelled.ID)
	require.NoError(t, err)
	later := at.Add(time.Second).UTC()
	_, err = tb.store.Reschedule(tb.ctx, by, moved.ID, &later, nil)
	require.NoError(t, err)
	earlier := now.Add(time.Second).UTC()
	_, err = tb.store.Reschedule(tb.ctx, by, ahead.ID, &earlier, nil)
	require.NoError(t, err)

	tb.waitFor(t, broadcast.StatusSent, moved.ID, ahead.ID)
	for id, at := range map[uuid.UUID]time.Time{moved.ID: later, ahead.ID: earlier} {
		got, err := tb.store.Get(tb.ctx, id)
		require.NoError(t, err)
		require.False(t, got.PublishedAt.Before(at), "published at its new time, not before")
	}
	got, err := tb.store.Get(tb.ctx, cancelled.ID)
	require.NoError(t, err)
	require.Equal(t, broadcast.StatusCancelled, got.Status)
	require.Empty(t, tb.events(t, cancelled.ID), "a broadcast cancelled before its time is never published")
}

func TestDispatchersShareABurstAndApplyEachOnce(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	at := time.Now().Add(1500 * time.Millisecond)
	ids := make([]uuid.UUID, 300)
	for i := range ids {
		ids[i] = tb.insert(t, at, at.Add(time.Hour)).ID
	}
	for range 3 { // three workers
		tb.run(t)
	}
	// and each broadcast's own workflow, publishing as a worker would
	for _, id := range ids[:50] {
		go func() {
			for time.Now().Before(at) {
				time.Sleep(10 * time.Millisecond) // the workflow's timer, firing at the due time
			}
			_, _ = tb.store.Publish(tb.ctx, id) // the test reads the outcome from the database
		}()
	}

	tb.waitFor(t, broadcast.StatusSent, ids...)
	var events, distinct int
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT count(*), count(DISTINCT broadcast_id) FROM outbox
		WHERE event_type = 'BROADCAST_PUBLISHED'`).Scan(&events, &distinct))
	require.Equal(t, len(ids), distinct)
	require.Equal(t, len(ids), events, "one publication event per broadcast, however many raced for it")
}

func TestDispatcherWaitsForARowAnotherTransactionHolds(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	at := time.Now().Add(time.Second)
	b := tb.insert(t, at, at.Add(time.Hour))
	// A transaction that holds the row across the due time, as a slow
	// cancel or a workflow's own publish would, then lets go unchanged.
	tx, err := tb.pool.Begin(tb.ctx)
	require.NoError(t, err)
	_, err = tx.Exec(tb.ctx, `SELECT 1 FROM broadcasts WHERE id = $1 FOR UPDATE`, b.ID)
	require.NoError(t, err)
	tb.run(t)
	time.Sleep(time.Until(at) + 500*time.Millisecond) // holds the lock past the due time: the case under test
	got, err := tb.store.Get(tb.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, broadcast.StatusScheduled, got.Status, "held: not changed under the lock")
	require.NoError(t, tx.Rollback(tb.ctx))

	tb.waitFor(t, broadcast.StatusSent, b.ID)
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished}, tb.events(t, b.ID))
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]due.Config{
		"reads too often":          {Every: time.Millisecond},
		"horizon within one read":  {Every: time.Second, Horizon: time.Second},
		"negative batch":           {BatchSize: -1},
		"negative parallel":        {Parallel: -1},
		"negative limit of a read": {Limit: -1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := due.New(nil, cfg)
			require.Error(t, err)
		})
	}
}
