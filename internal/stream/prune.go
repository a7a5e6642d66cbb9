package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// pruneSQL deletes at most $2 events older than $1 µs and records, per
// partition, the newest offset deleted, in one statement: a replay that
// sees the rows gone sees the mark too. SKIP LOCKED lets a prune run beside
// anything else that holds a row without waiting for it.
const pruneSQL = `
WITH doomed AS (
	SELECT kafka_partition, kafka_offset FROM stream_events
	WHERE occurred_at < now() - $1 * interval '1 microsecond'
	ORDER BY occurred_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), deleted AS (
	DELETE FROM stream_events e USING doomed d
	WHERE e.kafka_partition = d.kafka_partition AND e.kafka_offset = d.kafka_offset
	RETURNING e.kafka_partition, e.kafka_offset
), marked AS (
	INSERT INTO stream_events_pruned (kafka_partition, through_offset)
	SELECT kafka_partition, max(kafka_offset) FROM deleted GROUP BY kafka_partition
	ON CONFLICT (kafka_partition) DO UPDATE
		SET through_offset = GREATEST(stream_events_pruned.through_offset, excluded.through_offset)
)
SELECT count(*) FROM deleted`

// Querier is what PruneLog needs of a pool or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// PruneLog deletes at most limit events older than window from the stream
// log, oldest first, and returns how many it deleted. The log otherwise
// grows with every event forever; the maintenance run (internal/retention,
// on the workers' schedule) calls it in bounded batches with the replay
// window (CRIER_SSE_REPLAY_WINDOW) as the window.
//
// It keeps the log's contract with replay and the tail: in the statement
// that deletes, it records per partition the newest offset deleted in
// stream_events_pruned, so a stream whose position is below that mark is
// told to reload (reset) rather than replayed with a gap, and a tail whose
// partition has nothing left resumes after the mark. window must be
// positive: zero would delete the whole log.
func PruneLog(ctx context.Context, db Querier, window time.Duration, limit int) (int64, error) {
	if window <= 0 || limit <= 0 {
		return 0, fmt.Errorf("prune stream events: window %s and limit %d must be positive", window, limit)
	}
	var n int64
	if err := db.QueryRow(ctx, pruneSQL, window.Microseconds(), limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("prune stream events older than %s: %w", window, err)
	}
	return n, nil
}
