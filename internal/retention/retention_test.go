package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crier/crier/internal/broadcast"
	"github.com/crier/crier/internal/retention"
	"github.com/crier/crier/internal/testenv"
)

type testBundle struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	pruner *retention.Pruner
}

func setup(t *testing.T, cfg retention.Config) *testBundle {
	t.Helper()
	pool := testenv.Pool(t)
	p, err := retention.New(pool, cfg)
	require.NoError(t, err)
	return &testBundle{ctx: context.Background(), pool: pool, pruner: p}
}

func (tb *testBundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := tb.pool.Exec(tb.ctx, sql, args...)
	require.NoError(t, err)
}

func (tb *testBundle) strings(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	rows, err := tb.pool.Query(tb.ctx, sql, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func (tb *testBundle) prune(t *testing.T, table retention.Table, horizon time.Duration) retention.Result {
	t.Helper()
	res, err := tb.pruner.Prune(tb.ctx, table, horizon)
	require.NoError(t, err)
	return res
}

// Published rows older than the horizon go; younger ones stay, and so does
// every row not yet written to Kafka, pending or failed, whatever its age.
func TestPruneOutbox(t *testing.T) {
	t.Parallel()
	tb := setup(t, retention.Config{})
	tb.exec(t, `
		INSERT INTO outbox (event_type, broadcast_id, occurred_at, snapshot, published_at, failed_at, last_error) VALUES
		('old published',   gen_random_uuid(), now() - interval '3 days', '{}', now() - interval '2 days', NULL, NULL),
		('older published', gen_random_uuid(), now() - interval '9 days', '{}', now() - interval '8 days', NULL, NULL),
		('young published', gen_random_uuid(), now() - interval '1 hour', '{}', now() - interval '1 hour', NULL, NULL),
		('old pending',     gen_random_uuid(), now() - interval '90 days', '{}', NULL, NULL, NULL),
		('old failed',      gen_random_uuid(), now() - interval '90 days', '{}', NULL, now() - interval '89 days', 'refused')`)

	res := tb.prune(t, retention.Outbox, 24*time.Hour)

	require.Equal(t, retention.Result{Deleted: 2}, res)
	require.ElementsMatch(t, []string{"young published", "old pending", "old failed"}, tb.strings(t, `SELECT event_type FROM outbox`))
	require.Zero(t, tb.prune(t, retention.Outbox, 24*time.Hour).Deleted, "a second run finds nothing")
}

func TestPruneProcessedEvents(t *testing.T) {
	t.Parallel()
	tb := setup(t, retention.Config{})
	tb.exec(t, `
		INSERT INTO processed_events (consumer, event_id, processed_at) VALUES
		('old', gen_random_uuid(), now() - interval '15 days'),
		('old', gen_random_uuid(), now() - interval '400 days'),
		('young', gen_random_uuid(), now() - interval '13 days'),
		('young', gen_random_uuid(), now())`)

	res := tb.prune(t, retention.ProcessedEvents, 14*24*time.Hour)

	require.Equal(t, retention.Result{Deleted: 2}, res)
	require.Equal(t, []string{"young", "young"}, tb.strings(t, `SELECT consumer FROM processed_events`))
}

// addBroadcast stores a broadcast in status whose last transition was ago,
// with a delivery row for each user.
func (tb *testBundle) addBroadcast(t *testing.T, status broadcast.Status, ago time.Duration, users ...string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	tb.exec(t, `
		INSERT INTO broadcasts (id, status, sender_id, sender_name, title, content, category, priority, target_type, target_ids,
			scheduled_at, expires_at, created_at, updated_at, workflow_id)
		VALUES ($1, $2, 'admin', 'Admin', $3, 'c', 'general', 'NORMAL', 'SELECTED', $4,
			now() - $5 * interval '1 microsecond' - interval '1 hour', now() + interval '1 day',
			now() - $5 * interval '1 microsecond' - interval '1 hour', now() - $5 * interval '1 microsecond', $6)`,
		id, status, fmt.Sprintf("%s %s ago", status, ago), users, ago.Microseconds(), broadcast.WorkflowID(id))
	tb.exec(t, `INSERT INTO deliveries (broadcast_id, user_id, status) SELECT $1, u, 'DELIVERED' FROM unnest($2::text[]) AS u`, id, users)
	return id
}

// Deliveries go with broadcasts that ended (expired or cancelled) longer ago
// than the horizon; those of broadcasts that ended since, and of every
// broadcast still live, stay whatever their age.
func TestPruneDeliveries(t *testing.T) {
	t.Parallel()
	tb := setup(t, retention.Config{})
	const horizon = 90 * 24 * time.Hour
	old := horizon + 24*time.Hour
	tb.addBroadcast(t, broadcast.StatusExpired, old, "u1", "u2", "u3")
	tb.addBroadcast(t, broadcast.StatusCancelled, 2*old, "u1")
	expiredLately := tb.addBroadcast(t, broadcast.StatusExpired, horizon-24*time.Hour, "u1", "u2")
	sentLongAgo := tb.addBroadcast(t, broadcast.StatusSent, old, "u1", "u2")
	scheduled := tb.addBroadcast(t, broadcast.StatusScheduled, old, "u4")

	res := tb.prune(t, retention.Deliveries, horizon)

	require.Equal(t, retention.Result{Deleted: 4}, res)
	require.ElementsMatch(t, []string{
		expiredLately.String(), expiredLately.String(), sentLongAgo.String(), sentLongAgo.String(), scheduled.String(),
	}, tb.strings(t, `SELECT broadcast_id::text FROM deliveries`))
	var broadcasts int
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT count(*) FROM broadcasts`).Scan(&broadcasts))
	require.Equal(t, 5, broadcasts, "the broadcasts themselves stay")
	var behind time.Duration
	require.NoError(t, tb.pool.QueryRow(tb.ctx, `SELECT EXTRACT(EPOCH FROM now() - through)::float8 * interval '1 second'
		FROM retention_marks WHERE name = 'deliveries'`).Scan(&behind))
	require.InDelta(t, horizon.Hours(), behind.Hours(), 1, "the mark is at the cutoff: later runs look at what ended since")
}

// A broadcast that ends after a run is deleted by the first run after it
// has been over for the horizon, though the mark passed its start long ago.
func TestPruneDeliveriesOfABroadcastThatEndsLater(t *testing.T) {
	t.Parallel()
	tb := setup(t, retention.Config{})
	const horizon = 300 * time.Millisecond
	live := tb.addBroadcast(t, broadcast.StatusSent, time.Hour, "u1", "u2")
	require.Zero(t, tb.prune(t, retention.Deliveries, horizon).Deleted, "live: its deliveries stay")
	tb.exec(t, `UPDATE broadcasts SET status = 'EXPIRED', expired_at = now(), updated_at = now() WHERE id = $1`, live)

	testenv.Eventually(t, 10*time.Second, func() error {
		if n := tb.prune(t, retention.Deliveries, horizon).Deleted; n != 2 {
			return fmt.Errorf("deleted %d", n)
		}
		return nil
	})
	require.Empty(t, tb.strings(t, `SELECT user_id FROM deliveries`))
}

// The stream log past the window goes, with the marks replay and the tail
// read (stream.PruneLog).
func TestPruneStreamEvents(t *testing.T) {
	t.Parallel()
	tb := setup(t, retention.Config{})
	tb.exec(t, `
		INSERT INTO stream_events (kafka_partition, kafka_offset, event_id, event_type, broadcast_id, occurred_at, payload)
		SELECT p, o, gen_random_uuid(), 'BROADCAST_PUBLISHED', gen_random_uuid(), now() - (10 - o) * interval '1 hour', '{}'
		FROM generate_series(0, 1) AS p, generate_series(0, 9) AS o`)

	res := tb.prune(t, retention.StreamEvents, 5*time.Hour+30*time.Minute)

	require.Equal(t, retention.Result{Deleted: 10}, res, "offsets 0 to 4 of each partition, 10 to 6 hours old")
	require.Equal(t, []string{"0:4", "1:4"},
		tb.strings(t, `SELECT kafka_partition || ':' || through_offset FROM stream_events_pruned ORDER BY 1`))
}

// A backlog larger than a run's bound is deleted over several runs, each
// bounded, each saying whether more is left; the rows within the horizon
// are never among them.
func TestPruneBacklogOverSeveralRuns(t *testing.T) {
	t.Parallel()
	tb := setup(t, retention.Config{BatchSize: 100, MaxBatches: 2})
	tb.exec(t, `
		INSERT INTO processed_events (consumer, event_id, processed_at)
		SELECT 'old', gen_random_uuid(), now() - interval '30 days' - i * interval '1 second' FROM generate_series(1, 450) AS i`)
	tb.exec(t, `
		INSERT INTO processed_events (consumer, event_id, processed_at)
		SELECT 'young', gen_random_uuid(), now() - i * interval '1 second' FROM generate_series(1, 30) AS i`)

	var runs []retention.Result
	for {
		res := tb.prune(t, retention.ProcessedEvents, 24*time.Hour)
		runs = append(runs, res)
		if !res.More {
			break
		}
		require.Less(t, len(runs), 10, "the backlog never ends")
	}

	require.Equal(t, []retention.Result{{Deleted: 200, More: true}, {Deleted: 200, More: true}, {Deleted: 50}}, runs)
	require.Len(t, tb.strings(t, `SELECT consumer FROM processed_events WHERE consumer = 'young'`), 30)
	require.Empty(t, tb.strings(t, `SELECT consumer FROM processed_events WHERE consumer = 'old'`))
}

func TestPruneRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	tb := setup(t, retention.Config{})
	_, err := tb.pruner.Prune(tb.ctx, "audit_log", time.Hour)
	require.ErrorIs(t, err, retention.ErrUnknownTable, "the audit log is append-only: no retention")
	for _, h := range []time.Duration{0, -time.Hour} {
		_, err = tb.pruner.Prune(tb.ctx, retention.Outbox, h)
		require.ErrorContains(t, err, "must be positive", "a horizon of %s would delete every published row", h)
	}
	_, err = retention.New(tb.pool, retention.Config{BatchSize: -1})
	require.ErrorContains(t, err, "positive bounds")
}
