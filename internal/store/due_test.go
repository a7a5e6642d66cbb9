package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/store"
)

func TestApplyDueChangesOnlyWhatIsDueAndOnlyOnce(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	now := time.Now()
	overdue, _, err := tb.store.Insert(tb.ctx, by, scheduled(uuid.Must(uuid.NewV7()), now.Add(-time.Second)), []byte("h"), nil)
	require.NoError(t, err)
	ahead := tb.insert(t, broadcast.StatusScheduled) // due in an hour

	changed, err := tb.store.ApplyDue(tb.ctx, broadcast.OpPublish, []uuid.UUID{overdue.ID, ahead.ID})
	require.NoError(t, err)
	require.Len(t, changed, 1)
	require.Equal(t, overdue.ID, changed[0].ID)
	require.Equal(t, broadcast.StatusSent, changed[0].Status)

	again, err := tb.store.ApplyDue(tb.ctx, broadcast.OpPublish, []uuid.UUID{overdue.ID, ahead.ID})
	require.NoError(t, err)
	require.Empty(t, again, "done once; the other is not due")
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished}, tb.events(t, overdue.ID))
	require.Empty(t, tb.events(t, ahead.ID))

	pending, clock, err := tb.store.Pending(tb.ctx, broadcast.OpPublish, []uuid.UUID{overdue.ID, ahead.ID})
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, ahead.ID, pending[0].ID)
	require.True(t, pending[0].At.After(clock))
}

func TestApplyDueExpirySupersedesPendingDeliveries(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b, _, err := tb.store.Insert(tb.ctx, by, scheduled(uuid.Must(uuid.NewV7()), time.Now().Add(-2*time.Hour)), []byte("h"), nil)
	require.NoError(t, err)
	_, err = tb.store.Publish(tb.ctx, b.ID)
	require.NoError(t, err)
	_, err = tb.pool.Exec(tb.ctx, `UPDATE broadcasts SET expires_at = now() - interval '1 minute' WHERE id = $1`, b.ID)
	require.NoError(t, err)
	_, err = tb.pool.Exec(tb.ctx, `INSERT INTO deliveries (broadcast_id, user_id, status) VALUES ($1, 'u1', 'PENDING')`, b.ID)
	require.NoError(t, err)

	changed, err := tb.store.ApplyDue(tb.ctx, broadcast.OpExpire, []uuid.UUID{b.ID})
	require.NoError(t, err)
	require.Len(t, changed, 1)
	require.Equal(t, broadcast.StatusExpired, changed[0].Status)
	var status string
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT status FROM deliveries WHERE broadcast_id = $1`, b.ID).Scan(&status))
	require.Equal(t, "SUPERSEDED", status)
	require.Equal(t, []broadcast.EventType{broadcast.EventPublished, broadcast.EventExpired}, tb.events(t, b.ID))
}

// TestDueEventsContinueTheCreationTrace: an event recorded by a due
// dispatcher, which has no request of its own, carries the trace of the
// request that created the broadcast.
func TestDueEventsContinueTheCreationTrace(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b, _, err := tb.store.Insert(tb.ctx, by, scheduled(uuid.Must(uuid.NewV7()), time.Now().Add(-time.Second)), []byte("h"), nil)
	require.NoError(t, err)
	const trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	_, err = tb.pool.Exec(tb.ctx, `UPDATE broadcasts SET trace_context = $2 WHERE id = $1`, b.ID, trace)
	require.NoError(t, err)

	_, err = tb.store.ApplyDue(tb.ctx, broadcast.OpPublish, []uuid.UUID{b.ID})
	require.NoError(t, err)
	var got *string
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT trace_context FROM outbox WHERE broadcast_id = $1`, b.ID).Scan(&got))
	require.NotNil(t, got)
	require.Equal(t, trace, *got)
}

// TestDueBeforeCanUseThePartialIndexes: the statuses are written into the
// statement, so the planner may answer it from broadcasts_scheduled_due and
// broadcasts_sent_expiry instead of reading every broadcast.
func TestDueBeforeCanUseThePartialIndexes(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tx, err := tb.pool.Begin(tb.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(tb.ctx) }() // read only
	_, err = tx.Exec(tb.ctx, `SET LOCAL enable_seqscan = off`)
	require.NoError(t, err)
	rows, err := tx.Query(tb.ctx, "EXPLAIN "+store.DueBeforeSQL(), time.Now(), 100)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	plan := ""
	for _, l := range lines {
		plan += l + "\n"
	}
	require.Contains(t, plan, "broadcasts_scheduled_due", plan)
	require.Contains(t, plan, "broadcasts_sent_expiry", plan)
}

// TestApplyDueNeverRecordsATimeBeforeTheDueTime applies each broadcast the way
// the due dispatcher does, by a statement sent at the instant it falls due,
// give or take the clocks' difference: here from a millisecond early to the
// instant itself. The guard and the recorded times must read the same clock,
// so that a statement started just before scheduled_at cannot publish with
// published_at (and the event's occurred_at) before it.
func TestApplyDueNeverRecordsATimeBeforeTheDueTime(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const (
		n       = 40
		spacing = 10 * time.Millisecond
		early   = time.Millisecond / n
	)
	start := time.Now().Add(300 * time.Millisecond)
	ids := make([]uuid.UUID, n)
	for i := range n {
		b, _, err := tb.store.Insert(tb.ctx, by, scheduled(uuid.Must(uuid.NewV7()), start.Add(time.Duration(i)*spacing)), []byte("h"), nil)
		require.NoError(t, err)
		ids[i] = b.ID
	}
	for i, id := range ids {
		sendAt := start.Add(time.Duration(i)*spacing - time.Duration(i)*early)
		for time.Now().Before(sendAt) { // spin: a timer is not precise enough to aim at a microsecond
		}
		deadline := time.Now().Add(5 * time.Second)
		for applied := false; !applied; {
			require.True(t, time.Now().Before(deadline), "broadcast %d never fell due", i)
			changed, err := tb.store.ApplyDue(tb.ctx, broadcast.OpPublish, []uuid.UUID{id})
			require.NoError(t, err)
			applied = len(changed) == 1
		}
	}

	rows, err := tb.pool.Query(tb.ctx, `SELECT b.id, b.scheduled_at, b.published_at, o.occurred_at
		FROM broadcasts b JOIN outbox o ON o.broadcast_id = b.id AND o.event_type = $2
		WHERE b.id = ANY($1)`, ids, broadcast.EventPublished)
	require.NoError(t, err)
	type times struct {
		id                       uuid.UUID
		scheduled, published, ev time.Time
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (times, error) {
		var x times
		return x, r.Scan(&x.id, &x.scheduled, &x.published, &x.ev)
	})
	require.NoError(t, err)
	require.Len(t, got, n)
	for _, x := range got {
		require.False(t, x.published.Before(x.scheduled), "%s published %s before scheduled_at", x.id, x.scheduled.Sub(x.published))
		require.False(t, x.ev.Before(x.scheduled), "%s event occurred %s before scheduled_at", x.id, x.scheduled.Sub(x.ev))
	}
}
